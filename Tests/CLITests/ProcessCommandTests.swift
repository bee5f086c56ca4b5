import Foundation
import Testing
import TestSupport

/// `vrprep process` and `vrprep package` as a user runs them.
@Suite struct ProcessCommandTests {
    static let shaders = ["--shaders", Fixtures.root.appendingPathComponent("Shaders").path]

    @Test func processWritesAPackageThatVerifiesAndATamperedOneDoesNot() throws {
        let folder = try Fixtures.temporaryFolder("process")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("scene").path
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", out, "--render-size", "128",
                                            "--max-triangles", "20000", "--json"] + Self.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(made.standardOutput.utf8)) as? [String: Any])
        let id = try #require(summary["packageID"] as? String)
        #expect(id.count == 64)
        #expect((summary["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["bone", "skin"])
        let verified = try CommandLineTool.run(["package", "verify", out])
        #expect(verified.status == 0 && verified.standardOutput.contains(id), "\(verified.standardError)")
        let info = try CommandLineTool.run(["package", "info", out])
        #expect(info.status == 0 && info.standardOutput.contains("bone") && info.standardOutput.contains("CT 256×256×108"))
        // One byte of a render changed: verify fails and names the file.
        let png = URL(fileURLWithPath: out).appendingPathComponent("renders/anterior-thumbnail.png")
        var bytes = try Data(contentsOf: png)
        bytes[bytes.count - 20] ^= 0x55
        try bytes.write(to: png)
        let broken = try CommandLineTool.run(["package", "verify", out])
        #expect(broken.status == 1 && broken.standardError.contains("renders/anterior-thumbnail.png"), "\(broken.standardError)")
        // A second run over a package replaces it (a folder holding something else is refused).
        let again = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", out, "--render-size", "128",
                                             "--max-triangles", "20000"] + Self.shaders)
        #expect(again.status == 0 && again.standardOutput.contains(id), "the same input gives the same id")
    }

    @Test func badRequestsAreRefusedBeforeAnyWork() throws {
        let folder = try Fixtures.temporaryFolder("process-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = folder.appendingPathComponent("r.json")
        try #"{"structures": [{"preset": "tumor", "radiusMM": -2, "seedsMM": [[1, 2, 3]]}]}"#.write(to: recipe, atomically: true, encoding: .utf8)
        let badRecipe = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--recipe", recipe.path, "--out",
                                                 folder.appendingPathComponent("x").path])
        #expect(badRecipe.status == 2 && badRecipe.standardError.contains("radiusMM"), "\(badRecipe.standardError)")
        let busy = folder.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: busy.appendingPathComponent("notes.txt"))
        let refused = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", busy.path])
        #expect(refused.status == 1 && refused.standardError.contains("not a scene package"), "\(refused.standardError)")
        #expect(try String(contentsOf: busy.appendingPathComponent("notes.txt"), encoding: .utf8) == "keep me")
        let mr = try CommandLineTool.run(["process", Fixtures.corpusFile("pydicom-test_files/MR_small.dcm").path,
                                          "--structures", "bone", "--out", folder.appendingPathComponent("mr").path])
        #expect(mr.status == 1 && mr.standardError.contains("needs a CT study"), "\(mr.standardError)")
        let notAPackage = try CommandLineTool.run(["package", "verify", busy.path])
        #expect(notAPackage.status == 1 && notAPackage.standardError.contains("manifest.json"))
        let unknown = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", "x", "--colour", "red"])
        #expect(unknown.status == 2)
    }
}
