import Foundation
import ZIPFoundation

/// A `.usdz` package: a zip archive whose files are stored (not compressed) and begin at
/// multiples of 64 bytes, so that a reader can map them in place (Pixar's usdz specification;
/// USD's `UsdzPackageValidator` checks both). The first file is the root layer. ZIPFoundation
/// cannot align an entry's data, so the archive is written here: each local header carries an
/// extra field of padding (id 0x1986, as Pixar's own `usdzip` writes), fixed dates (1980-01-01)
/// so the same files give the same bytes.
public enum USDZArchive {
    public static let alignment = 64

    public static func data(_ files: [(name: String, data: Data)]) -> Data {
        var out = Data(), central = Data()
        for (name, data) in files {
            let nameBytes = Data(name.utf8)
            let offset = out.count
            let crc = data.crc32(checksum: 0)
            // Padding so that the data starts on the alignment: an extra field of its own header
            // (4 bytes) and zeros; none when the data is aligned already.
            let unpadded = offset + 30 + nameBytes.count
            var padding = (alignment - unpadded % alignment) % alignment
            if padding > 0 && padding < 4 { padding += alignment }
            var extra = Data()
            if padding > 0 {
                extra.append(le16(0x1986))
                extra.append(le16(UInt16(padding - 4)))
                extra.append(Data(count: padding - 4))
            }
            out.append(le32(0x0403_4B50))
            out.append(header(crc: crc, size: data.count, nameLength: nameBytes.count, extraLength: extra.count))
            out.append(nameBytes)
            out.append(extra)
            out.append(data)

            central.append(le32(0x0201_4B50))
            central.append(le16(20))  // made by: version 2.0, MS-DOS attributes
            central.append(header(crc: crc, size: data.count, nameLength: nameBytes.count, extraLength: 0))
            central.append(le16(0))  // comment length
            central.append(le16(0))  // disk number
            central.append(le16(0))  // internal attributes
            central.append(le32(0))  // external attributes
            central.append(le32(UInt32(offset)))
            central.append(nameBytes)
        }
        let centralOffset = out.count
        out.append(central)
        out.append(le32(0x0605_4B50))
        out.append(le16(0))
        out.append(le16(0))
        out.append(le16(UInt16(files.count)))
        out.append(le16(UInt16(files.count)))
        out.append(le32(UInt32(central.count)))
        out.append(le32(UInt32(centralOffset)))
        out.append(le16(0))  // comment length
        return out
    }

    /// What makes `data` not a usdz package a reader can map: a file compressed, or not starting
    /// on the alignment, or a first file that is not a USD layer. Empty for a good one.
    public static func problems(_ data: Data) -> [String] {
        let bytes = [UInt8](data)
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        var problems: [String] = [], offset = 0, first = true
        while offset + 30 <= bytes.count, u32(offset) == 0x0403_4B50 {
            let method = u16(offset + 8), size = u32(offset + 18), nameLength = u16(offset + 26), extraLength = u16(offset + 28)
            guard offset + 30 + nameLength <= bytes.count else { break }
            let name = String(decoding: bytes[(offset + 30)..<(offset + 30 + nameLength)], as: UTF8.self)
            let start = offset + 30 + nameLength + extraLength
            if method != 0 { problems.append("\(name) is compressed (method \(method)): a usdz stores its files") }
            if start % alignment != 0 { problems.append("\(name) starts at byte \(start), not on a multiple of \(alignment)") }
            if first && ![".usda", ".usdc", ".usd"].contains(where: name.lowercased().hasSuffix) {
                problems.append("its first file, \(name), is not a USD layer")
            }
            first = false
            offset = start + size
        }
        if first { problems.append("not a zip archive") }
        return problems
    }

    /// The part a local header and a central directory entry share, from "version needed".
    private static func header(crc: UInt32, size: Int, nameLength: Int, extraLength: Int) -> Data {
        var d = Data()
        d.append(le16(20))  // version needed to extract
        d.append(le16(0))  // flags
        d.append(le16(0))  // method: stored
        d.append(le16(0))  // time 00:00
        d.append(le16(0x21))  // date 1980-01-01
        d.append(le32(crc))
        d.append(le32(UInt32(size)))  // compressed size
        d.append(le32(UInt32(size)))  // size
        d.append(le16(UInt16(nameLength)))
        d.append(le16(UInt16(extraLength)))
        return d
    }

    private static func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    private static func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
}
