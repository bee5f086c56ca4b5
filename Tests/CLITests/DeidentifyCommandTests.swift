import Foundation
import Testing
import TestSupport

/// `vrprep deidentify`: the command as a user runs it (the use case's own checks are in
/// PipelineTests/DeidentifyStudyTests).
@Suite struct DeidentifyCommandTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func theCopyIsReadByInspectAsTheSameSeries() throws {
        let work = try Fixtures.temporaryFolder("deidentify-command")
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("copy").path
        let run = try CommandLineTool.run(["deidentify", Fixtures.sampleCT.path, "--out", out, "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try Self.json(run.standardOutput)
        // A head: its face removed from the pixels by default (the Clean Recognizable Visual Features Option).
        #expect((report["files"] as? [Any])?.count == 108 && report["defaced"] as? Bool == true)
        #expect(report["methodCodes"] as? [String] == ["113100", "113102"] && (report["studyInstanceUID"] as? String)?.hasPrefix("2.25.") == true)

        let before = try Self.json(try CommandLineTool.run(["inspect", Fixtures.sampleCT.path, "--json"]).standardOutput)
        let after = try Self.json(try CommandLineTool.run(["inspect", out, "--json"]).standardOutput)
        let (a, b) = (try #require((before["series"] as? [[String: Any]])?.first), try #require((after["series"] as? [[String: Any]])?.first))
        for key in ["dimensions", "spacing", "origin", "direction", "modality", "files"] {
            #expect("\(a[key] ?? "")" == "\(b[key] ?? "")", "\(key): \(a[key] ?? "") vs \(b[key] ?? "")")
        }
        #expect(b["seriesInstanceUID"] as? String == report["seriesInstanceUID"] as? String)
        #expect((after["rejected"] as? [Any])?.isEmpty == true)

        // Plain output names the folder, the files and the study.
        let plain = try CommandLineTool.run(["deidentify", Fixtures.sampleCT.path, "--out", work.appendingPathComponent("plain").path, "--deface", "off"])
        #expect(plain.status == 0 && plain.standardOutput.contains("108 files") && plain.standardOutput.contains("113100"), "\(plain.standardOutput)")
        #expect(!plain.standardOutput.contains("113102"), "\(plain.standardOutput)")
    }

    @Test func badInputIsRefusedClearly() throws {
        let work = try Fixtures.temporaryFolder("deidentify-bad")
        defer { try? FileManager.default.removeItem(at: work) }
        // A folder with no DICOM file.
        let empty = work.appendingPathComponent("not-dicom")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: empty.appendingPathComponent("README.txt"))
        let none = try CommandLineTool.run(["deidentify", empty.path, "--out", work.appendingPathComponent("a").path])
        #expect(none.status == 1 && none.standardError.contains("no series could be loaded") && none.standardError.contains("not a DICOM file"),
                "\(none.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("a").path))
        // An output folder that holds something.
        let full = try CommandLineTool.run(["deidentify", Fixtures.sampleCT.path, "--out", empty.path])
        #expect(full.status == 1 && full.standardError.contains("exists and is not empty"), "\(full.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path) == ["README.txt"])
        // Unknown --deface, a date shift of 0 or out of range: usage errors.
        let deface = try CommandLineTool.run(["deidentify", Fixtures.sampleCT.path, "--out", work.appendingPathComponent("b").path, "--deface", "maybe"])
        #expect(deface.status == 2 && deface.standardError.contains("maybe") && deface.standardError.contains("'on'"), "\(deface.standardError)")
        for days in ["0", "100000", "soon"] {
            let shift = try CommandLineTool.run(["deidentify", Fixtures.sampleCT.path, "--out", work.appendingPathComponent("c").path,
                                                 "--keep-dates-shifted", days])
            #expect(shift.status == 2 && shift.standardError.contains("keep-dates-shifted"), "\(days): \(shift.standardError)")
        }
        // Defacing on, and no face in the study (one slice of a CT): said plainly, nothing written.
        let on = try CommandLineTool.run(["deidentify", Fixtures.corpusFile("pydicom-test_files/CT_small.dcm").path, "--out",
                                          work.appendingPathComponent("d").path, "--deface", "on"])
        #expect(on.status == 1 && on.standardError.contains("no face found"), "\(on.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("d").path))
    }
}
