import Foundation
import VolumeCore

/// What went wrong reading or writing a NIfTI file; each case names the file.
public enum NIfTIError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .invalid(let path, let reason): return "\(path): not a valid NIfTI-1 file: \(reason)"
        case .unsupported(let path, let reason): return "\(path): unsupported NIfTI content: \(reason)"
        case .unwritable(let path, let reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// NIfTI-1 single files (`.nii`, `.nii.gz`), with the geometry as 3D Slicer, ITK-SNAP and
/// nibabel expect it: qform and sform (code 1, scanner) map voxel (i, j, k) to RAS millimetres,
/// i.e. our LPS position with x and y negated.
///
/// Label names and colours travel in a NIfTI-1 comment extension (ecode 6) holding JSON
/// (`{"labels":[{"value":1,"name":"bone","color":{…}}]}`); other readers ignore it.
public enum NIfTI {
    /// Values of a NIfTI image, by stored type.
    public enum Voxels: Sendable {
        case uint8([UInt8])
        case int16([Int16])
        case uint16([UInt16])
        case int32([Int32])
        case float32([Float])
        case float64([Double])
    }

    public struct Image: Sendable {
        public var geometry: VolumeGeometry
        public var voxels: Voxels
        public var labels: [LabelInfo]
        public var description: String
    }

    // MARK: Writing

    public static func write(_ labels: LabelMap, to url: URL) throws(NIfTIError) {
        try write(labelMapBytes(labels), gzip: url.path.hasSuffix(".gz"), to: url)
    }

    /// The bytes of `write(_:to:)`'s file, in memory (gzipped for a `.nii.gz`).
    public static func data(_ labels: LabelMap, gzip: Bool) throws(NIfTIError) -> Data {
        let file = labelMapBytes(labels)
        guard gzip else { return file }
        do {
            return try Gzip.compress(file)
        } catch {
            throw .unwritable(path: "(in memory)", reason: "\(error)")
        }
    }

    private static func labelMapBytes(_ labels: LabelMap) -> Data {
        let data: Data, datatype: Int16, bitpix: Int16
        switch labels.storage {
        case .uint8(let v): (data, datatype, bitpix) = (v.voxels.withUnsafeBytes { Data($0) }, 2, 8)
        case .uint16(let v): (data, datatype, bitpix) = (littleEndianBytes(v.voxels), 512, 16)
        }
        let extensionJSON = try? JSONEncoder.sorted.encode(LabelTable(labels: labels.labels))
        return bytes(geometry: labels.geometry, datatype: datatype, bitpix: bitpix, voxelBytes: data,
                     description: "VRPrep label map", intentName: "labels", extensionJSON: extensionJSON)
    }

    public static func write(_ volume: Volume<Int16>, to url: URL, description: String = "VRPrep volume") throws(NIfTIError) {
        try write(bytes(geometry: volume.geometry, datatype: 4, bitpix: 16, voxelBytes: littleEndianBytes(volume.voxels),
                        description: description, intentName: "", extensionJSON: nil), gzip: url.path.hasSuffix(".gz"), to: url)
    }

    public static func write(_ volume: Volume<Float>, to url: URL, description: String = "VRPrep volume") throws(NIfTIError) {
        let voxels = littleEndianBytes(volume.voxels.map(\.bitPattern))
        try write(bytes(geometry: volume.geometry, datatype: 16, bitpix: 32, voxelBytes: voxels, description: description,
                        intentName: "", extensionJSON: nil), gzip: url.path.hasSuffix(".gz"), to: url)
    }

    private static func write(_ file: Data, gzip: Bool, to url: URL) throws(NIfTIError) {
        do {
            let output = gzip ? try Gzip.compress(file) : file
            try output.write(to: url, options: .atomic)
        } catch {
            throw .unwritable(path: url.path, reason: "\(error)")
        }
    }

    /// A NIfTI-1 file (header, the label table as a comment extension, voxels).
    private static func bytes(geometry: VolumeGeometry, datatype: Int16, bitpix: Int16, voxelBytes: Data,
                              description: String, intentName: String, extensionJSON: Data?) -> Data {
        var header = HeaderWriter()
        header.int32(348, at: 0)
        header.byte(UInt8(ascii: "r"), at: 38)
        let d = geometry.dimensions
        for (index, value) in [3, d.x, d.y, d.z, 1, 1, 1, 1].enumerated() { header.int16(Int16(value), at: 40 + 2 * index) }
        header.int16(datatype, at: 70)
        header.int16(bitpix, at: 72)
        // LPS → RAS: negate the first two rows of the index-to-patient matrix.
        let m = geometry.indexToPatientMatrix
        let ras = [m[0].map { -$0 }, m[1].map { -$0 }, m[2]]
        let quaternion = Quaternion(direction: geometry.direction)
        header.float(Float(quaternion?.qfac ?? 1), at: 76)
        for axis in 0..<3 { header.float(Float(geometry.spacing[axis]), at: 80 + 4 * axis) }
        var extensionBlock = Data()
        if let extensionJSON {
            var body = extensionJSON
            let size = (8 + body.count + 15) / 16 * 16
            body.append(Data(count: size - 8 - body.count))
            extensionBlock = le32(Int32(size)) + le32(6) + body  // NIFTI_ECODE_COMMENT
        }
        header.float(Float(352 + extensionBlock.count), at: 108)  // vox_offset
        header.float(1, at: 112)  // scl_slope
        header.byte(2, at: 123)  // xyzt_units: mm
        header.text(description, at: 148, length: 80)
        // qform: rotation and offset (only for orthonormal directions); sform: the full matrix.
        if let quaternion {
            header.int16(1, at: 252)
            header.float(Float(quaternion.b), at: 256)
            header.float(Float(quaternion.c), at: 260)
            header.float(Float(quaternion.d), at: 264)
            for axis in 0..<3 { header.float(Float(ras[axis][3]), at: 268 + 4 * axis) }
        }
        header.int16(1, at: 254)
        for row in 0..<3 { for column in 0..<4 { header.float(Float(ras[row][column]), at: 280 + 16 * row + 4 * column) } }
        header.text(intentName, at: 328, length: 16)
        header.text("n+1", at: 344, length: 4)
        var file = header.bytes
        file += Data([extensionBlock.isEmpty ? 0 : 1, 0, 0, 0])
        file += extensionBlock
        file += voxelBytes
        return file
    }

    // MARK: Reading

    /// Reads a `.nii` or `.nii.gz` file (little- or big-endian), refusing sizes its bytes do not hold.
    public static func read(_ url: URL, maxBytes: Int = 1 << 34) throws(NIfTIError) -> Image {
        let path = url.path
        var data: Data
        do {
            data = try Data(contentsOf: url)
            if Gzip.isCompressed(data) { data = try Gzip.decompress(data, limit: maxBytes) }
        } catch let error as Gzip.Failure {
            throw .unreadable(path: path, reason: error.description)
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        guard data.count >= 348 else { throw .invalid(path: path, reason: "only \(data.count) bytes, a header has 348") }
        let reader: HeaderReader
        if HeaderReader(data, swapped: false).int32(0) == 348 {
            reader = HeaderReader(data, swapped: false)
        } else if HeaderReader(data, swapped: true).int32(0) == 348 {
            reader = HeaderReader(data, swapped: true)
        } else {
            throw .invalid(path: path, reason: "sizeof_hdr is not 348")
        }
        let magic = reader.text(344, length: 4)
        guard magic == "n+1" || magic == "ni1" else {
            throw .invalid(path: path, reason: "magic \"\(magic)\" is not \"n+1\" (only single-file NIfTI-1 is read)")
        }
        guard magic == "n+1" else { throw .unsupported(path: path, reason: "a .hdr/.img pair; give the single-file form") }
        let rank = Int(reader.int16(40))
        let dims = (1...7).map { Int(reader.int16(40 + 2 * $0)) }
        guard (3...7).contains(rank), dims[0] > 0, dims[1] > 0, dims[2] > 0,
              dims[3...].prefix(rank - 3).allSatisfy({ $0 == 1 }) else {
            throw .unsupported(path: path, reason: "dim \(rank): \(dims.prefix(max(0, min(rank, 7)))) is not a 3D volume")
        }
        let datatype = reader.int16(70)
        let bytesPerVoxel: Int
        switch datatype {
        case 2: bytesPerVoxel = 1
        case 4, 512: bytesPerVoxel = 2
        case 8, 16: bytesPerVoxel = 4
        case 64: bytesPerVoxel = 8
        default: throw .unsupported(path: path, reason: "datatype \(datatype)")
        }
        // vox_offset is a float: NaN, an infinity or a value beyond Int's range trapped in Int(_:), and
        // one just below Int.max overflowed the sum below (found writing the header mutations of
        // Tests/SegmentationTests/NIfTIMutationTests.swift).
        let voxOffset = Double(reader.float(108))
        guard voxOffset.isFinite, voxOffset >= 0, voxOffset <= Double(data.count) else {
            throw .invalid(path: path, reason: "vox_offset \(voxOffset) is outside the file's \(data.count) bytes")
        }
        let offset = Int(voxOffset)
        let count = dims[0] * dims[1] * dims[2]
        guard offset >= 348, count.multipliedReportingOverflow(by: bytesPerVoxel).overflow == false,
              offset + count * bytesPerVoxel <= data.count else {
            throw .invalid(path: path, reason: "header claims \(dims[0])×\(dims[1])×\(dims[2]) voxels of " +
                "\(bytesPerVoxel) bytes at offset \(offset), the file holds \(data.count) bytes")
        }
        let body = data.subdata(in: offset..<(offset + count * bytesPerVoxel))
        let voxels: Voxels
        switch datatype {
        case 2: voxels = .uint8([UInt8](body))
        case 4: voxels = .int16(decode(body, count, swapped: reader.swapped).map { Int16(bitPattern: $0) })
        case 512: voxels = .uint16(decode(body, count, swapped: reader.swapped))
        case 8: voxels = .int32(decode(body, count, swapped: reader.swapped).map { Int32(bitPattern: $0) })
        case 16: voxels = .float32((decode(body, count, swapped: reader.swapped) as [UInt32]).map { Float(bitPattern: $0) })
        default: voxels = .float64((decode(body, count, swapped: reader.swapped) as [UInt64]).map { Double(bitPattern: $0) })
        }
        let geometry = try self.geometry(reader, dimensions: SIMD3(dims[0], dims[1], dims[2]), path: path)
        return Image(geometry: geometry, voxels: voxels, labels: labelTable(data, reader: reader, end: offset),
                     description: reader.text(148, length: 80))
    }

    /// Reads a label map: integer voxels 0…65535 (UInt8 storage when they fit).
    public static func readLabelMap(_ url: URL) throws(NIfTIError) -> LabelMap {
        let image = try read(url)
        func labels(_ values: [Int]) throws(NIfTIError) -> LabelMap {
            guard let high = values.max(), let low = values.min(), low >= 0, high <= 65535 else {
                throw .unsupported(path: url.path, reason: "label values must be whole numbers in 0…65535")
            }
            var seen = [Bool](repeating: false, count: high + 1)
            values.withUnsafeBufferPointer { for value in $0 { seen[value] = true } }
            let present = (1..<(high + 1)).filter { seen[$0] }
            let infos = present.map { value in
                image.labels.first { $0.value == value } ?? LabelInfo(value: value, name: "label \(value)", color: RGBA(1, 1, 1))
            }
            if high <= 255 {
                return LabelMap(storage: .uint8(Volume(geometry: image.geometry, voxels: values.map { UInt8($0) })), labels: infos)
            }
            return LabelMap(storage: .uint16(Volume(geometry: image.geometry, voxels: values.map { UInt16($0) })), labels: infos)
        }
        switch image.voxels {
        case .uint8(let v):
            // The values present (a histogram: a Set of 10⁸ bytes costs a second).
            var seen = [Bool](repeating: false, count: 256)
            v.withUnsafeBufferPointer { for value in $0 { seen[Int(value)] = true } }
            let present = (1..<256).filter { seen[$0] }.map { UInt8($0) }
            let infos = present.map { value in
                image.labels.first { $0.value == Int(value) } ?? LabelInfo(value: Int(value), name: "label \(value)", color: RGBA(1, 1, 1))
            }
            return LabelMap(storage: .uint8(Volume(geometry: image.geometry, voxels: v)), labels: infos)
        case .uint16(let v): return try labels(v.map(Int.init))
        case .int16(let v): return try labels(v.map(Int.init))
        case .int32(let v): return try labels(v.map(Int.init))
        case .float32(let v):
            guard v.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e6 }) else {
                throw .unsupported(path: url.path, reason: "label values must be whole numbers")
            }
            return try labels(v.map { Int($0) })
        case .float64(let v):
            guard v.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e6 }) else {
                throw .unsupported(path: url.path, reason: "label values must be whole numbers")
            }
            return try labels(v.map { Int($0) })
        }
    }

    private static func geometry(_ reader: HeaderReader, dimensions: SIMD3<Int>, path: String) throws(NIfTIError) -> VolumeGeometry {
        let pixdim = (1...3).map { Double(reader.float(76 + 4 * $0)) }
        let sformCode = reader.int16(254), qformCode = reader.int16(252)
        var columns: [SIMD3<Double>], origin: SIMD3<Double>
        if sformCode > 0 {
            let rows = (0..<3).map { r in (0..<4).map { c in Double(reader.float(280 + 16 * r + 4 * c)) } }
            columns = (0..<3).map { c in SIMD3(-rows[0][c], -rows[1][c], rows[2][c]) }
            origin = SIMD3(-rows[0][3], -rows[1][3], rows[2][3])
        } else if qformCode > 0 {
            let b = Double(reader.float(256)), c = Double(reader.float(260)), d = Double(reader.float(264))
            let qfac: Double = reader.float(76) < 0 ? -1 : 1
            let rotation = Quaternion(b: b, c: c, d: d, qfac: qfac).matrix  // RAS
            columns = (0..<3).map { axis in
                let column = rotation.column(axis) * pixdim[axis]
                return SIMD3(-column.x, -column.y, column.z)
            }
            origin = SIMD3(-Double(reader.float(268)), -Double(reader.float(272)), Double(reader.float(276)))
        } else {
            // No orientation: NIfTI's fallback is RAS axes with pixdim spacing.
            columns = [SIMD3(-pixdim[0], 0, 0), SIMD3(0, -pixdim[1], 0), SIMD3(0, 0, pixdim[2])]
            origin = .zero
        }
        let spacing = SIMD3(columns[0].length, columns[1].length, columns[2].length)
        guard spacing.x > 0, spacing.y > 0, spacing.z > 0, spacing.x.isFinite, spacing.y.isFinite, spacing.z.isFinite else {
            throw .invalid(path: path, reason: "voxel size is zero or not finite")
        }
        return VolumeGeometry(dimensions: dimensions, spacing: spacing, origin: origin,
                              direction: Matrix3(columns: columns[0] / spacing.x, columns[1] / spacing.y, columns[2] / spacing.z))
    }

    private static func labelTable(_ data: Data, reader: HeaderReader, end: Int) -> [LabelInfo] {
        guard data.count >= 352, data[data.startIndex + 348] != 0 else { return [] }
        var position = 352
        while position + 8 <= end {
            let size = Int(reader.int32(position)), code = reader.int32(position + 4)
            guard size >= 16, position + size <= end else { break }
            if code == 6 {
                let body = data.subdata(in: (position + 8)..<(position + size))
                let trimmed = body.prefix { $0 != 0 }
                if let table = try? JSONDecoder().decode(LabelTable.self, from: Data(trimmed)) { return table.labels }
            }
            position += size
        }
        return []
    }
}

private struct LabelTable: Codable {
    var labels: [LabelInfo]
}

/// A unit quaternion (b, c, d; a ≥ 0 implied) and qfac, as NIfTI's qform stores a rotation.
struct Quaternion {
    var b: Double, c: Double, d: Double, qfac: Double

    init(b: Double, c: Double, d: Double, qfac: Double) {
        (self.b, self.c, self.d, self.qfac) = (b, c, d, qfac)
    }

    /// From an LPS direction matrix; nil when it is not orthonormal (a sheared slice axis).
    init?(direction: Matrix3) {
        guard (direction.transposed * direction).maxDifference(to: .identity) < 1e-4 else { return nil }
        // To RAS, then make it a proper rotation (det +1) by flipping the third column: qfac.
        var r = Matrix3(rows: -direction.rows.0, -direction.rows.1, direction.rows.2)
        var qfac = 1.0
        if r.determinant < 0 {
            qfac = -1
            r = Matrix3(columns: r.column(0), r.column(1), -r.column(2))
        }
        let (r11, r12, r13) = (r.rows.0.x, r.rows.0.y, r.rows.0.z)
        let (r21, r22, r23) = (r.rows.1.x, r.rows.1.y, r.rows.1.z)
        let (r31, r32, r33) = (r.rows.2.x, r.rows.2.y, r.rows.2.z)
        var a = r11 + r22 + r33 + 1, b: Double, c: Double, d: Double
        if a > 0.5 {
            a = 0.5 * a.squareRoot()
            b = 0.25 * (r32 - r23) / a
            c = 0.25 * (r13 - r31) / a
            d = 0.25 * (r21 - r12) / a
        } else {
            let xd = 1 + r11 - (r22 + r33), yd = 1 + r22 - (r11 + r33), zd = 1 + r33 - (r11 + r22)
            if xd > 1 {
                b = 0.5 * xd.squareRoot(); c = 0.25 * (r12 + r21) / b; d = 0.25 * (r13 + r31) / b; a = 0.25 * (r32 - r23) / b
            } else if yd > 1 {
                c = 0.5 * yd.squareRoot(); b = 0.25 * (r12 + r21) / c; d = 0.25 * (r23 + r32) / c; a = 0.25 * (r13 - r31) / c
            } else {
                d = 0.5 * zd.squareRoot(); b = 0.25 * (r13 + r31) / d; c = 0.25 * (r23 + r32) / d; a = 0.25 * (r21 - r12) / d
            }
            if a < 0 { (b, c, d) = (-b, -c, -d) }
        }
        self.init(b: b, c: c, d: d, qfac: qfac)
    }

    /// The rotation (RAS), third column multiplied by qfac.
    var matrix: Matrix3 {
        let a = max(0, 1 - (b * b + c * c + d * d)).squareRoot()
        let rotation = Matrix3(rows: SIMD3(a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)),
                               SIMD3(2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)),
                               SIMD3(2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b))
        return Matrix3(columns: rotation.column(0), rotation.column(1), rotation.column(2) * qfac)
    }
}

private struct HeaderWriter {
    var bytes = Data(count: 348)
    mutating func byte(_ value: UInt8, at offset: Int) { bytes[offset] = value }
    mutating func int16(_ value: Int16, at offset: Int) { put(UInt16(bitPattern: value), at: offset) }
    mutating func int32(_ value: Int32, at offset: Int) { put(UInt32(bitPattern: value), at: offset) }
    mutating func float(_ value: Float, at offset: Int) { put(value.bitPattern, at: offset) }
    mutating func text(_ value: String, at offset: Int, length: Int) {
        for (index, byte) in value.utf8.prefix(length - 1).enumerated() { bytes[offset + index] = byte }
    }
    private mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
        }
    }
}

private struct HeaderReader {
    let data: Data
    let swapped: Bool
    init(_ data: Data, swapped: Bool) {
        self.data = data
        self.swapped = swapped
    }
    func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<MemoryLayout<T>.size { raw[index] = data[data.startIndex + offset + index] }
        }
        return swapped ? T(littleEndian: value).byteSwapped : T(littleEndian: value)
    }
    func int16(_ offset: Int) -> Int16 { get(offset, Int16.self) }
    func int32(_ offset: Int) -> Int32 { get(offset, Int32.self) }
    func float(_ offset: Int) -> Float { Float(bitPattern: get(offset, UInt32.self)) }
    func text(_ offset: Int, length: Int) -> String {
        let bytes = data[(data.startIndex + offset)..<(data.startIndex + offset + length)].prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func decode<T: FixedWidthInteger>(_ body: Data, _ count: Int, swapped: Bool) -> [T] {
    var values = [T](repeating: 0, count: count)
    _ = values.withUnsafeMutableBytes { body.copyBytes(to: $0) }
    if swapped { for index in values.indices { values[index] = values[index].byteSwapped } }
    return values
}

private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> Data {
    values.withUnsafeBytes { Data($0) }  // every supported platform is little-endian
}

private func le32(_ value: Int32) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
