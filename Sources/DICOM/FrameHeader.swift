import Foundation
import VolumeCore

/// Everything the loader needs to know about one 2D image: a single-frame file, or one
/// frame of a multi-frame file (per-frame functional groups resolved).
struct FrameHeader: Sendable {
    /// The name messages use, and where the file is on disk (they differ for archive entries).
    var path: String
    var diskPath: String
    var frame: Int
    var framesInFile: Int

    var sopClassUID: String
    var sopInstanceUID: String
    var studyInstanceUID: String
    var seriesInstanceUID: String
    var frameOfReferenceUID: String
    var modality: String
    var seriesDescription: String
    var studyDescription: String
    var seriesNumber: Int?
    var instanceNumber: Int?
    var acquisitionNumber: String?
    var imageType: String

    var rows: Int
    var columns: Int
    var format: PixelFormat
    var transferSyntax: String
    var lossy: Bool
    /// Compressed fragments (0 for native pixel data); frames of a file whose fragments map
    /// one to one may be decoded out of order.
    var fragments: Int

    var position: SIMD3<Double>?
    var rowDirection: SIMD3<Double>?
    var columnDirection: SIMD3<Double>?
    /// (spacing between columns = along a row, spacing between rows), mm.
    var pixelSpacing: SIMD2<Double>?
    var sliceThickness: Double?
    var spacingBetweenSlices: Double?
    var gantryTilt: Double?

    var slope: Double
    var intercept: Double
    var rescaleType: String?
    var window: (center: Double, width: Double)?

    /// Keys that may split one series UID into several volumes.
    var echo: String?
    var temporal: String?
    var stack: String?

    var normal: SIMD3<Double>? {
        guard let r = rowDirection, let c = columnDirection else { return nil }
        return r.cross(c).normalized
    }
}

/// Limits that protect against headers claiming absurd sizes.
public struct DicomLimits: Sendable {
    /// Largest decoded frame accepted, in bytes.
    public var maxFrameBytes: Int = 1 << 30
    /// Largest volume built, in bytes of voxels.
    public var maxVolumeBytes: Int
    /// Largest archive content extracted, in bytes.
    public var maxArchiveBytes: Int
    /// Largest expansion of an archive (bytes extracted per byte of archive) beyond 64 MiB.
    public var maxExpansionRatio: Double = 100

    public init(maxFrameBytes: Int = 1 << 30, maxVolumeBytes: Int? = nil, maxArchiveBytes: Int? = nil) {
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        self.maxFrameBytes = maxFrameBytes
        self.maxVolumeBytes = maxVolumeBytes ?? max(1 << 30, memory / 2)
        self.maxArchiveBytes = maxArchiveBytes ?? max(1 << 30, memory)
    }
}

extension FrameHeader {
    /// Reads the headers of every frame of `file`, or throws why the file cannot be an image.
    static func read(_ file: DicomFile, diskPath: String, limits: DicomLimits) throws(DicomError) -> [FrameHeader] {
        let path = file.path
        let sopClass = file.string(.sopClassUID) ?? file.string(.mediaStorageSOPClassUID) ?? ""
        let pixels = try file.pixelDataInfo()
        guard pixels.present else {
            let kind = DicomFile.nameOfUID(sopClass) ?? (sopClass.isEmpty ? "unknown SOP class" : sopClass)
            throw .unusable(path: path, reason: "no pixel data (\(kind)): not an image")
        }
        guard let rows = file.int(.rows), let columns = file.int(.columns), rows > 0, columns > 0,
              rows <= 65535, columns <= 65535 else {
            throw .unusable(path: path, reason: "missing or invalid Rows/Columns (0028,0010/0011)")
        }
        guard let bitsAllocated = file.int(.bitsAllocated) else {
            throw .unusable(path: path, reason: "missing BitsAllocated (0028,0100)")
        }
        let format = PixelFormat(
            bitsAllocated: bitsAllocated,
            bitsStored: file.int(.bitsStored) ?? bitsAllocated,
            highBit: file.int(.highBit) ?? ((file.int(.bitsStored) ?? bitsAllocated) - 1),
            isSigned: file.int(.pixelRepresentation) == 1,
            samplesPerPixel: file.int(.samplesPerPixel) ?? 1,
            photometricInterpretation: file.string(.photometricInterpretation) ?? "MONOCHROME2")
        if let reason = format.unsupportedReason { throw .unusable(path: path, reason: reason) }
        guard format.samplesPerPixel == 1, format.photometricInterpretation.hasPrefix("MONOCHROME") else {
            throw .unusable(path: path, reason: "colour image (\(format.photometricInterpretation), " +
                "\(format.samplesPerPixel) samples per pixel): volumes are built from monochrome images")
        }
        let frames = file.int(.numberOfFrames) ?? 1
        guard frames >= 1, frames <= 1_000_000 else {
            throw .unusable(path: path, reason: "invalid NumberOfFrames \(file.string(.numberOfFrames) ?? "")")
        }
        // Check the claimed size against what is really there before anyone allocates it.
        let frameBytes = format.frameBytes(pixels: rows * columns)
        guard frameBytes <= limits.maxFrameBytes else {
            throw .unusable(path: path, reason: "header claims \(columns)×\(rows) pixels of \(bitsAllocated) bits " +
                "(\(frameBytes) bytes per frame), over the limit of \(limits.maxFrameBytes) bytes")
        }
        if format.bitsAllocated == 1, frames > 1, (rows * columns) % 8 != 0 {
            throw .unusable(path: path, reason: "1-bit multi-frame data whose frames are not byte-aligned is not supported")
        }
        if pixels.encapsulated {
            guard pixels.decoderAvailable else {
                throw .decodeFailed(path: path, reason: "no decoder for transfer syntax \(pixels.transferSyntaxName) " +
                    "(\(pixels.transferSyntaxUID)) in DCMTK")
            }
            guard pixels.fragments >= frames else {
                throw .unusable(path: path, reason: "header claims \(frames) frames but the compressed pixel data " +
                    "holds \(pixels.fragments) fragment(s)")
            }
        } else {
            let needed = UInt64(frameBytes) * UInt64(frames)
            guard pixels.valueLength >= needed else {
                throw .unusable(path: path, reason: "pixel data holds \(pixels.valueLength) bytes but the header claims " +
                    "\(columns)×\(rows)×\(frames) pixels of \(bitsAllocated) bits (\(needed) bytes)")
            }
        }

        var base = FrameHeader(
            path: path, diskPath: diskPath, frame: 0, framesInFile: frames,
            sopClassUID: sopClass,
            sopInstanceUID: file.string(.sopInstanceUID) ?? "",
            studyInstanceUID: file.string(.studyInstanceUID) ?? "",
            seriesInstanceUID: file.string(.seriesInstanceUID) ?? "",
            frameOfReferenceUID: file.string(.frameOfReferenceUID) ?? "",
            modality: file.string(.modality) ?? "",
            seriesDescription: file.string(.seriesDescription) ?? "",
            studyDescription: file.string(.studyDescription) ?? "",
            seriesNumber: file.int(.seriesNumber),
            instanceNumber: file.int(.instanceNumber),
            acquisitionNumber: file.string(.acquisitionNumber).flatMap { $0.isEmpty ? nil : $0 },
            imageType: file.string(.imageType) ?? "",
            rows: rows, columns: columns, format: format,
            transferSyntax: pixels.transferSyntaxName, lossy: pixels.lossy, fragments: pixels.fragments,
            position: try file.checkedPosition(within: []),
            rowDirection: nil, columnDirection: nil,
            pixelSpacing: try file.checkedPixelSpacing(within: []),
            sliceThickness: try file.checkedSliceStep(.sliceThickness, within: []),
            spacingBetweenSlices: try file.checkedSliceStep(.spacingBetweenSlices, within: []),
            gantryTilt: file.double(.gantryDetectorTilt),
            slope: try file.checkedRescale(.rescaleSlope, within: []) ?? 1,
            intercept: try file.checkedRescale(.rescaleIntercept, within: []) ?? 0,
            rescaleType: file.string(.rescaleType),
            window: nil,
            echo: file.string(.echoNumbers).flatMap { $0.isEmpty ? nil : $0 },
            temporal: file.string(.temporalPositionIdentifier).flatMap { $0.isEmpty ? nil : $0 },
            stack: nil)
        (base.rowDirection, base.columnDirection) = try file.checkedOrientation(within: [])
        if let center = file.double(.windowCenter), let width = file.double(.windowWidth) {
            base.window = (center, width)
        }
        if base.slope == 0 { base.slope = 1 }  // a zero slope is a broken header, not a constant image
        if base.modality == "RTDOSE", file.double(.rescaleSlope) == nil,
           let scaling = try file.checked(.doseGridScaling, "DoseGridScaling", count: 1, in: rescaleSlopeRange)?[0] {
            base.slope = scaling  // dose in Gy = stored × DoseGridScaling
            base.rescaleType = "GY"
        }

        if frames == 1 { return [base] }
        if file.itemCount(.perFrameFunctionalGroupsSequence) != nil {
            return try enhancedFrames(file, base: base, frames: frames)
        }
        return simpleMultiFrames(file, base: base, frames: frames)
    }

    /// Enhanced CT/MR (and other functional-group objects): geometry and rescale per frame.
    private static func enhancedFrames(_ file: DicomFile, base: FrameHeader, frames: Int) throws(DicomError)
        -> [FrameHeader] {
        let items = file.itemCount(.perFrameFunctionalGroupsSequence) ?? 0
        guard items >= frames else {
            throw .unusable(path: file.path, reason: "PerFrameFunctionalGroupsSequence has \(items) items " +
                "for \(frames) frames")
        }
        let shared: [DicomFile.SequenceStep] = [(.sharedFunctionalGroupsSequence, 0)]
        var headers: [FrameHeader] = []
        headers.reserveCapacity(frames)
        for frame in 0..<frames {
            let perFrame: [DicomFile.SequenceStep] = [(.perFrameFunctionalGroupsSequence, frame)]
            // A functional group's attribute: per-frame item first, then the shared one.
            func value<T>(_ group: DicomTag, _ read: ([DicomFile.SequenceStep]) throws(DicomError) -> T?) throws(DicomError) -> T? {
                if let own = try read(perFrame + [(group, 0)]) { return own }
                return try read(shared + [(group, 0)])
            }
            var header = base
            header.frame = frame
            if let position = try value(.planePositionSequence, { path throws(DicomError) in try file.checkedPosition(within: path) }) {
                header.position = position
            }
            if let directions = try value(.planeOrientationSequence, { path throws(DicomError) in
                let (row, column) = try file.checkedOrientation(within: path)
                return row.map { ($0, column!) }
            }) {
                (header.rowDirection, header.columnDirection) = directions
            }
            if let spacing = try value(.pixelMeasuresSequence, { path throws(DicomError) in try file.checkedPixelSpacing(within: path) }) {
                header.pixelSpacing = spacing
            }
            if let thickness = try value(.pixelMeasuresSequence, { path throws(DicomError) in
                try file.checkedSliceStep(.sliceThickness, within: path)
            }) {
                header.sliceThickness = thickness
            }
            if let between = try value(.pixelMeasuresSequence, { path throws(DicomError) in
                try file.checkedSliceStep(.spacingBetweenSlices, within: path)
            }) {
                header.spacingBetweenSlices = between
            }
            if let slope = try value(.pixelValueTransformationSequence, { path throws(DicomError) in
                try file.checkedRescale(.rescaleSlope, within: path)
            }), slope != 0 {
                header.slope = slope
            }
            if let intercept = try value(.pixelValueTransformationSequence, { path throws(DicomError) in
                try file.checkedRescale(.rescaleIntercept, within: path)
            }) {
                header.intercept = intercept
            }
            if let type = try value(.pixelValueTransformationSequence, { file.string(.rescaleType, within: $0) }) {
                header.rescaleType = type
            }
            if let echoTime = try value(.mrEchoSequence, { file.string(.effectiveEchoTime, within: $0) }), !echoTime.isEmpty {
                header.echo = echoTime
            }
            header.stack = try value(.frameContentSequence, { file.string(.stackID, within: $0) })
            if let temporal = try value(.frameContentSequence, { file.string(.temporalPositionIndex, within: $0) }), !temporal.isEmpty {
                header.temporal = temporal
            }
            header.instanceNumber = try value(.frameContentSequence, { file.int(.inStackPositionNumber, within: $0) })
                ?? frame + 1
            headers.append(header)
        }
        return headers
    }

    /// Multi-frame objects without functional groups (RT Dose, legacy multi-frame): frames are
    /// stacked along the normal at GridFrameOffsetVector offsets or at the slice spacing.
    private static func simpleMultiFrames(_ file: DicomFile, base: FrameHeader, frames: Int) -> [FrameHeader] {
        let offsets = file.doubles(.gridFrameOffsetVector)
        let step = base.spacingBetweenSlices ?? base.sliceThickness
        return (0..<frames).map { frame in
            var header = base
            header.frame = frame
            header.instanceNumber = frame + 1
            if let origin = base.position, let normal = base.normal {
                if let offsets, offsets.count == frames {
                    header.position = origin + offsets[frame] * normal
                } else if let step {
                    header.position = origin + Double(frame) * step * normal
                } else {
                    header.position = nil  // no way to place the frames: ordered by frame number
                }
            }
            return header
        }
    }
}

/// Geometry and rescale attributes, checked where they enter: a value that is present but not a
/// number, not finite or outside its physical range refuses the file, naming the attribute.
/// (Absent values stay absent: the plan says what it assumes instead.)
private let rescaleSlopeRange = CheckedRange(-1e6, 1e6)
private let rescaleInterceptRange = CheckedRange(-1e7, 1e7)
private let directionCosineRange = CheckedRange(-1.001, 1.001)

private let keywords: [DicomTag: String] = [
    .pixelSpacing: "PixelSpacing", .imagerPixelSpacing: "ImagerPixelSpacing", .imagePositionPatient: "ImagePositionPatient",
    .imageOrientationPatient: "ImageOrientationPatient", .sliceThickness: "SliceThickness",
    .spacingBetweenSlices: "SpacingBetweenSlices", .rescaleSlope: "RescaleSlope", .rescaleIntercept: "RescaleIntercept",
]

extension DicomFile {
    /// The values of `tag` (nil when absent), or an error naming the file and the attribute when a
    /// value is not a number, when fewer than `count` values are given, or when one lies outside `range`.
    func checked(_ tag: DicomTag, _ keyword: String? = nil, count: Int, in range: CheckedRange,
                 within path: [SequenceStep] = []) throws(DicomError) -> [Double]? {
        let texts = strings(tag, within: path)
        guard !texts.isEmpty else { return nil }
        let name = "\(keyword ?? keywords[tag] ?? "attribute") \(tag)" + (path.isEmpty ? "" : " (in a functional group)")
        guard texts.count >= count else {
            throw .unusable(path: self.path, reason: "\(name) holds \(texts.count) value(s), \(count) are needed")
        }
        var numbers: [Double] = []
        for text in texts.prefix(count) {
            guard let number = Double(text) else {
                throw .unusable(path: self.path, reason: "\(name): '\(text)' is not a number")
            }
            if let problem = range.problem(number) {
                throw .unusable(path: self.path, reason: "\(name): \(problem)")
            }
            numbers.append(number)
        }
        return numbers
    }

    /// (along a row = x, along a column = y) in mm; DICOM gives (between rows, between columns).
    func checkedPixelSpacing(within path: [SequenceStep]) throws(DicomError) -> SIMD2<Double>? {
        let range = VolumeGeometry.spacingRange
        var values = try checked(.pixelSpacing, count: 2, in: range, within: path)
        if values == nil, path.isEmpty { values = try checked(.imagerPixelSpacing, count: 2, in: range) }
        return values.map { SIMD2($0[1], $0[0]) }
    }

    func checkedPosition(within path: [SequenceStep]) throws(DicomError) -> SIMD3<Double>? {
        try checked(.imagePositionPatient, count: 3, in: VolumeGeometry.coordinateRange, within: path).map { SIMD3($0[0], $0[1], $0[2]) }
    }

    /// SliceThickness or SpacingBetweenSlices: within the spacing range when positive; zero or
    /// negative (seen in real files, meaning "not given") are taken as absent.
    func checkedSliceStep(_ tag: DicomTag, within path: [SequenceStep]) throws(DicomError) -> Double? {
        let range = VolumeGeometry.spacingRange
        guard let value = try checked(tag, count: 1, in: CheckedRange(-range.upper, range.upper, unit: "mm"), within: path)?[0],
              value > 0 else { return nil }
        if let problem = range.problem(value) {
            throw .unusable(path: self.path, reason: "\(keywords[tag] ?? "") \(tag): \(problem)")
        }
        return value
    }

    func checkedRescale(_ tag: DicomTag, within path: [SequenceStep]) throws(DicomError) -> Double? {
        try checked(tag, count: 1, in: tag == .rescaleSlope ? rescaleSlopeRange : rescaleInterceptRange, within: path)?[0]
    }

    /// Row and column direction cosines: two unit vectors at right angles (within 1 %), or an
    /// error naming ImageOrientationPatient. Nil when absent.
    func checkedOrientation(within path: [SequenceStep]) throws(DicomError) -> (SIMD3<Double>?, SIMD3<Double>?) {
        guard let values = try checked(.imageOrientationPatient, count: 6, in: directionCosineRange, within: path) else {
            return (nil, nil)
        }
        let row = SIMD3(values[0], values[1], values[2]), column = SIMD3(values[3], values[4], values[5])
        let name = "ImageOrientationPatient \(DicomTag.imageOrientationPatient)"
        guard abs(row.length - 1) < 0.01, abs(column.length - 1) < 0.01 else {
            throw .unusable(path: self.path, reason: "\(name): the row and column directions must be unit vectors " +
                "(lengths \(format(row.length)) and \(format(column.length)))")
        }
        let r = row.normalized, c = column.normalized
        guard abs(r.dot(c)) < 0.01 else {
            throw .unusable(path: self.path, reason: "\(name): the row and column directions are not at right angles " +
                "(cosine \(format(r.dot(c))))")
        }
        return (r, c)
    }
}
