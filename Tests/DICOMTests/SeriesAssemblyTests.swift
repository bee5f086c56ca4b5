import DICOM
import Foundation
import Testing
import TestSupport
import VolumeCore

/// Grouping slices into series, sorting them and checking their spacing, on real files and on
/// small series written for the purpose.
@Suite struct SeriesAssemblyTests {
    /// A 16×12 slice whose pixels encode the slice number, so order can be checked.
    static func pixels(_ value: Int) -> [Int16] {
        (0..<(16 * 12)).map { Int16(value * 100 + $0 % 7) }
    }

    static func writeSeries(_ folder: URL, uid: String, positions: [SIMD3<Double>], prefix: String = "s",
                            orientation: [Double] = [1, 0, 0, 0, 1, 0],
                            extra: @escaping (Int, inout DicomWriter) -> Void = { _, _ in }) throws {
        // Written in reverse instance order under names that sort against position.
        for (index, position) in positions.enumerated().reversed() {
            let writer = DicomWriter.ctSlice(series: uid, instance: index + 1, rows: 12, columns: 16,
                                             pixels: pixels(index), position: position, orientation: orientation,
                                             spacing: (0.8, 0.6)) { extra(index, &$0) }
            let name = "\(prefix)\(String(format: "%03d", positions.count - index)).dcm"
            try writer.write(to: folder.appendingPathComponent(name), sopInstanceUID: "\(uid).\(index + 1)")
        }
    }

    static func withFolder<T>(_ body: (URL) throws -> T) throws -> T {
        let folder = try Fixtures.temporaryFolder("series")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }

    static func slice(_ volume: AnyVolume, _ k: Int) -> Double { volume.value(0, 0, k) }

    @Test func twoSeriesInOneFolderComeApart() throws {
        try Self.withFolder { folder in
            for url in Fixtures.sampleCTFiles { try FileManager.default.copyItem(at: url, to: folder.appendingPathComponent(url.lastPathComponent)) }
            try Self.writeSeries(folder, uid: "1.2.826.0.1.3680043.8.498.9001",
                                 positions: (0..<6).map { SIMD3(-5, -5, 20 - 2.5 * Double($0)) })
            let report = DicomLoader().load([folder.path])
            #expect(report.series.count == 2)
            #expect(report.rejected.isEmpty)
            let small = try #require(report.series.first { $0.info.seriesInstanceUID.hasSuffix("9001") })
            #expect(small.info.geometry.dimensions == SIMD3(16, 12, 6))
            #expect(small.info.geometry.spacing == SIMD3(0.6, 0.8, 2.5))
            // Sorted along the normal (+z): the last-written position (z = 7.5) comes first.
            #expect(small.info.geometry.origin == SIMD3(-5, -5, 7.5))
            #expect((0..<6).map { Self.slice(small.volume, $0) } == [500, 400, 300, 200, 100, 0])
            let ct = try #require(report.series.first { $0.info.modality == "CT" && $0.info.files == 108 })
            #expect(ct.info.geometry.dimensions == SIMD3(256, 256, 108))
        }
    }

    @Test func aMissingSliceIsReportedAndFilled() throws {
        try Self.withFolder { folder in
            let positions = (0..<8).map { SIMD3(0, 0, 3.0 * Double($0)) }
            try Self.writeSeries(folder, uid: "1.2.3.4.5", positions: positions)
            try FileManager.default.removeItem(at: folder.appendingPathComponent("s004.dcm"))  // index 4, z = 12
            let report = DicomLoader().load([folder.path])
            let series = try #require(report.series.first)
            #expect(series.info.geometry.dimensions.z == 8)
            #expect(series.info.geometry.spacing.z == 3)
            #expect(series.info.slices == 7)
            let warning = series.info.warnings.joined(separator: " | ")
            #expect(warning.contains("missing slices: 1 slice(s) absent (between 9 and 15 mm)"), "\(warning)")
            #expect((0..<8).map { Self.slice(series.volume, $0) } == [0, 100, 200, 300, 400, 500, 600, 700])
        }
    }

    @Test func unevenSpacingIsResampledAndSaid() throws {
        try Self.withFolder { folder in
            try Self.writeSeries(folder, uid: "1.2.3.4.6", positions: [0, 1, 2, 3.5, 4.5, 5.5].map { SIMD3(0, 0, $0) })
            let series = try #require(DicomLoader().load([folder.path]).series.first)
            #expect(series.info.warnings.contains { $0.contains("non-uniform slice spacing") })
            #expect(series.info.geometry.dimensions.z == 7)  // 5.5 mm at ~0.92 mm
            let z = (0..<7).map { series.info.geometry.patientPosition(ofIndex: SIMD3(0, 0, $0)).z }
            #expect(abs(z.last! - 5.5) < 1e-9)
        }
    }

    @Test func gantryTiltKeepsExactPositions() throws {
        try Self.withFolder { folder in
            let tilt = 15.0 * .pi / 180
            let positions = (0..<5).map { SIMD3(1, 2 + 2 * tan(tilt) * Double($0), 2 * Double($0)) }
            try Self.writeSeries(folder, uid: "1.2.3.4.7", positions: positions) { _, w in
                w.set(0x0018, 0x1120, "DS", "15")
            }
            let series = try #require(DicomLoader().load([folder.path]).series.first)
            #expect(series.info.warnings.contains { $0.contains("gantry tilt") && $0.contains("15°") })
            for (k, position) in positions.enumerated() {
                let p = series.info.geometry.patientPosition(ofIndex: SIMD3(0, 0, k))
                #expect((p - position).length < 1e-9)
            }
        }
    }

    @Test func echoesAndOrientationsSplitOneSeriesUID() throws {
        try Self.withFolder { folder in
            let positions = (0..<4).map { SIMD3(0, 0, 2 * Double($0)) }
            for echo in 1...2 {
                try Self.writeSeries(folder, uid: "1.2.3.4.8", positions: positions, prefix: "e\(echo)") { index, w in
                    w.set(0x0018, 0x0086, "IS", String(echo))
                    w.set(0x0008, 0x0018, "UI", "1.2.3.4.8.\(echo).\(index)")
                }
            }
            // A localizer in the same series, sagittal.
            try Self.writeSeries(folder, uid: "1.2.3.4.8", positions: [SIMD3(0, 0, 0)], prefix: "loc",
                                 orientation: [0, 1, 0, 0, 0, -1]) { _, w in w.set(0x0018, 0x0086, "IS", "1") }
            let report = DicomLoader().load([folder.path])
            #expect(report.series.count == 3)
            #expect(report.series.filter { $0.info.splitBy == .echo }.count == 2)
            #expect(report.series.contains { $0.info.splitBy == .orientation })
            #expect(report.series.filter { $0.info.geometry.dimensions.z == 4 }.count == 2)
        }
    }

    @Test func theSameFileTwiceIsOneSliceAndAReportedDuplicate() throws {
        try Self.withFolder { folder in
            try Self.writeSeries(folder, uid: "1.2.3.4.9", positions: (0..<3).map { SIMD3(0, 0, Double($0)) })
            try FileManager.default.copyItem(at: folder.appendingPathComponent("s002.dcm"),
                                             to: folder.appendingPathComponent("copy.dcm"))
            let report = DicomLoader().load([folder.path])
            #expect(report.series.first?.info.geometry.dimensions.z == 3)
            #expect(report.rejected.count == 1)
            #expect(report.rejected.first?.reason.contains("duplicates the slice at 1 mm") == true)
        }
    }

    @Test func enhancedCTFramesArePlacedByTheirFunctionalGroups() throws {
        let path = Fixtures.corpusFile("pydicom-data/eCT_Supplemental.dcm").path
        let series = try #require(DicomLoader().load([path]).series.first)
        let g = series.info.geometry
        #expect(g.dimensions == SIMD3(512, 512, 2))
        #expect(abs(g.spacing.z - 10) < 1e-9 && abs(g.spacing.x - 0.388672) < 1e-9)
        #expect(series.info.units == "HU" && series.valueRange?.lowerBound == -1024)
        let file = try DicomFile(path: path)
        for frame in 0..<2 {
            let v = try #require(file.doubles(DicomTag.imagePositionPatient, within: [
                (DicomTag.perFrameFunctionalGroupsSequence, frame), (DicomTag.planePositionSequence, 0)]))
            let index = try #require(g.continuousIndex(ofPatient: SIMD3(v[0], v[1], v[2])))
            #expect(abs(index.x) < 1e-9 && abs(index.y) < 1e-9)
            // Frame 1 lies lower along the normal (−z here), so it is slice 0.
            #expect(abs(index.z - Double(1 - frame)) < 1e-9)
        }
    }

    @Test func multiFrameMRGivesTheSameVolumeInEveryEncoding() throws {
        let names = ["emri_small.dcm", "emri_small_RLE.dcm", "emri_small_big_endian.dcm", "emri_small_jpeg_ls_lossless.dcm"]
        var volumes: [[Int16]] = []
        for name in names {
            let report = DicomLoader().load([Fixtures.corpusFile("pydicom-data/" + name).path])
            let series = try #require(report.series.first, "\(name): \(report.rejected)")
            #expect(series.info.geometry.dimensions == SIMD3(64, 64, 10), "\(name)")
            // This anonymised copy lost its functional groups: frames are stacked and it says so.
            #expect(series.info.warnings.contains { $0.contains("patient position unknown") })
            guard case .int16(let volume) = series.volume else { throw CancellationError() }
            volumes.append(volume.voxels)
        }
        #expect(volumes.allSatisfy { $0 == volumes[0] })
    }

    @Test func rtDoseIsASimpleMultiFrameVolumeInGray() throws {
        let report = DicomLoader().load([Fixtures.corpusFile("pydicom-test_files/rtdose.dcm").path])
        let series = try #require(report.series.first)
        #expect(series.info.geometry.dimensions == SIMD3(10, 10, 15))
        #expect(series.info.units == "GY")
        let file = try DicomFile(path: Fixtures.corpusFile("pydicom-test_files/rtdose.dcm").path)
        let offsets = try #require(file.doubles(DicomTag.gridFrameOffsetVector))
        #expect(abs(series.info.geometry.spacing.z - abs(offsets[1] - offsets[0])) < 1e-9)
        let scaling = try #require(file.double(DicomTag.doseGridScaling))
        let range = try #require(series.valueRange)
        #expect(abs(range.lowerBound - 795_000 * scaling) < 1e-3 && abs(range.upperBound - 1_254_000 * scaling) < 1e-3)
    }
}
