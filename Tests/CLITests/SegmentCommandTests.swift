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
