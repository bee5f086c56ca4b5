import Foundation
import VolumeCore

/// Writes small DICOM Part 10 files (Explicit VR Little Endian) for tests that need inputs no
/// real file has: other series UIDs, removed slices, tilted gantries, lying headers.
public struct DicomWriter {
    public struct Element {
        var group: UInt16
        var element: UInt16
        var vr: String
        var value: Data
    }

    public private(set) var elements: [Element] = []

    public init() {}

    /// A text attribute (UI, CS, DS, IS, LO, SH, PN, DA, TM...). Padded to even length.
    public mutating func set(_ group: UInt16, _ element: UInt16, _ vr: String, _ text: String) {
        var bytes = Data(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(vr == "UI" ? 0 : 0x20) }
        put(Element(group: group, element: element, vr: vr, value: bytes))
    }

    /// An unsigned short (US).
    public mutating func set(_ group: UInt16, _ element: UInt16, us value: UInt16) {
        put(Element(group: group, element: element, vr: "US", value: withUnsafeBytes(of: value.littleEndian) { Data($0) }))
    }

    /// Raw pixel data (OW).
    public mutating func setPixelData(_ data: Data) {
        var bytes = data
        if bytes.count % 2 == 1 { bytes.append(0) }
        put(Element(group: 0x7FE0, element: 0x0010, vr: "OW", value: bytes))
    }

    /// A sequence (SQ) of items, each item being a list of elements (explicit lengths).
    public mutating func setSequence(_ group: UInt16, _ element: UInt16, items: [DicomWriter]) {
        var body = Data()
        for item in items {
            let content = item.encodedElements()
            body += le16(0xFFFE) + le16(0xE000) + le32(UInt32(content.count)) + content
        }
        put(Element(group: group, element: element, vr: "SQ", value: body))
    }

    public mutating func remove(_ group: UInt16, _ element: UInt16) {
        elements.removeAll { $0.group == group && $0.element == element }
    }

    private mutating func put(_ element: Element) {
        remove(element.group, element.element)
        elements.append(element)
    }

    func encodedElements() -> Data {
        var out = Data()
        for e in elements.sorted(by: { ($0.group, $0.element) < ($1.group, $1.element) }) {
            out += le16(e.group) + le16(e.element) + Data(e.vr.utf8)
            if ["OB", "OW", "SQ", "UN", "UT", "OF", "OD", "OL", "UC", "UR"].contains(e.vr) {
                out += le16(0) + le32(UInt32(e.value.count))
            } else {
                out += le16(UInt16(e.value.count))
            }
            out += e.value
        }
        return out
    }

    /// The whole file: preamble, "DICM", meta header, dataset.
    public func fileData(sopClassUID: String = "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: String) -> Data {
        var meta = DicomWriter()
        meta.set(0x0002, 0x0001, "OB", "")
        meta.elements[0].value = Data([0, 1])
        meta.set(0x0002, 0x0002, "UI", sopClassUID)
        meta.set(0x0002, 0x0003, "UI", sopInstanceUID)
        meta.set(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1")
        meta.set(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.8.498.1")
        let metaBody = meta.encodedElements()
        var group = DicomWriter()
        group.put(Element(group: 0x0002, element: 0x0000, vr: "UL", value: le32(UInt32(metaBody.count))))
        return Data(count: 128) + Data("DICM".utf8) + group.encodedElements() + metaBody + encodedElements()
    }

    public func write(to url: URL, sopClassUID: String = "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: String) throws {
        try fileData(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID).write(to: url)
    }

    /// A CT slice: `pixels` (int16, rows × columns, row-major) at `position`, with the given
    /// orientation and series.
    public static func ctSlice(series: String, instance: Int, rows: Int, columns: Int, pixels: [Int16],
                               position: SIMD3<Double>, orientation: [Double] = [1, 0, 0, 0, 1, 0],
                               spacing: (row: Double, column: Double) = (1, 1),
                               extra: (inout DicomWriter) -> Void = { _ in }) -> DicomWriter {
        var w = DicomWriter()
        w.set(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2")
        w.set(0x0008, 0x0018, "UI", "\(series).\(instance)")
        w.set(0x0008, 0x0060, "CS", "CT")
        w.set(0x0008, 0x103E, "LO", "test series")
        w.set(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.8.498.777")
        w.set(0x0020, 0x000E, "UI", series)
        w.set(0x0020, 0x0013, "IS", String(instance))
        w.set(0x0020, 0x0032, "DS", [position.x, position.y, position.z].map { String($0) }.joined(separator: "\\"))
        w.set(0x0020, 0x0037, "DS", orientation.map { String($0) }.joined(separator: "\\"))
        w.set(0x0020, 0x0052, "UI", "1.2.826.0.1.3680043.8.498.778")
        w.set(0x0028, 0x0002, us: 1)
        w.set(0x0028, 0x0004, "CS", "MONOCHROME2")
        w.set(0x0028, 0x0010, us: UInt16(rows))
        w.set(0x0028, 0x0011, us: UInt16(columns))
        w.set(0x0028, 0x0030, "DS", "\(spacing.row)\\\(spacing.column)")
        w.set(0x0028, 0x0100, us: 16)
        w.set(0x0028, 0x0101, us: 16)
        w.set(0x0028, 0x0102, us: 15)
        w.set(0x0028, 0x0103, us: 1)
        w.set(0x0028, 0x1052, "DS", "0")
        w.set(0x0028, 0x1053, "DS", "1")
        w.setPixelData(pixels.withUnsafeBufferPointer { Data(buffer: $0) })
        extra(&w)
        return w
    }
}

private func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
private func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }

extension DicomWriter {
    /// A CT volume as a DICOM series (one file per slice, signed 16-bit HU), placed by its geometry.
    public static func series(of volume: Volume<Int16>, series: String) -> [(name: String, data: Data)] {
        let g = volume.geometry
        let (nx, ny) = (g.dimensions.x, g.dimensions.y)
        let (row, column) = (g.direction.column(0), g.direction.column(1))
        return (0..<g.dimensions.z).map { k in
            let pixels = Array(volume.voxels[(k * nx * ny)..<((k + 1) * nx * ny)])
            let writer = ctSlice(series: series, instance: k + 1, rows: ny, columns: nx, pixels: pixels,
                                 position: g.patientPosition(ofIndex: SIMD3(0, 0, k)),
                                 orientation: [row.x, row.y, row.z, column.x, column.y, column.z],
                                 spacing: (row: g.spacing.y, column: g.spacing.x))
            return (String(format: "slice%04d.dcm", k), writer.fileData(sopInstanceUID: "\(series).\(k + 1)"))
        }
    }
}
