import Foundation
import Testing
import TestSupport

/// `vrprep segment` as a user runs it: files written, JSON figures, refusals.
@Suite struct SegmentCommandTests {
    static func withFolder<T>(_ body: (URL) throws -> T) throws -> T {
        let folder = try Fixtures.temporaryFolder("segment")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }

    static func json(_ result: CommandLineTool.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    }

    @Test func connectedGrowingFromAPatientSeedWritesTheLabelMap() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("skull.nii.gz").path
            // Voxel (179, 92, 80) of the sample is at (171.309, −155.996, 120) mm LPS.
            let result = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "connected",
                                                  "--seed-mm", "171.3,-156,120", "--lower", "226", "--upper", "3071",
                                                  "--out", out, "--json"])
            #expect(result.status == 0, "\(result.standardError)")
            let object = try Self.json(result)
            let label = try #require((object["labels"] as? [[String: Any]])?.first)
            #expect(label["voxels"] as? Int == 432_593)
            let seed = try #require((object["seeds"] as? [[String: Any]])?.first)
            #expect(seed["index"] as? [Int] == [179, 92, 80])
            #expect(seed["value"] as? Double == 1624)
            #expect(FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func bonePresetOnTheSampleCT() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("bone.nii").path
            let result = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "bone", "--out", out,
                                                  "--json", "--threads", "1"])
            #expect(result.status == 0, "\(result.standardError)")
            let object = try Self.json(result)
            let label = try #require((object["labels"] as? [[String: Any]])?.first)
            #expect(label["name"] as? String == "bone")
            #expect(label["voxels"] as? Int == 432_784)
            #expect((object["warnings"] as? [String])?.contains { $0.contains("outside the body") } == true)
            // An uncompressed NIfTI-1: 352-byte header and extension, then one byte per voxel.
            let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int ?? 0
            #expect(size > 256 * 256 * 108 && size < 256 * 256 * 108 + 1024)
        }
    }

    @Test func refusalsNameTheProblemAndWriteNothing() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("x.nii.gz").path
            let air = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "connected", "--seed", "0,0,0",
                                               "--lower", "226", "--upper", "3071", "--out", out])
            #expect(air.status == 1)
            #expect(air.standardError.contains("seed voxel (0, 0, 0) has value -996, outside the interval [226, 3071]"))
            let outside = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "bone", "--seed", "300,0,0",
                                                   "--out", out])
            #expect(outside.status == 1)
            #expect(outside.standardError.contains("lies outside the volume (256 × 256 × 108 voxels)"))
            let empty = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "threshold",
                                                 "--lower", "500", "--upper", "100", "--out", out])
            #expect(empty.status == 2 && empty.standardError.contains("the interval is empty"))
            let both = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "bone", "--method", "connected",
                                                "--out", out])
            #expect(both.status == 2)
            let badSeed = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "bone", "--seed", "1,2",
                                                   "--out", out])
            #expect(badSeed.status == 2 && badSeed.standardError.contains("'1,2' is not three numbers"))
            let mr = try CommandLineTool.run(["segment", Fixtures.corpusFile("pydicom-test_files/MR_small.dcm").path,
                                              "--preset", "bone", "--out", out])
            #expect(mr.status == 1 && mr.standardError.contains("the bone preset needs a CT study, this series is MR"))
            let lungs = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "lungs", "--out", out])
            #expect(lungs.status == 2 && lungs.standardError.contains("lungs") && lungs.standardError.contains("vessels"),
                    "\(lungs.standardError)")
            let twice = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--structures", "bone,skin,bone", "--out", out])
            #expect(twice.status == 2 && twice.standardError.contains("at most once"), "\(twice.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

extension SegmentCommandTests {
    @Test func growingWithinALabelMapChecksItsGrid() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("r.nii.gz").path
            let reference = Fixtures.sampleCT.appendingPathComponent("reference/bone_mask_invesalius.nii.gz").path
            let inside = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "connected",
                                                  "--seed", "179,92,80", "--lower", "-1024", "--upper", "3071",
                                                  "--within", reference, "--out", out, "--json"])
            #expect(inside.status == 0, "\(inside.standardError)")
            let label = try #require((try Self.json(inside)["labels"] as? [[String: Any]])?.first)
            #expect(label["voxels"] as? Int == 432_593)  // InVesalius' mask is the [226, 3071] threshold
            // A label map of another grid (the 64×64 MR) is refused, naming the file.
            let mr = folder.appendingPathComponent("mr.nii").path
            let made = try CommandLineTool.run(["segment", Fixtures.corpusFile("pydicom-test_files/MR_small.dcm").path,
                                                "--method", "threshold", "--lower", "0", "--upper", "100000", "--out", mr])
            #expect(made.status == 0, "\(made.standardError)")
            let other = folder.appendingPathComponent("o.nii.gz").path
            let refused = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "connected",
                                                   "--seed", "179,92,80", "--lower", "226", "--upper", "3071",
                                                   "--within", mr, "--out", other])
            #expect(refused.status == 1)
            #expect(refused.standardError.contains("mr.nii: the label map is not on the study's grid (64×64×1 voxels"))
            #expect(!FileManager.default.fileExists(atPath: other))
        }
    }
}

extension SegmentCommandTests {
    @Test func tumorVesselsAndSeveralStructuresFromTheCommandLine() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("labels.nii.gz").path
            // A seed in brain tissue for the tumor preset (no lesion there): nothing can be
            // bounded, so the structure fails, says why, and writes nothing.
            let tumor = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--preset", "tumor",
                                                 "--seed-mm", "95.7,-100.5,105", "--radius-mm", "5", "--out", out, "--json"])
            #expect(tumor.status == 1, "\(tumor.standardError)")
            #expect(tumor.standardError.contains("too faint to bound") && tumor.standardError.contains("No region was written"), "\(tumor.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
            // Several structures, seeds named per structure, one map; the same tumor seed fails
            // the whole map (exit 1), not silently.
            let failing = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--structures", "bone,skin,tumor",
                                                   "--seed-mm", "tumor:95.7,-100.5,105", "--out", out, "--json"])
            #expect(failing.status == 1 && failing.standardError.contains("too faint to bound"), "\(failing.standardError)")
            let several = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--structures", "bone,skin",
                                                   "--out", out, "--json"])
            #expect(several.status == 0, "\(several.standardError)")
            let labels = try #require(try Self.json(several)["labels"] as? [[String: Any]])
            #expect(labels.compactMap { $0["name"] as? String } == ["bone", "skin"])
            #expect(labels.compactMap { $0["value"] as? Int } == [1, 2])
            // A recipe file.
            let recipe = folder.appendingPathComponent("recipe.json")
            try #"{"structures": [{"preset": "bone", "minIslandML": 0.5}, {"preset": "skin"}]}"#.write(to: recipe, atomically: true, encoding: .utf8)
            let fromRecipe = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--recipe", recipe.path, "--out", out, "--json"])
            #expect(fromRecipe.status == 0, "\(fromRecipe.standardError)")
            #expect((try Self.json(fromRecipe)["recipe"] as? [String: Any]) != nil)
        }
    }

    @Test func presetRefusalsSayWhatToChange() throws {
        try Self.withFolder { folder in
            let out = folder.appendingPathComponent("x.nii.gz").path
            let study = Fixtures.sampleCT.path
            let noContrast = try CommandLineTool.run(["segment", study, "--preset", "vessels", "--seed-mm", "125,-110,50", "--out", out])
            #expect(noContrast.status == 1 && noContrast.standardError.contains("contrast") &&
                    noContrast.standardError.contains("--lower/--upper"), "\(noContrast.standardError)")
            let air = try CommandLineTool.run(["segment", study, "--preset", "tumor", "--seed", "5,5,50", "--out", out])
            #expect(air.status == 1 && air.standardError.contains("air"), "\(air.standardError)")
            let bone = try CommandLineTool.run(["segment", study, "--preset", "tumor", "--seed", "179,92,80", "--out", out])
            #expect(bone.status == 1 && bone.standardError.contains("bone"), "\(bone.standardError)")
            let radius = try CommandLineTool.run(["segment", study, "--preset", "tumor", "--seed", "100,150,70", "--radius-mm", "0", "--out", out])
            #expect(radius.status == 2 && radius.standardError.contains("--radius-mm must be more than 0"))
            let noSeed = try CommandLineTool.run(["segment", study, "--preset", "tumor", "--out", out])
            #expect(noSeed.status == 2 && noSeed.standardError.contains("needs at least one seed"), "\(noSeed.standardError)")
            let bare = try CommandLineTool.run(["segment", study, "--structures", "bone,tumor", "--seed-mm", "1,2,3", "--out", out])
            #expect(bare.status == 2 && bare.standardError.contains("name the structure of each seed"), "\(bare.standardError)")
            let recipe = folder.appendingPathComponent("bad.json")
            try #"{"structures": [{"preset": "bone", "colour": "white"}]}"#.write(to: recipe, atomically: true, encoding: .utf8)
            let badRecipe = try CommandLineTool.run(["segment", study, "--recipe", recipe.path, "--out", out])
            #expect(badRecipe.status == 1 && badRecipe.standardError.contains("bad.json") &&
                    badRecipe.standardError.contains("unknown key 'colour'"), "\(badRecipe.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
