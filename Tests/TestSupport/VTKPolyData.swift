import Foundation
import VolumeCore
import ZIPFoundation

/// Reads the points and triangle strips of a VTK XML PolyData file (.vtp) written with inline
/// binary, zlib-compressed arrays — the form of InVesalius' reference surface. Enough for tests.
public enum VTKPolyData {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func readTriangles(_ url: URL) throws -> Mesh {
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        func array(_ name: String, after section: String? = nil) throws -> Data {
            var searchStart = text.startIndex
            if let section, let range = text.range(of: "<\(section)>") { searchStart = range.upperBound }
            guard let tag = text.range(of: "Name=\"\(name)\"", range: searchStart..<text.endIndex),
                  let open = text.range(of: ">", range: tag.upperBound..<text.endIndex),
                  let close = text.range(of: "</DataArray>", range: open.upperBound..<text.endIndex) else {
                throw Failure(description: "\(url.lastPathComponent): no DataArray \(name)")
            }
            return try decode(String(text[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let points = try array("Points").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let connectivity = try array("connectivity", after: "Strips").withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let offsets = try array("offsets", after: "Strips").withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        var indices: [UInt32] = []
        var begin = 0
        for end in offsets.map(Int.init) {
            let strip = connectivity[begin..<end].map { UInt32($0) }
            for i in 0..<max(0, strip.count - 2) {
                let (a, b, c) = (strip[strip.startIndex + i], strip[strip.startIndex + i + 1], strip[strip.startIndex + i + 2])
                if a == b || b == c || a == c { continue }
                indices += i % 2 == 0 ? [a, b, c] : [b, a, c]
            }
            begin = end
        }
        let positions = stride(from: 0, to: points.count, by: 3).map { SIMD3(points[$0], points[$0 + 1], points[$0 + 2]) }
        return Mesh(positions: positions, indices: indices, name: url.lastPathComponent)
    }

    /// Inline binary: base64 of a UInt32 header [blocks, block size, last size, compressed sizes…],
    /// then base64 of the zlib blocks.
    static func decode(_ base64: String) throws -> Data {
        let chars = Array(base64.utf8)
        guard let first = Data(base64Encoded: Data(chars.prefix(16))), first.count >= 12 else {
            throw Failure(description: "bad block header")
        }
        let blocks = Int(first.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        let headerBytes = 4 * (3 + blocks)
        let headerChars = (headerBytes + 2) / 3 * 4
        guard let header = Data(base64Encoded: Data(chars.prefix(headerChars))),
              let body = Data(base64Encoded: Data(chars.dropFirst(headerChars))) else {
            throw Failure(description: "bad base64")
        }
        let sizes = (0..<blocks).map { i in Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 12 + 4 * i, as: UInt32.self) }) }
        var out = Data(), offset = 0
        for size in sizes {
            out.append(try inflate(body.subdata(in: offset..<(offset + size))))
            offset += size
        }
        return out
    }

    /// zlib stream → bytes, through ZIPFoundation's raw inflate (skipping the 2-byte zlib header).
    static func inflate(_ zlib: Data) throws -> Data {
        var output = Data()
        let raw = zlib.dropFirst(2)
        var position = raw.startIndex
        _ = try Data.decompress(size: Int64(raw.count), bufferSize: 1 << 16, skipCRC32: true, provider: { _, chunk in
            let end = min(raw.endIndex, position + chunk)
            defer { position = end }
            return raw.subdata(in: position..<end)
        }, consumer: { output.append($0) })
        return output
    }
}
