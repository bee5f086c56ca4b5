import DICOM
import Foundation
import Testing
import TestSupport

/// Broken, hostile or absurd input: a reason naming the file, the rest still loads, no crash,
/// no hang, no huge allocation.
@Suite struct BadInputTests {
    static func withFolder<T>(_ body: (URL) throws -> T) throws -> T {
        let folder = try Fixtures.temporaryFolder("bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }

    static func reason(_ report: LoadReport, _ name: String) -> String? {
        report.rejected.first { $0.path.hasSuffix(name) }?.reason
    }

    @Test func truncatedAndForeignFilesAreNamedAndTheRestLoads() throws {
        try Self.withFolder { folder in
            let files = Fixtures.sampleCTFiles
            for url in files.prefix(20) {
                try FileManager.default.copyItem(at: url, to: folder.appendingPathComponent(url.lastPathComponent))
            }
            let whole = try Data(contentsOf: files[20])
            try whole.prefix(whole.count / 2).write(to: folder.appendingPathComponent("truncated.dcm"))
            try Data("patient notes, not an image\n".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            try Data().write(to: folder.appendingPathComponent("empty.dcm"))
            // A JPEG 2000 stream deliberately corrupted (its header is not a J2K codestream).
            try FileManager.default.copyItem(at: Fixtures.corpusFile("pydicom-test_files/JPEG2000-embedded-sequence-delimiter.dcm"),
                                             to: folder.appendingPathComponent("j2k.dcm"))
            let report = DicomLoader().load([folder.path])
            #expect(report.series.count == 1)
            #expect(report.series.first?.info.files == 20)
            #expect(Self.reason(report, "truncated.dcm")?.contains("premature end") == true)
            #expect(Self.reason(report, "notes.txt")?.contains("not a DICOM file") == true)
            #expect(Self.reason(report, "empty.dcm") == "empty file")
            #expect(Self.reason(report, "j2k.dcm")?.hasPrefix("frame 0: cannot decode JPEG 2000 frame: ") == true,
                    "\(Self.reason(report, "j2k.dcm") ?? "")")
        }
    }

    @Test func absurdDimensionsAreRefusedBeforeAnyAllocation() throws {
        try Self.withFolder { folder in
            var writer = DicomWriter.ctSlice(series: "1.2.3.66", instance: 1, rows: 4, columns: 4,
                                             pixels: [Int16](repeating: 0, count: 16), position: .zero)
            writer.set(0x0028, 0x0010, us: 65535)
            writer.set(0x0028, 0x0011, us: 65535)
            writer.set(0x0028, 0x0008, "IS", "10000")
            try writer.write(to: folder.appendingPathComponent("huge.dcm"), sopInstanceUID: "1.2.3.66.1")
            let report = DicomLoader().load([folder.path])
            #expect(report.series.isEmpty)
            let reason = try #require(Self.reason(report, "huge.dcm"))
            #expect(reason.contains("65535×65535") && reason.contains("over the limit"), "\(reason)")
        }
    }

    @Test func claimedFramesBeyondThePixelDataAreRefused() throws {
        try Self.withFolder { folder in
            var writer = DicomWriter.ctSlice(series: "1.2.3.67", instance: 1, rows: 64, columns: 64,
                                             pixels: [Int16](repeating: 0, count: 64 * 64), position: .zero)
            writer.set(0x0028, 0x0008, "IS", "10000")
            try writer.write(to: folder.appendingPathComponent("frames.dcm"), sopInstanceUID: "1.2.3.67.1")
            let reason = try #require(Self.reason(DicomLoader().load([folder.path]), "frames.dcm"))
            #expect(reason.contains("pixel data holds 8192 bytes but the header claims 64×64×10000"), "\(reason)")
        }
    }

    @Test func emptyFolderAndMissingPathAreReported() throws {
        try Self.withFolder { folder in
            let report = DicomLoader().load([folder.path, folder.path + "/nope"])
            #expect(report.series.isEmpty)
            #expect(report.rejected.map(\.reason) == ["folder holds no files", "no such file or folder"])
        }
    }

    @Test func zipEntriesThatEscapeAreRefusedAndTheRestLoads() throws {
        try Self.withFolder { folder in
            let slices = Fixtures.sampleCTFiles.prefix(3)
            var entries: [(path: String, data: Data)] = []
            for url in slices { entries.append(("study/\(url.lastPathComponent)", try Data(contentsOf: url))) }
            let payload = try Data(contentsOf: Fixtures.sampleCTFiles[50])
            entries.append(("../escaped.dcm", payload))
            entries.append(("study/../../escaped2.dcm", payload))
            entries.append(("/etc/absolute.dcm", payload))
            let zip = folder.appendingPathComponent("hostile.zip")
            try ZipMaker.make(zip, entries: entries)
            let report = DicomLoader().load([zip.path])
            #expect(report.series.first?.info.files == 3)
            #expect(Self.reason(report, ":../escaped.dcm")?.contains("leaves the archive's root") == true)
            #expect(Self.reason(report, ":study/../../escaped2.dcm")?.contains("leaves the archive's root") == true)
            #expect(Self.reason(report, ":/etc/absolute.dcm")?.contains("absolute path") == true)
            #expect(!FileManager.default.fileExists(atPath: folder.deletingLastPathComponent().appendingPathComponent("escaped.dcm").path))
        }
    }

    @Test func aDamagedZipIsReported() throws {
        try Self.withFolder { folder in
            let zip = folder.appendingPathComponent("damaged.zip")
            try ZipMaker.make(zip, entries: [("a.dcm", try Data(contentsOf: Fixtures.sampleCTFiles[0]))])
            let data = try Data(contentsOf: zip)
            try data.prefix(data.count - 30).write(to: zip)  // cut into the central directory
            let report = DicomLoader().load([zip.path])
            #expect(report.series.isEmpty)
            #expect(Self.reason(report, "damaged.zip")?.contains("zip") == true)
        }
    }
}
