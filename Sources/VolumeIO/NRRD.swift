import Foundation
import VolumeCore

/// NRRD segmentations as 3D Slicer writes them (`.seg.nrrd`): a 3D label map, or a 4D stack of
/// layers (segments that overlap go to different layers), in LPS or RAS space, raw or gzip,
/// with each segment's name, colour, label value and layer in `SegmentN_…:=` fields. Read into
/// a label map (one label per segment, 1, 2, … in the file's order; where layers overlap, the
/// later segment keeps the voxel).
public enum NRRD {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func readSegmentation(_ url: URL, maxBytes: Int = 1 << 34) throws(Failure) -> (LabelMap, warnings: [String]) {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw Failure(description: "\(url.path): cannot read: \(error.localizedDescription)")
        }
        func fail(_ why: String) -> Failure { Failure(description: "\(url.path): \(why)") }
        guard data.starts(with: Data("NRRD000".utf8)) else { throw fail("not a NRRD file (no NRRD000x magic)") }
        // The header: lines up to the first empty line.
        guard let end = data.range(of: Data("\n\n".utf8)) else { throw fail("no end of header (an empty line)") }
        let header = String(decoding: data[data.startIndex..<end.lowerBound], as: UTF8.self)
        var fields: [String: String] = [:], keys: [String: String] = [:]
        for line in header.split(separator: "\n").dropFirst() where !line.hasPrefix("#") {
            if let range = line.range(of: ":=") {
                keys[String(line[..<range.lowerBound])] = String(line[range.upperBound...])
            } else if let range = line.range(of: ": ") {
                fields[String(line[..<range.lowerBound]).lowercased()] = String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
            }
        }
        guard fields["data file"] == nil && fields["datafile"] == nil else { throw fail("its data is in another file (detached header): give the one-file .seg.nrrd") }
        guard let dimension = fields["dimension"].flatMap(Int.init), dimension == 3 || dimension == 4 else {
            throw fail("dimension \(fields["dimension"] ?? "missing"): a segmentation has 3 (a label map) or 4 (layers)")
        }
        let sizes = (fields["sizes"] ?? "").split(separator: " ").compactMap { Int($0) }
        guard sizes.count == dimension, sizes.allSatisfy({ $0 > 0 }) else { throw fail("sizes '\(fields["sizes"] ?? "")' do not match dimension \(dimension)") }
        let type = (fields["type"] ?? "").lowercased()
        let bytesPerValue: Int, signed: Bool
        switch type {
        case "uchar", "unsigned char", "uint8", "uint8_t": (bytesPerValue, signed) = (1, false)
        case "signed char", "int8", "int8_t", "char": (bytesPerValue, signed) = (1, true)
        case "short", "short int", "signed short", "int16", "int16_t": (bytesPerValue, signed) = (2, true)
        case "ushort", "unsigned short", "uint16", "uint16_t": (bytesPerValue, signed) = (2, false)
        case "int", "signed int", "int32", "int32_t": (bytesPerValue, signed) = (4, true)
        case "uint", "unsigned int", "uint32", "uint32_t": (bytesPerValue, signed) = (4, false)
        default: throw fail("type '\(type)' is not a label type (8, 16 or 32-bit integers)")
        }
        let bigEndian = (fields["endian"] ?? "little") == "big"
        // Space: the three spatial axes' vectors (with their spacing) and the origin, in LPS.
        let space = (fields["space"] ?? "").lowercased()
        let flip: SIMD3<Double>
        switch space {
        case "left-posterior-superior", "lps": flip = SIMD3(1, 1, 1)
        case "right-anterior-superior", "ras": flip = SIMD3(-1, -1, 1)
        default: throw fail("space '\(space)' (left-posterior-superior or right-anterior-superior are read)")
        }
        func vectors(_ text: String) -> [SIMD3<Double>?] {
            text.split(separator: " ").map { part in
                let numbers = part.trimmingCharacters(in: CharacterSet(charactersIn: "()")).split(separator: ",").compactMap { Double($0) }
                return numbers.count == 3 ? SIMD3(numbers[0], numbers[1], numbers[2]) * flip : nil
            }
        }
        let directions = vectors(fields["space directions"] ?? "")
        let spatial = directions.compactMap { $0 }
        guard directions.count == dimension, spatial.count == 3, let origin = vectors(fields["space origin"] ?? "").first ?? nil else {
            throw fail("no space directions and origin for three spatial axes")
        }
        // With 4 dimensions, the non-spatial axis (its direction "none") holds the layers; it is the first in Slicer's files.
        guard dimension == 3 || directions[0] == nil else { throw fail("the layers' axis must come first") }
        let layers = dimension == 4 ? sizes[0] : 1
        let d = SIMD3(sizes[dimension - 3], sizes[dimension - 2], sizes[dimension - 1])
        let spacing = SIMD3((spatial[0] * spatial[0]).sum().squareRoot(), (spatial[1] * spatial[1]).sum().squareRoot(),
                            (spatial[2] * spatial[2]).sum().squareRoot())
        guard spacing.x > 0, spacing.y > 0, spacing.z > 0 else { throw fail("a space direction of length 0") }
        let geometry = VolumeGeometry(dimensions: d, spacing: spacing, origin: origin,
                                      direction: Matrix3(columns: spatial[0] / spacing.x, spatial[1] / spacing.y, spatial[2] / spacing.z))
        if let problem = geometry.problem { throw fail("impossible geometry: \(problem)") }
        let count = layers * d.x * d.y * d.z
        guard count * bytesPerValue <= maxBytes else { throw fail("\(count) values are over the limit of \(maxBytes) bytes") }
        var payload = Data(data[end.upperBound...])
        switch (fields["encoding"] ?? "raw").lowercased() {
        case "raw": break
        case "gzip", "gz":
            do { payload = try Gzip.decompress(payload, limit: count * bytesPerValue) } catch {
                throw fail("its gzip data cannot be read: \(error)")
            }
        case let other: throw fail("encoding '\(other)' (raw or gzip are read)")
        }
        guard payload.count >= count * bytesPerValue else {
            throw fail("\(payload.count) bytes of data, \(count) values of \(bytesPerValue) bytes need \(count * bytesPerValue)")
        }
        // The values, as integers.
        var values = [Int](repeating: 0, count: count)
        payload.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            for n in 0..<count {
                var v = 0
                for b in 0..<bytesPerValue {
                    let byte = Int(bytes[n * bytesPerValue + (bigEndian ? b : bytesPerValue - 1 - b)])
                    v = v << 8 | byte
                }
                if signed && v >= 1 << (8 * bytesPerValue - 1) { v -= 1 << (8 * bytesPerValue) }
                values[n] = v
            }
        }
        // Segments: name, colour, label value, layer (Slicer's fields); without them, each value is a label.
        struct Segment { var name: String; var color: RGBA; var value: Int; var layer: Int }
        var segments: [Segment] = []
        var n = 0
        while let name = keys["Segment\(n)_Name"] {
            let color = (keys["Segment\(n)_Color"] ?? "").split(separator: " ").compactMap { Double($0) }
            segments.append(Segment(name: name, color: color.count == 3 ? RGBA(color[0], color[1], color[2]) : RGBA(1, 1, 1),
                                    value: keys["Segment\(n)_LabelValue"].flatMap { Int($0) } ?? n + 1,
                                    layer: keys["Segment\(n)_Layer"].flatMap { Int($0) } ?? 0))
            n += 1
        }
        if segments.isEmpty {
            let present = Set(values).subtracting([0]).sorted()
            segments = present.map { Segment(name: "label \($0)", color: RGBA(1, 1, 1), value: $0, layer: 0) }
        }
        guard segments.count <= 255 else { throw fail("\(segments.count) segments: a scene holds at most 255") }
        var voxels = [UInt8](repeating: 0, count: d.x * d.y * d.z)
        var overlapped = 0
        let voxelCount = voxels.count
        for (index, segment) in segments.enumerated() {
            guard (0..<layers).contains(segment.layer) else { throw fail("segment '\(segment.name)' is in layer \(segment.layer) of \(layers)") }
            let label = UInt8(index + 1)
            for v in 0..<voxelCount {
                // 4D: the layer axis is the fastest.
                let value = layers == 1 ? values[v] : values[v * layers + segment.layer]
                guard value == segment.value else { continue }
                if voxels[v] != 0 { overlapped += 1 }
                voxels[v] = label
            }
        }
        let labels = segments.enumerated().map { LabelInfo(value: $0.offset + 1, name: $0.element.name, color: $0.element.color) }
        var warnings: [String] = []
        if overlapped > 0 { warnings.append("\(overlapped) voxels belong to several segments: each keeps the last segment's label") }
        return (LabelMap(storage: .uint8(Volume(geometry: geometry, voxels: voxels)), labels: labels), warnings)
    }
}
