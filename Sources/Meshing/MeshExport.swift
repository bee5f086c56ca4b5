import Foundation
import VolumeCore

/// Mesh files: STL (binary, mm), OBJ + MTL, PLY (binary, with colours) and glTF 2.0 binary.
public enum MeshExport {
    public enum Format: String, CaseIterable, Sendable {
        case stl, obj, ply, glb

        public init?(path: String) {
            guard let format = Format(rawValue: URL(fileURLWithPath: path).pathExtension.lowercased()) else { return nil }
            self = format
        }
    }

    /// Writes `meshes` to `url` in the format its extension names (STL, OBJ and PLY hold the
    /// first mesh; glTF holds them all as named nodes). Coordinates: LPS millimetres, except glTF
    /// (metres, +Y up, patient facing +Z: X = L, Y = S, Z = −P).
    public static func write(_ meshes: [Mesh], to url: URL, quantize: Bool = false) throws(MeshingError) {
        guard let format = Format(path: url.path) else {
            throw .invalidParameter(name: url.path, reason: "unknown extension: use .glb, .stl, .obj or .ply")
        }
        guard let first = meshes.first, meshes.allSatisfy({ !$0.indices.isEmpty }) else {
            throw .emptySurface(what: url.path)
        }
        var files: [(URL, Data)]
        switch format {
        case .stl: files = [(url, stl(first))]
        case .ply: files = [(url, ply(first))]
        case .obj:
            let mtl = url.deletingPathExtension().appendingPathExtension("mtl")
            files = [(url, obj(first, materialFile: mtl.lastPathComponent)), (mtl, material(first))]
        case .glb: files = [(url, glb(meshes, quantize: quantize))]
        }
        for (target, data) in files {
            do {
                try data.write(to: target, options: .atomic)
            } catch {
                throw .unwritable(path: target.path, reason: error.localizedDescription)
            }
        }
    }

    // MARK: STL

    /// The bytes of one file of `format` (STL, PLY: the first mesh; glTF binary: all of them; OBJ
    /// needs its material file too and is not offered here).
    public static func data(_ meshes: [Mesh], format: Format, quantize: Bool = false) throws(MeshingError) -> Data {
        guard let first = meshes.first, meshes.allSatisfy({ !$0.indices.isEmpty }) else { throw .emptySurface(what: "\(format.rawValue) data") }
        switch format {
        case .stl: return stl(first)
        case .ply: return ply(first)
        case .glb: return glb(meshes, quantize: quantize)
        case .obj: throw .invalidParameter(name: "format", reason: "OBJ comes with a material file: write it with write(_:to:)")
        }
    }

    static func stl(_ mesh: Mesh) -> Data {
        var out = Data(count: 80)
        let header = Array("VRPrep binary STL, millimetres, DICOM LPS: \(mesh.name)".utf8.prefix(80))
        out.replaceSubrange(0..<header.count, with: header)
        out.append(le(UInt32(mesh.triangleCount)))
        // 50 bytes per triangle: normal, three corners (floats), a zero attribute word.
        var body = [UInt8](repeating: 0, count: mesh.triangleCount * 50)
        body.withUnsafeMutableBytes { raw in
            for t in 0..<mesh.triangleCount {
                let a = mesh.positions[Int(mesh.indices[3 * t])], b = mesh.positions[Int(mesh.indices[3 * t + 1])]
                let c = mesh.positions[Int(mesh.indices[3 * t + 2])]
                let n = normalized(cross(b - a, c - a))
                for (k, v) in [n, a, b, c].enumerated() {
                    for (l, x) in [v.x, v.y, v.z].enumerated() {
                        raw.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: t * 50 + k * 12 + l * 4, as: UInt32.self)
                    }
                }
            }
        }
        out.append(contentsOf: body)
        return out
    }

    // MARK: OBJ + MTL

    static func obj(_ mesh: Mesh, materialFile: String) -> Data {
        let name = safeName(mesh.name)
        var text = "# VRPrep OBJ, millimetres, DICOM LPS\nmtllib \(materialFile)\no \(name)\nusemtl \(name)\n"
        let withNormals = mesh.normals.count == mesh.vertexCount && !mesh.normals.isEmpty
        for p in mesh.positions { text += "v \(p.x) \(p.y) \(p.z)\n" }
        if withNormals { for n in mesh.normals { text += "vn \(n.x) \(n.y) \(n.z)\n" } }
        for t in stride(from: 0, to: mesh.indices.count, by: 3) {
            let (a, b, c) = (mesh.indices[t] + 1, mesh.indices[t + 1] + 1, mesh.indices[t + 2] + 1)
            text += withNormals ? "f \(a)//\(a) \(b)//\(b) \(c)//\(c)\n" : "f \(a) \(b) \(c)\n"
        }
        return Data(text.utf8)
    }

    static func material(_ mesh: Mesh) -> Data {
        let c = mesh.color
        return Data("# VRPrep materials\nnewmtl \(safeName(mesh.name))\nKd \(c.r) \(c.g) \(c.b)\nKa 0 0 0\nKs 0.2 0.2 0.2\nd \(c.a)\n".utf8)
    }

    // MARK: PLY

    static func ply(_ mesh: Mesh) -> Data {
        let header = """
            ply
            format binary_little_endian 1.0
            comment VRPrep mesh \(safeName(mesh.name)), millimetres, DICOM LPS
            element vertex \(mesh.vertexCount)
            property float x
            property float y
            property float z
            property uchar red
            property uchar green
            property uchar blue
            property uchar alpha
            element face \(mesh.triangleCount)
            property list uchar uint vertex_indices
            end_header

            """
        var out = Data(header.utf8)
        let c = mesh.color
        let rgba = [c.r, c.g, c.b, c.a].map { UInt8(clamping: Int(($0 * 255).rounded())) }
        var vertices = [UInt8](repeating: 0, count: mesh.vertexCount * 16)
        vertices.withUnsafeMutableBytes { raw in
            for (v, p) in mesh.positions.enumerated() {
                for (l, x) in [p.x, p.y, p.z].enumerated() {
                    raw.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: v * 16 + l * 4, as: UInt32.self)
                }
                for (l, channel) in rgba.enumerated() { raw[v * 16 + 12 + l] = channel }
            }
        }
        out.append(contentsOf: vertices)
        var faces = [UInt8](repeating: 3, count: mesh.triangleCount * 13)
        faces.withUnsafeMutableBytes { raw in
            for t in 0..<mesh.triangleCount {
                for e in 0..<3 {
                    raw.storeBytes(of: mesh.indices[3 * t + e].littleEndian, toByteOffset: t * 13 + 1 + e * 4, as: UInt32.self)
                }
            }
        }
        out.append(contentsOf: faces)
        return out
    }

    // MARK: glTF 2.0 binary

    /// The grid that `glb(quantize: true)` puts positions on: steps of 0.02 mm (half a step's
    /// diagonal, 0.017 mm, is the most a vertex moves: well below the goal of 0.05 mm and two
    /// orders below a voxel), or the box's extent / 65,535 on an axis where a structure is longer
    /// than 65,536 such steps (1.3 m). A fixed step rather than the whole 16-bit range: the high
    /// bytes of neighbouring vertices repeat more, and a scene gzips 6 % smaller.
    public static let quantizationStepMM: Float = 0.02

    /// The quantization step (mm) on each axis for a box of this extent (mm).
    @inline(__always) static func quantizationStep(extentMM: SIMD3<Float>) -> SIMD3<Float> {
        pointwiseMax(SIMD3(repeating: quantizationStepMM), extentMM / 65535)
    }

    /// The largest displacement (mm) that `glb(quantize: true)` gives a vertex of `mesh`: half a
    /// step of its grid, along the step's diagonal.
    public static func quantizationErrorMM(_ mesh: Mesh) -> Double {
        guard var lo = mesh.positions.first else { return 0 }
        var hi = lo
        for p in mesh.positions {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        let step = quantizationStep(extentMM: hi - lo)
        return 0.5 * Double((step * step).sum()).squareRoot()
    }

    /// A structure's OBJ and its material file (named `materialFile` in the OBJ), in LPS millimetres.
    public static func objFiles(_ mesh: Mesh, materialFile: String) -> (obj: Data, material: Data) {
        (obj(mesh, materialFile: materialFile), material(mesh))
    }

    /// LPS millimetres → glTF metres: X = L, Y = S, Z = −P (a rotation: winding is kept).
    @inline(__always) static func gltf(_ p: SIMD3<Float>) -> SIMD3<Float> { SIMD3(p.x, p.z, -p.y) * 0.001 }

    static func glb(_ meshes: [Mesh], quantize: Bool) -> Data {
        var binary = Data()
        var bufferViews: [[String: Any]] = [], accessors: [[String: Any]] = []
        var gltfMeshes: [[String: Any]] = [], materials: [[String: Any]] = [], nodes: [[String: Any]] = []
        func view(_ data: Data, target: Int, stride: Int? = nil) -> Int {
            while binary.count % 4 != 0 { binary.append(0) }
            var entry: [String: Any] = ["buffer": 0, "byteOffset": binary.count, "byteLength": data.count, "target": target]
            if let stride { entry["byteStride"] = stride }
            binary.append(data)
            bufferViews.append(entry)
            return bufferViews.count - 1
        }
        for (index, source) in meshes.enumerated() {
            let mesh = source.normals.count == source.vertexCount ? source : source.withNormals()
            let points = mesh.positions.map(gltf)
            var lo = points.first!, hi = points.first!
            for p in points {
                lo = pointwiseMin(lo, p)
                hi = pointwiseMax(hi, p)
            }
            var node: [String: Any] = ["name": safeName(mesh.name), "mesh": index]
            var attributes: [String: Any] = [:]
            if quantize {
                // KHR_mesh_quantization: positions as 16-bit integers on the grid of
                // `quantizationStep`, the node's scale and translation map them back to metres.
                let scale = quantizationStep(extentMM: (hi - lo) * 1000) * 0.001
                // 8-byte stride (a padding short), as vertex attributes must be 4-byte aligned.
                var quantized = [Int16](repeating: 0, count: points.count * 4)
                for (v, p) in points.enumerated() {
                    let q = SIMD3<Int32>(((p - lo) / scale).rounded(.toNearestOrEven)) &- 32768
                    quantized[4 * v] = Int16(truncatingIfNeeded: q.x)
                    quantized[4 * v + 1] = Int16(truncatingIfNeeded: q.y)
                    quantized[4 * v + 2] = Int16(truncatingIfNeeded: q.z)
                }
                let data = bytes(quantized)
                let positionView = view(data, target: 34962, stride: 8)
                accessors.append(["bufferView": positionView, "componentType": 5122, "count": points.count, "type": "VEC3",
                                  "min": [-32768, -32768, -32768], "max": (0..<3).map { Int(((hi - lo) / scale)[$0].rounded()) - 32768 }])
                node["scale"] = [scale.x, scale.y, scale.z].map(Double.init)
                node["translation"] = (0..<3).map { Double(lo[$0]) + 32768 * Double(scale[$0]) }
                attributes["POSITION"] = accessors.count - 1
                var packed = [Int8](repeating: 0, count: points.count * 4)
                for (v, n) in mesh.normals.enumerated() {
                    let q = SIMD3<Int32>((SIMD3(n.x, n.z, -n.y) * 127).rounded(.toNearestOrEven)).clamped(lowerBound: SIMD3(repeating: -127),
                                                                                                      upperBound: SIMD3(repeating: 127))
                    packed[4 * v] = Int8(q.x)
                    packed[4 * v + 1] = Int8(q.y)
                    packed[4 * v + 2] = Int8(q.z)
                }
                let normals = bytes(packed)
                accessors.append(["bufferView": view(normals, target: 34962, stride: 4), "componentType": 5120,
                                  "normalized": true, "count": points.count, "type": "VEC3"])
                attributes["NORMAL"] = accessors.count - 1
            } else {
                let data = bytes(points.flatMap { [$0.x, $0.y, $0.z] })
                accessors.append(["bufferView": view(data, target: 34962), "componentType": 5126, "count": points.count,
                                  "type": "VEC3", "min": [lo.x, lo.y, lo.z].map(Double.init), "max": [hi.x, hi.y, hi.z].map(Double.init)])
                attributes["POSITION"] = accessors.count - 1
                let normals = bytes(mesh.normals.flatMap { [$0.x, $0.z, -$0.y] })
                accessors.append(["bufferView": view(normals, target: 34962), "componentType": 5126, "count": points.count,
                                  "type": "VEC3"])
                attributes["NORMAL"] = accessors.count - 1
            }
            // Quantized scenes are meant to be small: 16-bit indices where the mesh has few enough vertices.
            let short = quantize && mesh.vertexCount <= Int(UInt16.max)
            let indexData = short ? bytes(mesh.indices.map { UInt16(truncatingIfNeeded: $0) }) : bytes(mesh.indices)
            accessors.append(["bufferView": view(indexData, target: 34963), "componentType": short ? 5123 : 5125,
                              "count": mesh.indices.count, "type": "SCALAR"])
            let c = mesh.color
            var material: [String: Any] = [
                "name": safeName(mesh.name),
                "pbrMetallicRoughness": ["baseColorFactor": [c.r, c.g, c.b, c.a], "metallicFactor": 0.0, "roughnessFactor": 0.6],
            ]
            if c.a < 1 { material["alphaMode"] = "BLEND" }
            materials.append(material)
            gltfMeshes.append(["name": safeName(mesh.name),
                               "primitives": [["attributes": attributes, "indices": accessors.count - 1, "material": index, "mode": 4]]])
            nodes.append(node)
        }
        while binary.count % 4 != 0 { binary.append(0) }
        var document: [String: Any] = [
            "asset": ["version": "2.0", "generator": "VRPrep",
                      "extras": ["units": "metres", "axes": "X = patient left, Y = superior, Z = anterior (from DICOM LPS)"]],
            "scene": 0,
            "scenes": [["name": "patient", "nodes": Array(0..<nodes.count)]],
            "nodes": nodes, "meshes": gltfMeshes, "materials": materials,
            "accessors": accessors, "bufferViews": bufferViews, "buffers": [["byteLength": binary.count]],
        ]
        if quantize {
            document["extensionsUsed"] = ["KHR_mesh_quantization"]
            document["extensionsRequired"] = ["KHR_mesh_quantization"]
        }
        var json = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        while json.count % 4 != 0 { json.append(0x20) }
        var out = Data()
        out.append(le(UInt32(0x4654_6C67)))  // "glTF"
        out.append(le(UInt32(2)))
        out.append(le(UInt32(12 + 8 + json.count + 8 + binary.count)))
        out.append(le(UInt32(json.count)))
        out.append(le(UInt32(0x4E4F_534A)))  // "JSON"
        out.append(json)
        out.append(le(UInt32(binary.count)))
        out.append(le(UInt32(0x004E_4942)))  // "BIN\0"
        out.append(binary)
        return out
    }

    static func safeName(_ name: String) -> String {
        let cleaned = name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return cleaned.isEmpty ? "mesh" : String(cleaned)
    }
}

@inline(__always) func le<T: FixedWidthInteger>(_ value: T) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }

/// The bytes of an array of plain values (every supported platform is little-endian).
@inline(__always) func bytes<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }

@inline(__always) func cross(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> SIMD3<Float> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

@inline(__always) func normalized(_ v: SIMD3<Float>) -> SIMD3<Float> {
    let length = (v * v).sum().squareRoot()
    return length > 0 ? v / length : .zero
}
