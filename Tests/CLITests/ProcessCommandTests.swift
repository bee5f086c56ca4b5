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

    @Test func theSkinIsTheSameSurfaceFromProcessAndFromMesh() throws {
        // One rule for every door: the skin's surface is the body's outline (every labelled
        // voxel), not the skin label alone, which has holes where the bone took its voxels.
        let folder = try Fixtures.temporaryFolder("surface-rule")
        defer { try? FileManager.default.removeItem(at: folder) }
        let package = folder.appendingPathComponent("scene").path
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", package, "--render-size", "64",
                                            "--max-triangles", "100000000", "--smooth", "4", "--json"] + Self.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: package + "/manifest.json")))
                                    as? [String: Any])
        let fromProcess = try #require((manifest["structures"] as? [[String: Any]])?.first { $0["name"] as? String == "skin" })
        let labels = folder.appendingPathComponent("labels.nii.gz").path
        // The package's face is removed (the default): the label map's too, for the same voxels.
        let segmented = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--structures", "bone,skin", "--deface", "on", "--out", labels])
        #expect(segmented.status == 0, "\(segmented.standardError)")
        let meshed = try CommandLineTool.run(["mesh", labels, "--label", "2", "--smooth", "4", "--out", folder.appendingPathComponent("skin.stl").path, "--json"])
        #expect(meshed.status == 0, "\(meshed.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(meshed.standardOutput.utf8)) as? [String: Any])
        let fromMesh = try #require((summary["structures"] as? [[String: Any]])?.first)
        let (a, b) = (try #require(fromProcess["triangles"] as? Int), try #require(fromMesh["triangles"] as? Int))
        #expect(a == b, "process: \(fromProcess), mesh: \(fromMesh)")
        let (areaA, areaB) = (try #require(fromProcess["area_mm2"] as? Double), try #require(fromMesh["areaMM2"] as? Double))
        #expect(abs(areaA - areaB) <= 1e-6 * areaA, "areas \(areaA) and \(areaB) mm²")
        #expect(fromMesh["watertight"] as? Bool == true)
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
        let oneSlice = folder.appendingPathComponent("one-slice")
        try FileManager.default.createDirectory(at: oneSlice, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.sampleCTFiles[40], to: oneSlice.appendingPathComponent("slice.dcm"))
        try Data("not DICOM".utf8).write(to: oneSlice.appendingPathComponent("notes.txt"))
        let thin = try CommandLineTool.run(["process", oneSlice.path, "--out", folder.appendingPathComponent("thin").path])
        #expect(thin.status == 1 && thin.standardError.contains("too thin for a 3D scene") &&
                thin.standardError.contains("notes.txt: not a DICOM file"), "\(thin.standardError)")
        let notAPackage = try CommandLineTool.run(["package", "verify", busy.path])
        #expect(notAPackage.status == 1 && notAPackage.standardError.contains("manifest.json"))
        let unknown = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", "x", "--colour", "red"])
        #expect(unknown.status == 2)
        let profile = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", "x", "--profile", "tablet"])
        #expect(profile.status == 2 && profile.standardError.contains("tablet") && profile.standardError.contains("headset"),
                "\(profile.standardError)")
    }
}
