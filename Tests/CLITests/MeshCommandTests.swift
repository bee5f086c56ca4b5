import Foundation
import Rendering
import Testing
import TestSupport

/// `vrprep mesh` as a user runs it.
@Suite struct MeshCommandTests {
    static func withBoneLabels<T>(_ body: (URL, URL) throws -> T) throws -> T {
        let folder = try Fixtures.temporaryFolder("mesh")
        defer { try? FileManager.default.removeItem(at: folder) }
        let labels = folder.appendingPathComponent("bone.nii.gz")
        let made = try CommandLineTool.run(["segment", Fixtures.sampleCT.path, "--method", "threshold", "--lower", "226",
                                            "--upper", "3071", "--out", labels.path])
        #expect(made.status == 0, "\(made.standardError)")
        return try body(folder, labels)
    }

    @Test func glbFromALabelMapIsInMetresWithYUp() throws {
        try Self.withBoneLabels { folder, labels in
            let out = folder.appendingPathComponent("bone.glb").path
            let result = try CommandLineTool.run(["mesh", labels.path, "--smooth", "10", "--out", out, "--json"])
            #expect(result.status == 0, "\(result.standardError)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            let structure = try #require((object["structures"] as? [[String: Any]])?.first)
            #expect(structure["watertight"] as? Bool == true)
            let bounds = try #require(structure["boundsMM"] as? [String: [Double]])
            let (lo, hi) = (bounds["min"]!, bounds["max"]!)
            // The glTF's POSITION accessor bounds: X = L, Y = S, Z = −P, in metres.
            let data = try Data(contentsOf: URL(fileURLWithPath: out))
            let jsonLength = Int(data.subdata(in: 12..<16).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            let gltf = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 20..<(20 + jsonLength))) as? [String: Any])
            let accessor = try #require((gltf["accessors"] as? [[String: Any]])?.first)
            let gmin = try #require(accessor["min"] as? [Double]), gmax = try #require(accessor["max"] as? [Double])
            let expectedMin = [lo[0], lo[2], -hi[1]].map { $0 / 1000 }, expectedMax = [hi[0], hi[2], -lo[1]].map { $0 / 1000 }
            for axis in 0..<3 {
                #expect(abs(gmin[axis] - expectedMin[axis]) < 1e-6 && abs(gmax[axis] - expectedMax[axis]) < 1e-6)
            }
            #expect(((gltf["nodes"] as? [[String: Any]])?.first?["name"] as? String) == "region")
        }
    }

    @Test func everyFormatIsWrittenAndDecimationHitsTheTarget() throws {
        try Self.withBoneLabels { folder, labels in
            for format in ["stl", "obj", "ply"] {
                let out = folder.appendingPathComponent("bone.\(format)").path
                let result = try CommandLineTool.run(["mesh", labels.path, "--target-triangles", "50000", "--out", out, "--json"])
                #expect(result.status == 0, "\(format): \(result.standardError)")
                let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
                let structure = try #require((object?["structures"] as? [[String: Any]])?.first)
                let triangles = try #require(structure["triangles"] as? Int)
                #expect(abs(triangles - 50_000) < 2_500)
                #expect(structure["watertight"] as? Bool == true)
                #expect(FileManager.default.fileExists(atPath: out))
            }
            // Binary STL: 84 bytes of header and count, 50 per triangle.
            let stl = try Data(contentsOf: folder.appendingPathComponent("bone.stl"))
            let count = Int(stl.subdata(in: 80..<84).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            #expect(stl.count == 84 + 50 * count)
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("bone.mtl").path))
        }
    }

    @Test func badRequestsWriteNothing() throws {
        try Self.withBoneLabels { folder, labels in
            let out = folder.appendingPathComponent("x.glb").path
            let empty = try CommandLineTool.run(["mesh", labels.path, "--label", "7", "--out", out])
            #expect(empty.status == 1 && empty.standardError.contains("label 7 is empty"))
            let zero = try CommandLineTool.run(["mesh", labels.path, "--target-triangles", "0", "--out", out])
            #expect(zero.status == 2 && zero.standardError.contains("--target-triangles must be at least 1"))
            let unknown = try CommandLineTool.run(["mesh", labels.path, "--out", folder.appendingPathComponent("x.fbx").path])
            #expect(unknown.status == 2 && unknown.standardError.contains("--out must end in .glb, .stl, .obj or .ply"))
            let noIso = try CommandLineTool.run(["mesh", Fixtures.sampleCT.path, "--out", out])
            #expect(noIso.status == 2 && noIso.standardError.contains("--iso"))
            let above = try CommandLineTool.run(["mesh", Fixtures.sampleCT.path, "--iso", "5000", "--out", out])
            #expect(above.status == 1 && above.standardError.contains("nothing to mesh"))
            #expect(!FileManager.default.fileExists(atPath: out))
            // A label that fills the whole grid still gives a closed box, with a warning.
            let full = folder.appendingPathComponent("full.nii")
            let made = try CommandLineTool.run(["segment", Fixtures.corpusFile("pydicom-test_files/MR_small.dcm").path,
                                                "--method", "threshold", "--lower", "-100000", "--upper", "100000",
                                                "--out", full.path])
            #expect(made.status == 0, "\(made.standardError)")
            let box = try CommandLineTool.run(["mesh", full.path, "--out", folder.appendingPathComponent("box.stl").path, "--json"])
            #expect(box.status == 0 && box.standardError.contains("fills the whole volume"))
        }
    }
}

extension MeshCommandTests {
    @Test func renderWritesAStereoPairOfTheBone() throws {
        try Self.withBoneLabels { folder, labels in
            let out = folder.appendingPathComponent("renders")
            let result = try CommandLineTool.run(["render", "--labels", labels.path, "--view", "anterior", "--size", "200x160",
                                                  "--stereo", "--smooth", "2", "--out", out.path,
                                                  "--shaders", Fixtures.root.appendingPathComponent("Shaders").path])
            #expect(result.status == 0, "\(result.standardError)")
            for name in ["left", "right", "side-by-side", "anaglyph"] {
                let png = try Data(contentsOf: out.appendingPathComponent("anterior-\(name).png"))
                #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            }
            let bad = try CommandLineTool.run(["render", "--labels", labels.path, "--size", "0x0", "--out", out.path])
            #expect(bad.status == 2 && bad.standardError.contains("--size"))
            let noShaders = try CommandLineTool.run(["render", "--labels", labels.path, "--size", "64x64", "--out", out.path,
                                                     "--shaders", "/nonexistent"])
            #expect(noShaders.status == 1 && noShaders.standardError.contains("/nonexistent: shader directory not found"))
        }
    }

    @Test func renderDrawsVolumeAndSurfacesSlicesTurntablesAndMeshFiles() throws {
        try Self.withBoneLabels { folder, labels in
            let out = folder.appendingPathComponent("renders")
            let shaders = ["--shaders", Fixtures.root.appendingPathComponent("Shaders").path]
            let study = Fixtures.sampleCT.path
            let hybrid = try CommandLineTool.run(["render", study, "--labels", labels.path, "--smooth", "2", "--preset", "ct-soft-tissue",
                                                  "--size", "96x96", "--out", out.path] + shaders)
            #expect(hybrid.status == 0, "\(hybrid.standardError)")
            #expect(hybrid.standardOutput.contains("ct-soft-tissue with 1 surface(s)"))
            let slice = try CommandLineTool.run(["render", study, "--labels", labels.path, "--slice", "axial", "--size", "128x128",
                                                 "--out", out.path] + shaders)
            #expect(slice.status == 0, "\(slice.standardError)")
            let picture = try RGBAImage.readPNG(from: out.appendingPathComponent("slice-axial.png"))
            // Bone label colours (not grey) somewhere, grey values elsewhere.
            let coloured = (0..<(128 * 128)).filter { i in
                let p = picture.pixel(i % 128, i / 128)
                return p.x != p.z
            }
            #expect(coloured.count > 100 && coloured.count < 128 * 128 / 2)
            let turntable = try CommandLineTool.run(["render", "--labels", labels.path, "--smooth", "0", "--turntable", "3",
                                                     "--elevation", "15", "--size", "64x48", "--out", out.path] + shaders)
            #expect(turntable.status == 0, "\(turntable.standardError)")
            for frame in 0..<3 {
                let image = try RGBAImage.readPNG(from: out.appendingPathComponent(String(format: "turntable-%03d.png", frame)))
                #expect(image.width == 64 && image.height == 48)
            }
            let mesh = folder.appendingPathComponent("bone.stl")
            #expect(try CommandLineTool.run(["mesh", labels.path, "--smooth", "2", "--out", mesh.path]).status == 0)
            let meshes = try CommandLineTool.run(["render", "--meshes", mesh.path, "--view", "left", "--size", "64x64",
                                                  "--out", out.path] + shaders)
            #expect(meshes.status == 0, "\(meshes.standardError)")
            let side = try RGBAImage.readPNG(from: out.appendingPathComponent("left.png"))
            #expect(side.pixel(32, 32).x > 40 && side.pixel(1, 1).x < 10, "the bone in the middle, background in the corner")
            // Wrong combinations and inputs: usage errors (2) or failures naming the file (1).
            let usage = [["render", study, "--slice", "oblique", "--out", out.path],
                         ["render", study, "--slice", "axial", "--stereo", "--out", out.path],
                         ["render", study, "--window", "400,40", "--out", out.path],
                         ["render", study, "--elevation", "120", "--out", out.path],
                         ["render", "--out", out.path]]
            for arguments in usage {
                let result = try CommandLineTool.run(arguments)
                #expect(result.status == 2, "\(arguments): \(result.standardError)")
            }
            let notAMesh = folder.appendingPathComponent("notes.stl")
            try Data("hello".utf8).write(to: notAMesh)
            let broken = try CommandLineTool.run(["render", "--meshes", notAMesh.path, "--out", out.path] + shaders)
            #expect(broken.status == 1 && broken.standardError.contains("notes.stl"))
            let outside = try CommandLineTool.run(["render", study, "--slice", "axial", "--slice-mm", "900", "--out", out.path] + shaders)
            #expect(outside.status == 1 && outside.standardError.contains("outside the data"))
        }
    }
}
