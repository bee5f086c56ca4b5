@testable import Segmentation
import Testing
import VolumeCore

/// Small volumes drawn by hand: connectivity, several seeds, limits, masks and refusals.
@Suite struct GrowingCasesTests {
    /// A 6×5×4 volume of 0 with the listed voxels set to 100.
    static func volume(_ bright: [SIMD3<Int>], dimensions: SIMD3<Int> = SIMD3(6, 5, 4)) -> AnyVolume {
        var v = Volume<Int16>(geometry: VolumeGeometry(dimensions: dimensions, spacing: SIMD3(1, 2, 3)), filledWith: 0)
        for p in bright { v[p.x, p.y, p.z] = 100 }
        return .int16(v)
    }

    static func grow(_ volume: AnyVolume, _ seeds: [Seed], _ connectivity: Connectivity = .six,
                     limits: GrowthLimits = GrowthLimits(), threads: Int = 2) throws -> GrowthResult {
        try RegionGrowing(connectivity: connectivity, limits: limits, threads: threads)
            .grow(volume, seeds: seeds, criterion: .interval(lower: 50, upper: 150))
    }

    @Test func edgeAndCornerContactsFollowTheConnectivity() throws {
        // (1,1,1) touches (2,2,1) along an edge; (3,3,2) touches (2,2,1) only at a corner.
        let v = Self.volume([SIMD3(1, 1, 1), SIMD3(2, 2, 1), SIMD3(3, 3, 2)])
        let seed = [Seed.voxel(SIMD3(1, 1, 1))]
        #expect(try Self.grow(v, seed, .six).voxelCount == 1)
        #expect(try Self.grow(v, seed, .eighteen).voxelCount == 2)
        #expect(try Self.grow(v, seed, .twentySix).voxelCount == 3)
    }

    @Test func runsAlongXAndAcrossSlicesJoin() throws {
        // An L: a run along x in slice 0, then a column up through the slices.
        let v = Self.volume([SIMD3(0, 0, 0), SIMD3(1, 0, 0), SIMD3(2, 0, 0), SIMD3(2, 0, 1), SIMD3(2, 0, 2), SIMD3(2, 1, 2),
                             SIMD3(5, 4, 3)])
        let result = try Self.grow(v, [.voxel(SIMD3(0, 0, 0))])
        #expect(result.voxelCount == 6)
        #expect(result.mask[5, 4, 3] == 0 && result.mask[2, 1, 2] == 1)
        #expect(abs(result.volumeML - 6.0 * 6 / 1000) < 1e-12)
        let both = try Self.grow(v, [.voxel(SIMD3(0, 0, 0)), .voxel(SIMD3(5, 4, 3))])
        #expect(both.voxelCount == 7)
    }

    @Test func patientSeedsGoToTheNearestVoxel() throws {
        let v = Self.volume([SIMD3(3, 2, 1), SIMD3(4, 2, 1)])
        let result = try Self.grow(v, [.patient(SIMD3(3.2, 3.9, 3.4))])  // spacing 1, 2, 3 mm
        #expect(result.seeds.first?.index == SIMD3(3, 2, 1))
        #expect(result.seeds.first?.patient == SIMD3(3, 4, 3))
        #expect(result.voxelCount == 2)
    }

    @Test func theVolumeLimitStopsWholeWaves() throws {
        // A 20-voxel row in each of 4 slices, joined through the slices: waves of 20 voxels.
        let cells = (0..<4).flatMap { z in (0..<20).map { SIMD3(Int($0), 2, z) } }
        let v = Self.volume(cells, dimensions: SIMD3(20, 5, 4))
        let limit = GrowthLimits(maxVolumeML: 50 * 6 / 1000.0)  // 50 voxels of 6 mm³
        let result = try Self.grow(v, [.voxel(SIMD3(0, 2, 0))], limits: limit)
        #expect(result.stoppedByVolumeLimit)
        #expect(result.voxelCount == 40)
        #expect(result.warnings.first?.code == .volumeLimitWaves && result.warnings.first?.text.contains("volume limit") == true)
        let one = try Self.grow(v, [.voxel(SIMD3(0, 2, 0))], limits: limit, threads: 1)
        #expect(one.mask.voxels == result.mask.voxels)
    }

    @Test func theDistanceLimitKeepsASphere() throws {
        let cells = (0..<20).map { SIMD3($0, 0, 0) }
        let v = Self.volume(cells, dimensions: SIMD3(20, 1, 1))
        let result = try Self.grow(v, [.voxel(SIMD3(10, 0, 0))], limits: GrowthLimits(maxDistanceMM: 3.5))
        #expect(result.voxelCount == 7)  // x = 7…13
        #expect(result.mask[6, 0, 0] == 0 && result.mask[7, 0, 0] == 1 && result.mask[13, 0, 0] == 1)
    }

    @Test func aMaskRestrictsTheRegion() throws {
        let cells = (0..<6).map { SIMD3($0, 0, 0) }
        let v = Self.volume(cells)
        var mask = Volume<UInt8>(geometry: v.geometry, filledWith: 1)
        mask[3, 0, 0] = 0
        let result = try RegionGrowing().grow(v, seeds: [.voxel(SIMD3(0, 0, 0))],
                                              criterion: .intervalInMask(lower: 50, upper: 150, mask: mask))
        #expect(result.voxelCount == 3)
    }

    @Test func badRequestsAreRefusedByName() throws {
        let v = Self.volume([SIMD3(1, 1, 1)])
        #expect(throws: SegmentationError.noSeeds) { try Self.grow(v, []) }
        #expect(throws: SegmentationError.seedOutsideVolume(seed: "voxel (9, 1, 1)", dimensions: SIMD3(6, 5, 4))) {
            try Self.grow(v, [.voxel(SIMD3(9, 1, 1))])
        }
        #expect(throws: SegmentationError.seedOutsideInterval(seed: "voxel (0, 0, 0)", value: 0, lower: 50, upper: 150)) {
            try Self.grow(v, [.voxel(SIMD3(0, 0, 0))])
        }
        #expect(throws: SegmentationError.emptyInterval(lower: 10, upper: 5)) {
            try RegionGrowing().grow(v, seeds: [.voxel(SIMD3(1, 1, 1))], criterion: .interval(lower: 10, upper: 5))
        }
        let wrongGrid = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(2, 2, 2)), filledWith: 1)
        #expect(throws: SegmentationError.self) {
            try RegionGrowing().grow(v, seeds: [.voxel(SIMD3(1, 1, 1))],
                                     criterion: .intervalInMask(lower: 50, upper: 150, mask: wrongGrid))
        }
        let message = SegmentationError.seedOutsideInterval(seed: "voxel (0, 0, 0)", value: -1000, lower: 226, upper: 3071)
        #expect(message.description.contains("-1000") && message.description.contains("[226, 3071]"))
    }
}

/// The flood and the scan must find the same regions; confidence growing is deterministic.
@Suite struct GrowingAgreementTests {
    @Test(arguments: [(226.0, 3071.0, Connectivity.six), (-100, 100, .twentySix), (-1024, -900, .eighteen), (700, 3071, .six)])
    func floodAndScanAgreeOnTheSampleCT(lower: Double, upper: Double, connectivity: Connectivity) throws {
        guard case .int16(let volume) = SampleCTGrowingTests.volume else { throw CancellationError() }
        let seed = SIMD3(179, 92, 80)
        let seedValue = Double(volume[seed.x, seed.y, seed.z])
        // Seed: the skull voxel when it is in the interval, else the first voxel that is.
        var start = seed
        if !(seedValue >= lower && seedValue <= upper) {
            let index = try #require(volume.voxels.firstIndex { Double($0) >= lower && Double($0) <= upper })
            start = SIMD3(index % 256, (index / 256) % 256, index / 65536)
        }
        let (lo, hi) = int16Bounds(lower, upper)
        let flood = RunFlood.grow(volume, lower: lo, upper: hi, seeds: [start], connectivity: connectivity, maxVoxels: nil)
        let scan = try RegionGrowing(connectivity: connectivity)
            .grow(.int16(volume), seeds: [.voxel(start)], criterion: .interval(lower: lower, upper: upper))
        #expect(flood.voxels == scan.voxelCount)
        #expect(flood.mask(geometry: volume.geometry, threads: 2).voxels == scan.mask.voxels)
    }

    @Test func confidenceGrowingIsTheSameWithAnyThreadCount() throws {
        let seeds = [Seed.voxel(SIMD3(179, 92, 80))]
        let one = try RegionGrowing(threads: 1).grow(SampleCTGrowingTests.volume, seeds: seeds, criterion: .confidence())
        let two = try RegionGrowing(threads: 2).grow(SampleCTGrowingTests.volume, seeds: seeds, criterion: .confidence())
        #expect(one.mask.voxels == two.mask.voxels)
        #expect(one.lower == two.lower && one.upper == two.upper && one.iterations == two.iterations)
        // SimpleITK's ConfidenceConnected (multiplier 2.5, 4 iterations, radius 1) on the sample:
        // each estimate widens the interval until it takes the head and the air around it.
        #expect(one.voxelCount == 7_073_769)
        #expect(one.lower == -1216 && one.upper == 1624)
        #expect(one.iterations == 5)
    }
}
