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
            position: vector3(file.doubles(.imagePositionPatient)),
            rowDirection: nil, columnDirection: nil,
            pixelSpacing: spacing2(file.doubles(.pixelSpacing) ?? file.doubles(.imagerPixelSpacing)),
            sliceThickness: positive(file.double(.sliceThickness)),
            spacingBetweenSlices: positive(file.double(.spacingBetweenSlices)),
            gantryTilt: file.double(.gantryDetectorTilt),
            slope: file.double(.rescaleSlope) ?? 1, intercept: file.double(.rescaleIntercept) ?? 0,
            rescaleType: file.string(.rescaleType),
            window: nil,
            echo: file.string(.echoNumbers).flatMap { $0.isEmpty ? nil : $0 },
            temporal: file.string(.temporalPositionIdentifier).flatMap { $0.isEmpty ? nil : $0 },
            stack: nil)
        (base.rowDirection, base.columnDirection) = orientation(file.doubles(.imageOrientationPatient))
        if let center = file.double(.windowCenter), let width = file.double(.windowWidth) {
            base.window = (center, width)
        }
        if base.slope == 0 { base.slope = 1 }  // a zero slope is a broken header, not a constant image
        if base.modality == "RTDOSE", file.double(.rescaleSlope) == nil, let scaling = file.double(.doseGridScaling) {
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
        return (0..<frames).map { frame in
            let perFrame: [DicomFile.SequenceStep] = [(.perFrameFunctionalGroupsSequence, frame)]
            // A functional group's attribute: per-frame item first, then the shared one.
            func value<T>(_ group: DicomTag, _ read: ([DicomFile.SequenceStep]) -> T?) -> T? {
                read(perFrame + [(group, 0)]) ?? read(shared + [(group, 0)])
            }
            var header = base
            header.frame = frame
            if let position = value(.planePositionSequence, { vector3(file.doubles(.imagePositionPatient, within: $0)) }) {
                header.position = position
            }
            let iop = value(.planeOrientationSequence, { file.doubles(.imageOrientationPatient, within: $0) })
            if iop != nil { (header.rowDirection, header.columnDirection) = orientation(iop) }
            if let spacing = value(.pixelMeasuresSequence, { spacing2(file.doubles(.pixelSpacing, within: $0)) }) {
                header.pixelSpacing = spacing
            }
            if let thickness = value(.pixelMeasuresSequence, { positive(file.double(.sliceThickness, within: $0)) }) {
                header.sliceThickness = thickness
            }
            if let between = value(.pixelMeasuresSequence, { positive(file.double(.spacingBetweenSlices, within: $0)) }) {
                header.spacingBetweenSlices = between
            }
            if let slope = value(.pixelValueTransformationSequence, { file.double(.rescaleSlope, within: $0) }), slope != 0 {
                header.slope = slope
            }
            if let intercept = value(.pixelValueTransformationSequence, { file.double(.rescaleIntercept, within: $0) }) {
                header.intercept = intercept
            }
            if let type = value(.pixelValueTransformationSequence, { file.string(.rescaleType, within: $0) }) {
                header.rescaleType = type
            }
            if let echoTime = value(.mrEchoSequence, { file.string(.effectiveEchoTime, within: $0) }), !echoTime.isEmpty {
                header.echo = echoTime
            }
            header.stack = value(.frameContentSequence, { file.string(.stackID, within: $0) })
            if let temporal = value(.frameContentSequence, { file.string(.temporalPositionIndex, within: $0) }), !temporal.isEmpty {
                header.temporal = temporal
            }
            header.instanceNumber = value(.frameContentSequence, { file.int(.inStackPositionNumber, within: $0) })
                ?? frame + 1
            return header
        }
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

private func vector3(_ values: [Double]?) -> SIMD3<Double>? {
    guard let values, values.count >= 3 else { return nil }
    return SIMD3(values[0], values[1], values[2])
}

private func spacing2(_ values: [Double]?) -> SIMD2<Double>? {
    guard let values, values.count >= 2, values[0] > 0, values[1] > 0 else { return nil }
    // DICOM gives (between rows, between columns); we keep (along a row = x, along a column = y).
    return SIMD2(values[1], values[0])
}

private func positive(_ value: Double?) -> Double? {
    guard let value, value > 0 else { return nil }
    return value
}

/// Row and column direction cosines from ImageOrientationPatient, or nil when they are not
/// two (nearly) orthogonal non-zero vectors.
private func orientation(_ values: [Double]?) -> (SIMD3<Double>?, SIMD3<Double>?) {
    guard let values, values.count >= 6 else { return (nil, nil) }
    let row = SIMD3(values[0], values[1], values[2]), column = SIMD3(values[3], values[4], values[5])
    guard row.length > 0.5, column.length > 0.5 else { return (nil, nil) }
    let r = row.normalized, c = column.normalized
    guard abs(r.dot(c)) < 0.01 else { return (nil, nil) }
    return (r, c)
}
