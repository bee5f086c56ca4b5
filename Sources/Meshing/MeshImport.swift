import Foundation
import VolumeCore

/// Reads meshes written by `vrprep mesh` or other tools: STL (binary or ASCII; corners welded
/// into shared vertices), OBJ (v and f lines; polygons fanned into triangles) and binary
/// little-endian PLY (float x, y, z; optional uchar colour; face lists). Coordinates are taken as
/// LPS millimetres, as VRPrep writes them.
public enum MeshImport {
    public static func read(_ url: URL) throws(MeshingError) -> Mesh {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidParameter(name: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        var mesh: Mesh
        switch url.pathExtension.lowercased() {
        case "stl": mesh = try stl(data, path: url.path)
        case "obj": mesh = try obj(data, path: url.path)
        case "ply": mesh = try ply(data, path: url.path)
        default: throw .invalidParameter(name: url.path, reason: "unknown mesh format: use .stl, .obj or .ply")
        }
        guard !mesh.indices.isEmpty else { throw .emptySurface(what: url.path) }
        if mesh.indices.contains(where: { Int($0) >= mesh.vertexCount }) {
            throw .invalidParameter(name: url.path, reason: "a face refers to a vertex that does not exist")
        }
        mesh.name = url.deletingPathExtension().lastPathComponent
        return mesh
    }

    // MARK: STL

    static func stl(_ data: Data, path: String) throws(MeshingError) -> Mesh {
        let bytes = [UInt8](data)
        // Binary when the size matches its triangle count (ASCII files may also start with "solid").
        if bytes.count >= 84 {
            let count = Int(UInt32(bytes[80]) | UInt32(bytes[81]) << 8 | UInt32(bytes[82]) << 16 | UInt32(bytes[83]) << 24)
            if 84 + count * 50 == bytes.count {
                var corners: [SIMD3<Float>] = []
                corners.reserveCapacity(count * 3)
                for t in 0..<count {
                    for c in 0..<3 {
                        let o = 84 + t * 50 + 12 + c * 12
                        corners.append(SIMD3((0..<3).map { float(bytes, o + 4 * $0) }))
                    }
                }
                return welded(corners)
            }
        }
        guard let text = String(data: data, encoding: .utf8), text.trimmingCharacters(in: .whitespaces).hasPrefix("solid") else {
            throw .invalidParameter(name: path, reason: "neither binary STL (size does not match its triangle count) nor ASCII STL")
        }
        var corners: [SIMD3<Float>] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.first == "vertex" else { continue }
            guard words.count == 4, let x = Float(words[1]), let y = Float(words[2]), let z = Float(words[3]) else {
                throw .invalidParameter(name: path, reason: "bad vertex line '\(line.prefix(80))'")
            }
            corners.append(SIMD3(x, y, z))
        }
        guard corners.count % 3 == 0 else { throw .invalidParameter(name: path, reason: "facets must have three vertices") }
        return welded(corners)
    }

    /// Triangle corners → shared vertices (exactly equal positions merged).
    static func welded(_ corners: [SIMD3<Float>]) -> Mesh {
        var index: [SIMD3<UInt32>: UInt32] = [:]
        var positions: [SIMD3<Float>] = [], indices: [UInt32] = []
        indices.reserveCapacity(corners.count)
        for p in corners {
            let key = SIMD3(p.x.bitPattern, p.y.bitPattern, p.z.bitPattern)
            if let i = index[key] {
                indices.append(i)
            } else {
                index[key] = UInt32(positions.count)
                indices.append(UInt32(positions.count))
                positions.append(p)
            }
        }
        return Mesh(positions: positions, indices: indices)
    }

    private static func float(_ bytes: [UInt8], _ o: Int) -> Float {
        Float(bitPattern: UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)
    }

    // MARK: OBJ

    static func obj(_ data: Data, path: String) throws(MeshingError) -> Mesh {
        guard let text = String(data: data, encoding: .utf8) else { throw .invalidParameter(name: path, reason: "not a text OBJ file") }
        var positions: [SIMD3<Float>] = [], indices: [UInt32] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.first == "v" {
                guard words.count >= 4, let x = Float(words[1]), let y = Float(words[2]), let z = Float(words[3]) else {
                    throw .invalidParameter(name: path, reason: "line \(number + 1): bad vertex")
                }
                positions.append(SIMD3(x, y, z))
            } else if words.first == "f" {
                var corners: [UInt32] = []
                for word in words.dropFirst() {
                    // "i", "i/t", "i//n" or "i/t/n"; negative = from the end.
                    guard let i = Int(word.split(separator: "/", omittingEmptySubsequences: false)[0]), i != 0 else {
                        throw .invalidParameter(name: path, reason: "line \(number + 1): bad face")
                    }
                    let resolved = i > 0 ? i - 1 : positions.count + i
                    guard resolved >= 0, resolved < positions.count else {
                        throw .invalidParameter(name: path, reason: "line \(number + 1): face refers to vertex \(i), which is not defined before it")
                    }
                    corners.append(UInt32(resolved))
                }
                guard corners.count >= 3 else { throw .invalidParameter(name: path, reason: "line \(number + 1): a face needs three vertices") }
                for k in 1..<(corners.count - 1) { indices += [corners[0], corners[k], corners[k + 1]] }
            }
        }
        return Mesh(positions: positions, indices: indices)
    }

    // MARK: PLY

    static func ply(_ data: Data, path: String) throws(MeshingError) -> Mesh {
        let bytes = [UInt8](data)
        guard let end = findHeaderEnd(bytes), let header = String(bytes: bytes[..<end], encoding: .ascii) else {
            throw .invalidParameter(name: path, reason: "not a PLY file (no 'end_header')")
        }
        let lines = header.split(whereSeparator: \.isNewline).map { $0.split(separator: " ").map(String.init) }
        guard lines.first == ["ply"], lines.contains(["format", "binary_little_endian", "1.0"]) else {
            throw .invalidParameter(name: path, reason: "only binary little-endian PLY is read")
        }
        let sizes = ["char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
                     "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8]
        var vertices = 0, faces = 0, element = ""
        var vertexProperties: [(name: String, type: String)] = []
        var faceList: (count: String, index: String)?
        for words in lines {
            if words.first == "element", words.count == 3 {
                element = words[1]
                if element == "vertex" { vertices = Int(words[2]) ?? -1 }
                if element == "face" { faces = Int(words[2]) ?? -1 }
            } else if words.first == "property" {
                if element == "vertex", words.count == 3 { vertexProperties.append((words[2], words[1])) }
                if element == "face", words.count == 5, words[1] == "list" { faceList = (words[2], words[3]) }
            }
        }
        guard vertices >= 0, faces >= 0, let faceList, let countSize = sizes[faceList.count], let indexSize = sizes[faceList.index],
              vertexProperties.allSatisfy({ sizes[$0.type] != nil }),
              let xyz = Optional(["x", "y", "z"].compactMap { n in vertexProperties.firstIndex { $0.name == n && ($0.type == "float" || $0.type == "float32") } }),
              xyz.count == 3 else {
            throw .invalidParameter(name: path, reason: "needs float x, y, z vertex properties and a face list")
        }
        let offsets = vertexProperties.reduce(into: [0]) { $0.append($0.last! + sizes[$1.type]!) }
        let stride = offsets.last!
        var o = end
        guard bytes.count >= o + vertices * stride else { throw .invalidParameter(name: path, reason: "truncated vertex data") }
        var positions: [SIMD3<Float>] = []
        positions.reserveCapacity(vertices)
        for v in 0..<vertices {
            positions.append(SIMD3(xyz.map { float(bytes, o + v * stride + offsets[$0]) }))
        }
        o += vertices * stride
        func unsigned(_ at: Int, _ size: Int) -> Int { (0..<size).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var indices: [UInt32] = []
        for _ in 0..<faces {
            guard o + countSize <= bytes.count else { throw .invalidParameter(name: path, reason: "truncated face data") }
            let n = unsigned(o, countSize)
            o += countSize
            guard n >= 3, o + n * indexSize <= bytes.count else { throw .invalidParameter(name: path, reason: "truncated or degenerate face") }
            let corners = (0..<n).map { UInt32(truncatingIfNeeded: unsigned(o + $0 * indexSize, indexSize)) }
            o += n * indexSize
            for k in 1..<(n - 1) { indices += [corners[0], corners[k], corners[k + 1]] }
        }
        return Mesh(positions: positions, indices: indices)
    }

    private static func findHeaderEnd(_ bytes: [UInt8]) -> Int? {
        let marker = Array("end_header\n".utf8)
        guard bytes.count >= marker.count else { return nil }
        for i in 0...min(bytes.count - marker.count, 65536) where bytes[i..<(i + marker.count)].elementsEqual(marker) {
            return i + marker.count
        }
        return nil
    }
}
