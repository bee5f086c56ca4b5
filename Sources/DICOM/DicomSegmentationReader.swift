import Foundation
import VolumeCore

/// Reads a DICOM Segmentation (BINARY, FRACTIONAL thresholded at half its maximum, or a Label Map
/// Segmentation whose pixels are segment numbers) made by
/// another tool (or an RT Structure Set, through `RTStructureSet.read`) onto a loaded series' grid: each frame placed by its own position and
/// orientation, each segment a label (its number) named by its label and coloured by its CIELab
/// value. A segmentation of another study or frame of reference, with pixels outside the study,
/// with an empty segment, or of a kind not read here is refused, naming what is wrong.
public enum DicomSegmentationReader {
    public struct Result: Sendable {
        public var labels: LabelMap
        public var warnings: [String]
    }

    public typealias Failure = DicomSegmentation.Failure

    static let segmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"
    static let labelMapSegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.7"

    // The attributes read (group, element).
    static let numberOfFrames = DicomTag(0x0028, 0x0008), rows = DicomTag(0x0028, 0x0010), columns = DicomTag(0x0028, 0x0011)
    static let bitsAllocated = DicomTag(0x0028, 0x0100), pixelData = DicomTag(0x7FE0, 0x0010)
    static let segmentationType = DicomTag(0x0062, 0x0001), maximumFractionalValue = DicomTag(0x0062, 0x000E)
    static let segmentSequence = DicomTag(0x0062, 0x0002), segmentNumber = DicomTag(0x0062, 0x0004)
    static let segmentLabel = DicomTag(0x0062, 0x0005), cielab = DicomTag(0x0062, 0x000D)
    static let sharedGroups = DicomTag(0x5200, 0x9229), perFrameGroups = DicomTag(0x5200, 0x9230)
    static let planePosition = DicomTag(0x0020, 0x9113), imagePosition = DicomTag(0x0020, 0x0032)
    static let planeOrientation = DicomTag(0x0020, 0x9116), imageOrientation = DicomTag(0x0020, 0x0037)
    static let pixelMeasures = DicomTag(0x0028, 0x9110), pixelSpacing = DicomTag(0x0028, 0x0030)
    static let segmentIdentification = DicomTag(0x0062, 0x000A), referencedSegmentNumber = DicomTag(0x0062, 0x000B)
    static let studyInstanceUID = DicomTag(0x0020, 0x000D), frameOfReferenceUID = DicomTag(0x0020, 0x0052)

    public static func read(_ url: URL, onto series: SeriesInfo) throws(Failure) -> Result {
        let file: DicomFile
        do { file = try DicomFile(path: url.path) } catch { throw Failure(description: "not readable as DICOM: \(error)") }
        let sopClass = file.string(.sopClassUID) ?? ""
        if sopClass == RTStructureSet.storage { return try RTStructureSet.read(url, onto: series) }
        guard sopClass == segmentationStorage || sopClass == labelMapSegmentationStorage else {
            let name = DicomFile.nameOfUID(sopClass) ?? "unknown"
            throw Failure(description: "not a DICOM Segmentation or RT Structure Set: its SOP class is \(sopClass.isEmpty ? "missing" : "\(sopClass) (\(name))")")
        }
        // Of this study, in its frame of reference.
        if let study = file.string(studyInstanceUID), !study.isEmpty, study != series.studyInstanceUID {
            throw Failure(description: "a segmentation of another study (StudyInstanceUID \(study); the study's is \(series.studyInstanceUID))")
        }
        if let frame = file.string(frameOfReferenceUID), !frame.isEmpty, !series.frameOfReferenceUID.isEmpty,
           frame != series.frameOfReferenceUID {
            throw Failure(description: "another frame of reference (\(frame); the study's is \(series.frameOfReferenceUID)): its " +
                          "positions cannot be placed in this study")
        }
        guard let rowCount = file.int(rows), let columnCount = file.int(columns), rowCount > 0, columnCount > 0,
              let frames = file.int(numberOfFrames) ?? Optional(1), frames > 0 else {
            throw Failure(description: "no Rows, Columns or NumberOfFrames")
        }
        let type = file.string(segmentationType) ?? ""
        let bits = file.int(bitsAllocated) ?? 0
        let threshold: Int
        // A label map segmentation's pixels are segment numbers; the others' frames are one segment's.
        let labelMap = type == "LABELMAP"
        switch (type, bits) {
        case ("BINARY", 1): threshold = 1
        case ("FRACTIONAL", 8): threshold = max(1, ((file.int(maximumFractionalValue) ?? 255) + 1) / 2)
        case ("LABELMAP", 8), ("LABELMAP", 16): threshold = 1
        default: throw Failure(description: "a \(type.isEmpty ? "segmentation of no type" : type) segmentation of \(bits)-bit pixels is not read here (BINARY 1-bit, FRACTIONAL 8-bit, LABELMAP 8 or 16-bit)")
        }
        // Segments: number, label, colour.
        var labels: [LabelInfo] = []
        for item in 0..<(file.itemCount(segmentSequence) ?? 0) {
            let path: [DicomFile.SequenceStep] = [(segmentSequence, item)]
            guard let number = file.int(segmentNumber, within: path), (0...255).contains(number) else {
                throw Failure(description: "segment \(item + 1) has no SegmentNumber in 1…255")
            }
            // (A label map segmentation may describe its background as segment 0: not a structure.)
            if number == 0 && labelMap { continue }
            guard number > 0 else { throw Failure(description: "segment \(item + 1) has SegmentNumber 0 (they start at 1)") }
            let name = file.string(segmentLabel, within: path) ?? "segment \(number)"
            let color = (file.doubles(cielab, within: path)).flatMap { $0.count == 3 ? DicomSegmentation.rgb(dicomLab: SIMD3($0[0], $0[1], $0[2])) : nil }
            labels.append(LabelInfo(value: number, name: name.isEmpty ? "segment \(number)" : name,
                                    color: color.map { RGBA($0.x, $0.y, $0.z) } ?? RGBA(1, 1, 1)))
        }
        guard !labels.isEmpty else { throw Failure(description: "no segment (SegmentSequence is empty)") }
        guard let pixels = file.bytes(pixelData) else {
            throw Failure(description: "its pixel data is missing or compressed (only uncompressed segmentations are read)")
        }
        let frameSize = rowCount * columnCount
        let needed = bits == 1 ? (frames * frameSize + 7) / 8 : frames * frameSize * (bits / 8)
        guard pixels.count >= needed else {
            throw Failure(description: "its pixel data holds \(pixels.count) bytes, \(frames) frames of \(rowCount)×\(columnCount) need \(needed)")
        }
        let shared: [DicomFile.SequenceStep] = [(sharedGroups, 0)]
        func vector(_ tag: DicomTag, in group: DicomTag, frame: Int) -> [Double]? {
            file.doubles(tag, within: [(perFrameGroups, frame), (group, 0)]) ?? file.doubles(tag, within: shared + [(group, 0)])
        }
        let grid = series.geometry
        var out = Volume<UInt8>(geometry: grid, voxels: [UInt8](repeating: 0, count: grid.voxelCount))
        var counts: [Int: Int] = [:]
        var outside = 0, overlapped = 0, offGrid = false
        let known = Set(labels.map(\.value))
        for f in 0..<frames {
            guard let position = vector(imagePosition, in: planePosition, frame: f), position.count == 3,
                  let orientation = vector(imageOrientation, in: planeOrientation, frame: f), orientation.count == 6,
                  let spacing = vector(pixelSpacing, in: pixelMeasures, frame: f), spacing.count == 2, spacing.allSatisfy({ $0 > 0 }) else {
                throw Failure(description: "frame \(f + 1) has no position, orientation or pixel spacing")
            }
            let number = file.int(referencedSegmentNumber, within: [(perFrameGroups, f), (segmentIdentification, 0)])
                ?? file.int(referencedSegmentNumber, within: shared + [(segmentIdentification, 0)]) ?? 0
            guard labelMap || known.contains(number) else {
                throw Failure(description: "frame \(f + 1) names no segment of the SegmentSequence")
            }
            let origin = SIMD3(position[0], position[1], position[2])
            let rowDirection = SIMD3(orientation[0], orientation[1], orientation[2])
            let columnDirection = SIMD3(orientation[3], orientation[4], orientation[5])
            // The frame on the study's grid: where its first pixel and its steps land.
            guard let start = grid.continuousIndex(ofPatient: origin),
                  let alongRow = grid.continuousIndex(ofPatient: origin + rowDirection * spacing[1]),
                  let alongColumn = grid.continuousIndex(ofPatient: origin + columnDirection * spacing[0]) else {
                throw Failure(description: "the study's grid cannot be inverted")
            }
            let stepColumn = alongRow - start, stepRow = alongColumn - start
            func whole(_ v: SIMD3<Double>) -> Bool { max(abs(v.x - v.x.rounded()), abs(v.y - v.y.rounded()), abs(v.z - v.z.rounded())) < 0.01 }
            if !(whole(start) && whole(stepColumn) && whole(stepRow)) { offGrid = true }
            for r in 0..<rowCount {
                for c in 0..<columnCount {
                    let p = f * frameSize + r * columnCount + c
                    var value = UInt8(clamping: number)
                    if labelMap {
                        // The pixel is a segment number (16-bit ones little endian, as read).
                        let stored = bits == 16 ? Int(pixels[2 * p]) | Int(pixels[2 * p + 1]) << 8 : Int(pixels[p])
                        guard stored != 0 else { continue }
                        guard known.contains(stored) else {
                            throw Failure(description: "frame \(f + 1) holds the value \(stored), which no segment of the SegmentSequence numbers")
                        }
                        value = UInt8(stored)
                    } else {
                        let on = bits == 1 ? (pixels[p >> 3] >> UInt8(p & 7)) & 1 == 1 : Int(pixels[p]) >= threshold
                        guard on else { continue }
                    }
                    let index = start + stepColumn * Double(c) + stepRow * Double(r)
                    let n = SIMD3(Int(index.x.rounded()), Int(index.y.rounded()), Int(index.z.rounded()))
                    guard grid.contains(n) else { outside += 1; continue }
                    let o = grid.offset(n.x, n.y, n.z)
                    if out.voxels[o] != 0 && out.voxels[o] != value { overlapped += 1 }
                    out.voxels[o] = value
                    counts[Int(value), default: 0] += 1
                }
            }
        }
        guard outside == 0 else {
            throw Failure(description: "\(outside) of its pixels lie outside the study's volume: it is not of this series")
        }
        if let empty = labels.first(where: { (counts[$0.value] ?? 0) == 0 }) {
            throw Failure(description: "segment \(empty.value) '\(empty.name)' is empty (no frame holds it)")
        }
        var warnings: [String] = []
        if offGrid { warnings.append("its frames are not on the study's voxels: each pixel was placed on the nearest voxel") }
        if overlapped > 0 { warnings.append("\(overlapped) voxels belong to several segments: each keeps the last segment's label") }
        return Result(labels: LabelMap(storage: .uint8(out), labels: labels.sorted { $0.value < $1.value }), warnings: warnings)
    }
}

extension DicomSegmentation {
    /// DICOM's scaled CIELab (PS3.3 C.10.7.1.1) as sRGB (0…1), D65; the inverse of `dicomLab`.
    public static func rgb(dicomLab lab: SIMD3<Double>) -> SIMD3<Double> {
        let l = lab.x / 65535 * 100, a = lab.y / 65535 * 255 - 128, b = lab.z / 65535 * 255 - 128
        let fy = (l + 16) / 116, fx = fy + a / 500, fz = fy - b / 200
        func inverse(_ t: Double) -> Double { t * t * t > 216.0 / 24389 ? t * t * t : (116 * t - 16) / (24389.0 / 27) }
        let x = inverse(fx) * 0.95047, y = inverse(fy), z = inverse(fz) * 1.08883
        let r = 3.2406 * x - 1.5372 * y - 0.4986 * z
        let g = -0.9689 * x + 1.8758 * y + 0.0415 * z
        let bl = 0.0557 * x - 0.2040 * y + 1.0570 * z
        func gamma(_ v: Double) -> Double { min(1, max(0, v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055)) }
        return SIMD3(gamma(r), gamma(g), gamma(bl))
    }
}
