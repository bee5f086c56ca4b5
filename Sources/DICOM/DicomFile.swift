import CDCMTK
import Foundation

/// One parsed DICOM object (a Part 10 file, a raw dataset, or bytes in memory), read through DCMTK.
///
/// Large values such as pixel data stay on disk until a frame is decoded. An instance must be
/// used by one thread at a time; open several for parallel work.
public final class DicomFile {
    public let path: String
    private let handle: OpaquePointer

    /// Opens a file; `name` (default: the path) is what messages call it.
    /// Throws `DicomError.notDicom` when DCMTK cannot parse it.
    public init(path: String, name: String? = nil) throws(DicomError) {
        self.path = name ?? path
        var file: OpaquePointer?
        let status = path.withCString { cdcm_open_file($0, &file) }
        guard status.code == Int32(CDCM_OK), let file else {
            throw .notDicom(path: name ?? path, reason: Self.message(status))
        }
        handle = file
    }

    /// Parses DICOM bytes held in memory; `name` is used in messages.
    public init(data: Data, name: String) throws(DicomError) {
        path = name
        var file: OpaquePointer?
        let status = data.withUnsafeBytes { cdcm_open_memory($0.baseAddress, $0.count, &file) }
        guard status.code == Int32(CDCM_OK), let file else {
            throw .notDicom(path: name, reason: Self.message(status))
        }
        handle = file
    }

    deinit { cdcm_close(handle) }

    static func message(_ status: cdcm_status) -> String {
        var status = status
        return withUnsafeBytes(of: &status.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// DCMTK's version, e.g. "3.6.7".
    public static var dcmtkVersion: String { String(cString: cdcm_dcmtk_version()) }

    /// DCMTK's name for a well-known UID (SOP class, transfer syntax).
    public static func nameOfUID(_ uid: String) -> String? {
        uid.withCString { cdcm_uid_name($0) }.map { String(cString: $0) }
    }

    // MARK: Attributes

    /// A step into a sequence: item `item` (0-based) of sequence `tag`.
    public typealias SequenceStep = (tag: DicomTag, item: Int)

    /// The text of an attribute (values separated by "\"), nil when absent.
    /// `within` walks nested sequences first, e.g. per-frame functional groups.
    public func string(_ tag: DicomTag, within path: [SequenceStep] = []) -> String? {
        var steps = path.map { cdcm_path_step(tag: $0.tag.packed, item: UInt32(clamping: $0.item)) }
        steps.append(cdcm_path_step(tag: tag.packed, item: 0))
        var capacity = 256
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            var length = 0
            let status = cdcm_get_string(handle, steps, steps.count, &buffer, capacity, &length)
            switch Int(status.code) {
            case Int(CDCM_OK):
                return buffer.withUnsafeBufferPointer { chars in
                    chars.withMemoryRebound(to: UInt8.self) { trimmedText(UnsafeBufferPointer(rebasing: $0[..<length])) }
                }
            case Int(CDCM_BUFFER_TOO_SMALL) where length + 1 > capacity:
                capacity = length + 1
            default:
                return nil
            }
        }
    }

    /// All values of a multi-valued attribute, as text.
    public func strings(_ tag: DicomTag, within path: [SequenceStep] = []) -> [String] {
        guard let text = string(tag, within: path), !text.isEmpty else { return [] }
        return text.utf8.split(separator: UInt8(ascii: "\\"), omittingEmptySubsequences: false).map { part in
            part.withContiguousStorageIfAvailable(trimmedText) ?? trimmedText(Array(part))
        }
    }

    /// Numeric values (DS, IS, US, FD, ...); nil when absent or when any value is not a number.
    public func doubles(_ tag: DicomTag, within path: [SequenceStep] = []) -> [Double]? {
        let values = strings(tag, within: path)
        guard !values.isEmpty else { return nil }
        var numbers: [Double] = []
        for value in values {
            guard let number = Double(value), number.isFinite else { return nil }
            numbers.append(number)
        }
        return numbers
    }

    public func double(_ tag: DicomTag, within path: [SequenceStep] = []) -> Double? {
        doubles(tag, within: path)?.first
    }

    public func int(_ tag: DicomTag, within path: [SequenceStep] = []) -> Int? {
        guard let value = double(tag, within: path), value.rounded() == value,
              abs(value) < Double(Int32.max) else { return nil }
        return Int(value)
    }

    /// Number of items of a sequence, nil when absent.
    /// The bytes of an uncompressed value (OB, OW, native pixel data), nil when absent or
    /// compressed.
    public func bytes(_ tag: DicomTag, within path: [SequenceStep] = []) -> [UInt8]? {
        var steps = path.map { cdcm_path_step(tag: $0.tag.packed, item: UInt32(clamping: $0.item)) }
        steps.append(cdcm_path_step(tag: tag.packed, item: 0))
        var length = 0
        var probe: UInt8 = 0
        var status = cdcm_get_bytes(handle, steps, steps.count, &probe, 0, &length)
        if Int(status.code) == Int(CDCM_OK) { return [] }
        guard Int(status.code) == Int(CDCM_BUFFER_TOO_SMALL) else { return nil }
        var buffer = [UInt8](repeating: 0, count: length)
        status = cdcm_get_bytes(handle, steps, steps.count, &buffer, length, &length)
        return Int(status.code) == Int(CDCM_OK) ? buffer : nil
    }

    public func itemCount(_ tag: DicomTag, within path: [SequenceStep] = []) -> Int? {
        var steps = path.map { cdcm_path_step(tag: $0.tag.packed, item: UInt32(clamping: $0.item)) }
        steps.append(cdcm_path_step(tag: tag.packed, item: 0))
        var count = 0
        let status = cdcm_count_items(handle, steps, steps.count, &count)
        return status.code == Int32(CDCM_OK) ? count : nil
    }

    // MARK: Pixel data

    public struct PixelDataInfo: Sendable {
        public var present: Bool
        public var encapsulated: Bool
        public var decoderAvailable: Bool
        public var lossy: Bool
        public var valueLength: UInt64
        public var fragments: Int
        public var transferSyntaxUID: String
        public var transferSyntaxName: String
    }

    public func pixelDataInfo() throws(DicomError) -> PixelDataInfo {
        var info = cdcm_pixel_info()
        let status = cdcm_get_pixel_info(handle, &info)
        guard status.code == Int32(CDCM_OK) else {
            throw .unusable(path: path, reason: Self.message(status))
        }
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return PixelDataInfo(present: info.present != 0, encapsulated: info.encapsulated != 0,
                             decoderAvailable: info.decoder_available != 0, lossy: info.lossy != 0,
                             valueLength: info.value_length, fragments: Int(info.fragments),
                             transferSyntaxUID: text(info.transfer_syntax_uid),
                             transferSyntaxName: text(info.transfer_syntax_name))
    }

    /// Decodes frame `frame` into `buffer` as stored samples in machine byte order.
    /// Returns the frame's byte count and the colour model of the decoded samples.
    @discardableResult
    public func decodeFrame(_ frame: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DicomError)
        -> (bytes: Int, colorModel: String) {
        var frameBytes = 0
        var model = [CChar](repeating: 0, count: 64)
        let status = cdcm_decode_frame(handle, UInt32(frame), buffer.baseAddress, buffer.count,
                                       &frameBytes, &model, model.count)
        guard status.code == Int32(CDCM_OK) else {
            let reason = "frame \(frame): " + Self.message(status)
            throw .decodeFailed(path: path, reason: reason)
        }
        let colorModel = String(decoding: model.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                                as: UTF8.self)
        return (frameBytes, colorModel)
    }
}

/// Text without leading or trailing spaces and NULs (DICOM's padding). Cheaper than Foundation's
/// trimming, which shows in profiles when thousands of headers are read.
private func trimmedText<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8, Bytes.Index == Int {
    var start = bytes.startIndex, end = bytes.endIndex
    while start < end, bytes[start] == 0x20 || bytes[start] == 0 { start += 1 }
    while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0 { end -= 1 }
    return String(decoding: bytes[start..<end], as: UTF8.self)
}
