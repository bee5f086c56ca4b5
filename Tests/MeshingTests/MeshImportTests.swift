import Foundation
@testable import Meshing
import Testing
import TestSupport
import VolumeCore

/// Meshes read back from the files `vrprep mesh` writes, and files that are not meshes.
@Suite struct MeshImportTests {
    static func ball() -> Mesh {
        var mask = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(16, 16, 16), spacing: SIMD3(0.5, 0.5, 1),
                                                          origin: SIMD3(-10, 20, 5)), filledWith: 0)
        for k in 0..<16 { for j in 0..<16 { for i in 0..<16 {
            let d = SIMD3<Double>(Double(i) - 7.5, Double(j) - 7.5, Double(k) - 7.5)
            if d.length < 6 { mask[i, j, k] = 1 }
        } } }
        return Surfaces.surface(of: mask)
    }

    @Test(arguments: ["stl", "ply", "obj"])
    func aWrittenMeshReadsBackTheSame(format: String) throws {
        let folder = try Fixtures.temporaryFolder("import")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mesh = Self.ball()
        let url = folder.appendingPathComponent("ball.\(format)")
        try MeshExport.write([mesh], to: url)
        let read = try MeshImport.read(url)
        #expect(read.triangleCount == mesh.triangleCount)
        #expect(read.vertexCount == mesh.vertexCount, "STL corners are welded back into shared vertices")
        #expect(read.name == "ball")
        let original = MeshMeasurements(mesh), back = MeshMeasurements(read)
        #expect(abs(original.volumeML - back.volumeML) < 1e-4)
        #expect(back.watertight)
        #expect((original.minimum - back.minimum).length < 1e-4 && (original.maximum - back.maximum).length < 1e-4)
    }

    @Test func badFilesAreRefusedWithTheirName() throws {
        let folder = try Fixtures.temporaryFolder("import-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases: [(String, Data, String)] = [
            ("truncated.stl", Data(repeating: 0, count: 84) + Data([1]), "neither binary STL"),
            ("empty.stl", { var d = Data(repeating: 0, count: 80); d += Data([0, 0, 0, 0]); return d }(), "no surface"),
            ("text.ply", Data("ply\nformat ascii 1.0\nend_header\n".utf8), "binary little-endian"),
            ("dangling.obj", Data("v 0 0 0\nv 1 0 0\nf 1 2 3\n".utf8), "vertex 3"),
            ("mesh.xyz", Data("1 2 3".utf8), "unknown mesh format"),
        ]
        for (name, data, expected) in cases {
            let url = folder.appendingPathComponent(name)
            try data.write(to: url)
            do {
                _ = try MeshImport.read(url)
                Issue.record("\(name) was read")
            } catch {
                #expect(error.description.contains(name) && error.description.contains(expected), "\(error)")
            }
        }
    }
}
