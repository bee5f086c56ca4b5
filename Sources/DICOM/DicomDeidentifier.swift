import CDCMTK
import Foundation
import VolumeCore

/// De-identified DICOM copies of a loaded series' files (PS3.15 Annex E, Basic Application Level
/// Confidentiality Profile, `ConfidentialityProfile.basic`), written through DCMTK: every
/// attribute of the table removed, emptied, given a dummy value or its UIDs replaced (in nested
/// sequences too), every private attribute removed, the file meta information made anew, and the
/// de-identification recorded (PatientIdentityRemoved, DeidentificationMethod and its codes,
/// LongitudinalTemporalInformationModified). A file keeps its transfer syntax (compressed pixel data
/// untouched) unless its pixel data is replaced, which makes it Explicit VR Little Endian.
public enum DicomDeidentifier {
    public struct Options: Sendable {
        /// Moves every date by this many days (Retain Longitudinal Temporal Information with Modified
        /// Dates Option); nil: dates as the table says (removed or emptied).
        public var shiftDays: Int?
        /// DeidentificationMethod (0012,0063), at most 64 characters.
        public var method: String
        /// DeidentificationMethodCodeSequence (0012,0064) items (CID 7050).
        public var codes: [DicomSegmentation.Code]
        /// Dummy values (D) of our own for attributes the table empties or replaces.
        public var values: [UInt32: String]
        /// The table (default: the basic profile).
        public var rules: [ConfidentialityRule] = ConfidentialityProfile.basic

        public init(shiftDays: Int? = nil, method: String, codes: [DicomSegmentation.Code], values: [UInt32: String] = [:]) {
            (self.shiftDays, self.method, self.codes, self.values) = (shiftDays, method, codes, values)
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// One file written.
    public struct Written: Sendable {
        public var path: String
        /// The source file it was made from (a path on this machine: never shown in a shared place).
        public var source: String
        /// Frames whose pixels were replaced.
        public var replacedFrames: Int
        public var bytes: Int
    }

    /// Attributes that are never moved as dates: the birth date and time stay as the table says
    /// (emptied, removed), whatever the option.
    public static let neverShifted: [UInt32] = [0x0010_0030, 0x0010_0032]

    /// The files behind a series in slice order (each once), with the frames each gives: from its
    /// slice sources, or (an interpolated series) its file paths.
    public static func sourceFiles(of series: SeriesInfo) -> [(path: String, slices: [(slice: Int, frame: Int)])] {
        guard let sources = series.sliceSources else { return series.filePaths.map { ($0, []) } }
        var order: [String] = []
        var slices: [String: [(slice: Int, frame: Int)]] = [:]
        for (k, source) in sources.enumerated() {
            if slices[source.path] == nil { order.append(source.path) }
            slices[source.path, default: []].append((k, source.frame))
        }
        return order.map { ($0, slices[$0]!) }
    }

    /// Writes a de-identified copy of every file of `series` into `folder` (which must exist), named
    /// IM0001.dcm… in slice order. With `replacement` (a volume on the series' grid, in its values:
    /// HU for CT), each slice's pixels are replaced by the replacement's, converted back to the
    /// file's stored values through its RescaleSlope/Intercept and clamped to its stored range.
    /// `replaceUID` gives each UID's replacement (the same for the same UID).
    public static func write(_ series: LoadedSeries, replacement: AnyVolume? = nil, to folder: URL, options: Options,
                             replaceUID: @escaping @Sendable (String) -> String) throws(Failure) -> [Written] {
        let files = sourceFiles(of: series.info)
        if let replacement {
            guard series.info.sliceSources != nil else {
                throw Failure(description: "series \(series.info.seriesInstanceUID) was interpolated onto an even grid (its slices are " +
                              "unevenly spaced or some were missing): its slices are not images whose pixels could be replaced")
            }
            guard replacement.geometry.dimensions == series.volume.geometry.dimensions else {
                let (a, b) = (replacement.geometry.dimensions, series.volume.geometry.dimensions)
                throw Failure(description: "the replacement volume (\(a.x)×\(a.y)×\(a.z)) is not on the series' grid (\(b.x)×\(b.y)×\(b.z))")
            }
        }
        let box = UIDReplacer(replaceUID)
        let c = CStrings()
        // Rules: the table as this writer applies it, with our own dummy values where given.
        var rules = options.rules.map { rule -> cdcm_deid_rule in
            let action: Int32
            switch rule.action.applied {
            case .remove: action = Int32(CDCM_DEID_REMOVE)
            case .empty: action = Int32(CDCM_DEID_EMPTY)
            case .dummy: action = Int32(CDCM_DEID_DUMMY)
            case .uid: action = Int32(CDCM_DEID_UID)
            case .emptyOrUID: action = Int32(CDCM_DEID_EMPTY_OR_UID)
            }
            return cdcm_deid_rule(tag: rule.tag, mask: rule.mask, action: action, value: nil)
        }
        for (tag, value) in options.values.sorted(by: { $0.key < $1.key }) {
            let rule = cdcm_deid_rule(tag: tag, mask: 0xFFFF_FFFF, action: Int32(CDCM_DEID_DUMMY), value: c(value))
            if let index = rules.firstIndex(where: { $0.tag == tag && $0.mask == 0xFFFF_FFFF }) { rules[index] = rule } else { rules.insert(rule, at: 0) }
        }
        let codes = options.codes.map { cdcm_deid_code(value: c($0.value), scheme: c($0.scheme), meaning: c($0.meaning)) }
        var written: [Written] = []
        for (n, file) in files.enumerated() {
            let out = folder.appendingPathComponent(String(format: "IM%04d.dcm", n + 1))
            var frames: [(frame: Int, samples: [UInt8])] = []
            if let replacement {
                frames = try storedFrames(of: file.path, slices: file.slices, from: replacement)
            }
            let status = withExtendedLifetime((c, box)) { () -> cdcm_status in
                rules.withUnsafeBufferPointer { ruleBuffer in
                    codes.withUnsafeBufferPointer { codeBuffer in
                        neverShifted.withUnsafeBufferPointer { never in
                            var settings = cdcm_deid_settings()
                            settings.rules = ruleBuffer.baseAddress
                            settings.rule_count = ruleBuffer.count
                            settings.shift_dates = options.shiftDays == nil ? 0 : 1
                            settings.shift_days = Int32(clamping: options.shiftDays ?? 0)
                            settings.never_shifted = never.baseAddress
                            settings.never_shifted_count = never.count
                            settings.method = c(options.method)
                            settings.codes = codeBuffer.baseAddress
                            settings.code_count = codeBuffer.count
                            settings.replace_uid = { context, uid, out, capacity in
                                guard let context, let uid, let out else { return 0 }
                                let replaced = Unmanaged<UIDReplacer>.fromOpaque(context).takeUnretainedValue().replace(String(cString: uid))
                                let bytes = Array(replaced.utf8)
                                guard bytes.count < capacity else { return 0 }
                                for (i, byte) in bytes.enumerated() { out[i] = CChar(bitPattern: byte) }
                                out[bytes.count] = 0
                                return 1
                            }
                            settings.context = Unmanaged.passUnretained(box).toOpaque()
                            return withFrames(frames) { pointer, count in
                                cdcm_deidentify_file(file.path, out.path, &settings, pointer, count)
                            }
                        }
                    }
                }
            }
            guard status.code == Int32(CDCM_OK) else {
                try? FileManager.default.removeItem(at: out)
                throw Failure(description: "\(URL(fileURLWithPath: file.path).lastPathComponent): " +
                              withUnsafeBytes(of: status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0
            written.append(Written(path: out.path, source: file.path, replacedFrames: frames.count, bytes: bytes))
        }
        return written
    }

    /// Calls `body` with the frames as C structures pointing into their samples (one buffer for all).
    private static func withFrames<T>(_ frames: [(frame: Int, samples: [UInt8])],
                                      _ body: (UnsafePointer<cdcm_deid_frame>?, Int) -> T) -> T {
        guard !frames.isEmpty else { return body(nil, 0) }
        let samples = frames.flatMap(\.samples)
        return samples.withUnsafeBytes { raw in
            var offset = 0
            let described = frames.map { frame -> cdcm_deid_frame in
                defer { offset += frame.samples.count }
                return cdcm_deid_frame(frame: UInt32(frame.frame), samples: raw.baseAddress! + offset, bytes: frame.samples.count)
            }
            return described.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
        }
    }

    /// The replacement's slices that lie in `path`, as that file's stored samples (BitsAllocated
    /// each, little endian), converted back through each frame's RescaleSlope/Intercept.
    static func storedFrames(of path: String, slices: [(slice: Int, frame: Int)], from replacement: AnyVolume) throws(Failure)
        -> [(frame: Int, samples: [UInt8])] {
        let headers: [FrameHeader]
        do {
            headers = try FrameHeader.read(DicomFile(path: path), diskPath: path, limits: DicomLimits())
        } catch {
            throw Failure(description: "cannot read \(URL(fileURLWithPath: path).lastPathComponent) again: \(error.reason)")
        }
        let d = replacement.geometry.dimensions
        let pixels = d.x * d.y
        return try slices.map { item throws(Failure) in
            guard let header = headers.first(where: { $0.frame == item.frame }) ?? (headers.count == 1 ? headers.first : nil) else {
                throw Failure(description: "\(URL(fileURLWithPath: path).lastPathComponent) has no frame \(item.frame + 1)")
            }
            let format = header.format
            guard format.samplesPerPixel == 1, [8, 16, 32].contains(format.bitsAllocated), header.rows == d.y, header.columns == d.x else {
                throw Failure(description: "\(URL(fileURLWithPath: path).lastPathComponent): its pixels (\(format), \(header.columns)×\(header.rows)) " +
                              "cannot take a replacement of \(d.x)×\(d.y) single values")
            }
            let range = format.storedRange
            let (slope, intercept) = (header.slope == 0 ? 1 : header.slope, header.intercept)
            let bytesPerSample = format.bitsAllocated / 8
            var samples = [UInt8](repeating: 0, count: pixels * bytesPerSample)
            func store(_ value: Double, at i: Int) {
                let stored = value.isFinite ? ((value - intercept) / slope).rounded() : 0
                let clamped = Int64(min(max(stored, Double(range.lowerBound)), Double(range.upperBound)))
                let bits = UInt64(bitPattern: clamped)
                for b in 0..<bytesPerSample { samples[i * bytesPerSample + b] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(b))) }
            }
            let start = item.slice * pixels
            switch replacement {
            case .int16(let volume): for i in 0..<pixels { store(Double(volume.voxels[start + i]), at: i) }
            case .float32(let volume): for i in 0..<pixels { store(Double(volume.voxels[start + i]), at: i) }
            }
            return (item.frame, samples)
        }
    }
}

/// Holds the UID replacement for the C callback.
private final class UIDReplacer {
    let replace: @Sendable (String) -> String
    init(_ replace: @escaping @Sendable (String) -> String) { self.replace = replace }
}
