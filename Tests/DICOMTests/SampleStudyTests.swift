import DICOM
import Foundation
import Testing
import TestSupport
import VolumeCore

/// The sample head CT: one series of 256×256×108 voxels in spatial order although file names
/// are shuffled, in Hounsfield units, at the positions its files state.
@Suite struct SampleStudyTests {
    static let report = DicomLoader().load([Fixtures.sampleCT.path])

    @Test func loadsAsOneSeriesWithTheStatedGeometry() throws {
        #expect(Self.report.series.count == 1)
        let series = try #require(Self.report.series.first)
        let g = series.info.geometry
        #expect(g.dimensions == SIMD3(256, 256, 108))
        #expect(abs(g.spacing.x - 0.9570312) < 1e-9 && abs(g.spacing.y - 0.9570312) < 1e-9)
        #expect(abs(g.spacing.z - 1.5) < 1e-9)
        #expect(g.direction.maxDifference(to: .identity) < 1e-12)
        #expect(g.origin == SIMD3(0, -244.042956, 0))
        #expect(series.valueRange == -1024...2986)
        #expect(series.info.modality == "CT" && series.info.units == "HU")
        #expect(series.info.files == 108)
        #expect(series.info.warnings.isEmpty)
        guard case .int16 = series.volume else {
            Issue.record("CT should load as Int16 Hounsfield units")
            return
        }
    }

    @Test func nonDicomFilesBesideTheSeriesAreRejectedByName() {
        let rejected = Dictionary(Self.report.rejected.map { (URL(fileURLWithPath: $0.path).lastPathComponent, $0.reason) },
                                  uniquingKeysWith: { a, _ in a })
        #expect(rejected["README.md"]?.contains("not a DICOM file") == true)
        #expect(rejected["stats.json"]?.contains("not a DICOM file") == true)
        #expect(Self.report.rejected.count == 4)  // README.md and the three reference files
    }

    /// Each file's ImagePositionPatient maps to voxel (0, 0, k), k follows InstanceNumber (the
    /// README says it is spatial), and the voxels of slice k are the file's pixels in HU.
    @Test func everySliceSitsWhereItsFileSays() throws {
        let series = try #require(Self.report.series.first)
        guard case .int16(let volume) = series.volume else { throw CancellationError() }
        var seen = Set<Int>()
        for url in Fixtures.sampleCTFiles {
            let file = try DicomFile(path: url.path)
            let ipp = try #require(file.string(DicomTag.imagePositionPatient)?.split(separator: "\\").compactMap { Double($0) })
            let index = try #require(volume.geometry.continuousIndex(ofPatient: SIMD3(ipp[0], ipp[1], ipp[2])))
            let k = Int(index.z.rounded())
            #expect(abs(index.x) < 1e-6 && abs(index.y) < 1e-6 && abs(index.z - Double(k)) < 1e-6)
            let instance = try #require(file.string(DicomTag.instanceNumber).flatMap { Int($0) })
            #expect(k == instance - 1, "\(url.lastPathComponent): slice \(k), InstanceNumber \(instance)")
            seen.insert(k)
            let stored = try file.storedValues(frame: 0).values
            for (i, j) in [(0, 0), (128, 128), (255, 17), (40, 200), (200, 90)] {
                #expect(Int64(volume[i, j, k]) == stored[j * 256 + i] - 1024)
            }
        }
        #expect(seen == Set(0..<108))
    }

    @Test func sameVolumeWithOneOrTwoThreads() throws {
        let one = DicomLoader(threads: 1).load([Fixtures.sampleCT.path])
        guard case .int16(let a) = try #require(one.series.first).volume,
              case .int16(let b) = try #require(Self.report.series.first).volume else {
            Issue.record("expected Int16 volumes")
            return
        }
        #expect(a.voxels == b.voxels)
        #expect(a.geometry == b.geometry)
    }

    @Test func loadsFromAZipArchive() throws {
        let folder = try Fixtures.temporaryFolder("zip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let zip = folder.appendingPathComponent("study.zip")
        try ZipMaker.make(zip, entries: Fixtures.sampleCTFiles.map { ("scan/\($0.lastPathComponent)", try Data(contentsOf: $0)) })
        let report = DicomLoader().load([zip.path])
        #expect(report.rejected.isEmpty)
        let series = try #require(report.series.first)
        #expect(series.info.geometry == Self.report.series.first?.info.geometry)
        #expect(series.info.filePaths.first?.hasPrefix(zip.path + ":scan/IM") == true)
        guard case .int16(let a) = series.volume, case .int16(let b) = try #require(Self.report.series.first).volume else {
            Issue.record("expected Int16 volumes")
            return
        }
        #expect(a.voxels == b.voxels)
    }
}
