import DICOM
import Foundation
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// Region growing on the sample CT, against the figures of InVesalius and SimpleITK.
@Suite struct SampleCTGrowingTests {
    static let volume: AnyVolume = {
        let report = DicomLoader().load([Fixtures.sampleCT.path])
        return report.series[0].volume
    }()

    /// A voxel of the skull (1624 HU), the seed SimpleITK's figures were taken from.
    static let skull = Seed.voxel(SIMD3(179, 92, 80))

    static func count(_ mask: Volume<UInt8>) -> Int { mask.voxels.reduce(0) { $0 + Int($1) } }

    @Test(arguments: [(Connectivity.six, 432_593), (.twentySix, 432_952)])
    func connectedThresholdMatchesSimpleITK(connectivity: Connectivity, expected: Int) throws {
        let result = try RegionGrowing(connectivity: connectivity)
            .grow(Self.volume, seeds: [Self.skull], criterion: .interval(lower: 226, upper: 3071))
        #expect(result.voxelCount == expected)
        #expect(Self.count(result.mask) == expected)
        #expect(abs(result.volumeML - Double(expected) * 0.9570312 * 0.9570312 * 1.5 / 1000) < 1e-6)
    }

    @Test(arguments: Connectivity.allCases)
    func oneAndTwoThreadsGiveTheSameMask(connectivity: Connectivity) throws {
        let one = try RegionGrowing(connectivity: connectivity, threads: 1)
            .grow(Self.volume, seeds: [Self.skull], criterion: .interval(lower: 226, upper: 3071))
        let two = try RegionGrowing(connectivity: connectivity, threads: 2)
            .grow(Self.volume, seeds: [Self.skull], criterion: .interval(lower: 226, upper: 3071))
        let five = try RegionGrowing(connectivity: connectivity, threads: 5)
            .grow(Self.volume, seeds: [Self.skull], criterion: .interval(lower: 226, upper: 3071))
        #expect(one.mask.voxels == two.mask.voxels)
        #expect(one.mask.voxels == five.mask.voxels)
    }
}
