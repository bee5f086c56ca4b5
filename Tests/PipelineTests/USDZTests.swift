import Foundation
import Meshing
import ScenePackage
import Testing
import TestSupport
import VolumeCore

/// The USDZ of a scene package: the archive a reader maps in place, and the layer inside it.
@Suite struct USDZTests {
    @Test func everyFileStartsOnA64ByteBoundaryStoredAndZipToolsReadIt() throws {
        // Names of every length modulo 64 around the header's 30 bytes, and data of odd sizes.
        let files = (0..<70).map { n in (name: "f" + String(repeating: "x", count: n) + ".usda", data: Data(repeating: UInt8(n), count: 3 * n + 1)) }
        let archive = USDZArchive.data(files)
        #expect(USDZArchive.problems(archive).isEmpty, "\(USDZArchive.problems(archive).prefix(3))")
        let folder = try Fixtures.temporaryFolder("usdz")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.usdz")
        try archive.write(to: url)
        // Python's zipfile: every file's CRC checks, its data starts on the boundary, it is stored.
        let script = """
            import struct, sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            raw = open(sys.argv[1], "rb").read()
            assert z.testzip() is None
            for i in z.infolist():
                # The local header's own name and extra lengths (the central directory's extra is empty).
                name_length, extra_length = struct.unpack_from("<HH", raw, i.header_offset + 26)
                start = i.header_offset + 30 + name_length + extra_length
                assert i.compress_type == 0 and start % 64 == 0, (i.filename, start)
                assert z.read(i) == bytes([len(i.filename) - 6]) * (3 * (len(i.filename) - 6) + 1)
            print(len(z.infolist()))
            """
        let read = try CommandLineTool.run(["-c", script, url.path], program: "python3")
        #expect(read.status == 0 && read.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "70", "\(read.standardError)")
    }

    @Test func aCompressedOrMisalignedArchiveIsNamed() throws {
        let folder = try Fixtures.temporaryFolder("usdz-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("deflated.usdz")
        try ZipMaker.make(url, entries: [(path: "scene.usda", data: Data(repeating: 65, count: 1000))])
        let problems = USDZArchive.problems(try Data(contentsOf: url))
        #expect(problems.contains { $0.contains("scene.usda is compressed") }, "\(problems)")
        #expect(USDZArchive.problems(Data("not a zip".utf8)) == ["not a zip archive"])
        let texture = USDZArchive.data([(name: "texture.png", data: Data([1, 2, 3]))])
        #expect(USDZArchive.problems(texture) == ["its first file, texture.png, is not a USD layer"])
    }

    @Test func theLayerNamesEachStructureOnceAndKeepsItsBoxInMetres() throws {
        #expect(USDExport.primNames(["3D model", "bone", "bone", "Materials", "é"]) == ["_3D_model", "bone", "bone_2", "Materials_2", "_"])
        // A tetrahedron in LPS mm: glTF's axes (X = L, Y = S, Z = −P), metres.
        let mesh = Mesh(positions: [SIMD3(0, 0, 0), SIMD3(10, 0, 0), SIMD3(0, 20, 0), SIMD3(0, 0, 30)],
                        indices: [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3], name: "tumor", color: RGBA(0.5, 0.25, 1))
        let text = String(decoding: USDExport.usda([mesh]), as: UTF8.self)
        #expect(text.hasPrefix("#usda 1.0\n") && text.contains("defaultPrim = \"Patient\"") && text.contains("upAxis = \"Y\""))
        #expect(text.contains("float3[] extent = [(0.0000000, 0.0000000, -0.0200000), (0.0100000, 0.0300000, 0.0000000)]"), "\(text)")
        #expect(text.contains("int[] faceVertexCounts = [3, 3, 3, 3]"))
        #expect(text.contains("int[] faceVertexIndices = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3]"))
        #expect(text.contains("color3f inputs:diffuseColor = (0.5, 0.25, 1.0)"))
        #expect(text.contains("string structure = \"tumor\""))
    }
}
