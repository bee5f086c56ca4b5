import CDCMTK
import Foundation
import VolumeCore

/// A DICOM Segmentation (Segmentation Storage, BINARY) written on a loaded series' own grid
/// through DCMTK's dcmseg: the same frame of reference, each frame placed at its source slice's
/// position and referencing that slice's instance, the patient and study of the source images,
/// one segment per structure with its coded category and type, its algorithm and its colour.
public enum DicomSegmentation {
    /// A coded concept (value, scheme, meaning).
    public struct Code: Sendable, Equatable {
        public var value, scheme, meaning: String
        public init(_ value: String, _ scheme: String, _ meaning: String) {
            (self.value, self.scheme, self.meaning) = (value, scheme, meaning)
        }
    }

    /// One segment: the voxels labelled `value`.
    public struct Segment: Sendable {
        public var value: UInt8
        public var label: String
        public var category: Code
        public var type: Code
        /// AUTOMATIC (a preset from its seeds and defaults), else SEMIAUTOMATIC.
        public var automatic: Bool
        /// RGB, 0…1.
        public var color: SIMD3<Double>

        public init(value: UInt8, label: String, category: Code, type: Code, automatic: Bool, color: SIMD3<Double>) {
            (self.value, self.label, self.category, self.type, self.automatic, self.color) = (value, label, category, type, automatic, color)
        }
    }

    /// The series' identity and equipment.
    public struct Description: Sendable {
        public var seriesDescription: String
        public var seriesNumber: Int
        public var softwareVersion: String
        public var seriesUID = newUID()
        public var instanceUID = newUID()

        public init(seriesDescription: String, seriesNumber: Int, softwareVersion: String) {
            (self.seriesDescription, self.seriesNumber, self.softwareVersion) = (seriesDescription, seriesNumber, softwareVersion)
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Writes `labels` (on `series`' grid) as a segmentation to `file`.
    public static func write(_ labels: Volume<UInt8>, of series: SeriesInfo, segments: [Segment], description: Description,
                             to file: URL) throws(Failure) {
        guard let sources = series.sliceSources else {
            throw Failure(description: "series \(series.seriesInstanceUID) was interpolated onto an even grid (its slices are unevenly " +
                          "spaced or some were missing): a segmentation on that grid would reference no image; none is written")
        }
        let d = labels.dimensions
        guard d == series.geometry.dimensions, sources.count == d.z else {
            throw Failure(description: "the label map's grid (\(d.x)×\(d.y)×\(d.z)) is not the series' " +
                          "(\(series.geometry.dimensions.x)×\(series.geometry.dimensions.y)×\(series.geometry.dimensions.z))")
        }
        let first = sources[0]
        guard first.rows == d.y, first.columns == d.x, let row = first.rowDirection, let column = first.columnDirection,
              sources.allSatisfy({ $0.position != nil }) else {
            throw Failure(description: "the series' images lack the position or orientation a segmentation frame must carry")
        }
        guard !segments.isEmpty, segments.count <= 255 else { throw Failure(description: "1…255 segments, not \(segments.count)") }
        // Strings that stay alive while the C call runs (until `c` goes).
        let c = CStrings()
        let spacing = first.pixelSpacing ?? SIMD2(series.geometry.spacing.y, series.geometry.spacing.x)
        var settings = cdcm_seg_settings()
        settings.rows = UInt16(d.y)
        settings.columns = UInt16(d.x)
        settings.slices = UInt32(d.z)
        settings.row_direction = (row.x, row.y, row.z)
        settings.column_direction = (column.x, column.y, column.z)
        settings.pixel_spacing = (spacing.x, spacing.y)
        settings.slice_thickness = first.sliceThickness ?? series.geometry.spacing.z
        settings.series_uid = c(description.seriesUID)
        settings.instance_uid = c(description.instanceUID)
        settings.dimension_organization_uid = c(newUID())
        settings.source_series_uid = c(series.seriesInstanceUID)
        settings.series_description = c(description.seriesDescription)
        settings.series_number = Int32(description.seriesNumber)
        settings.manufacturer = c("VRPrep")
        settings.model = c("VRPrep")
        settings.serial = c("1")
        settings.software_version = c(description.softwareVersion)
        settings.content_label = c("SEGMENTATION")
        settings.content_description = c(description.seriesDescription)
        settings.content_creator = c("VRPrep")
        let slices = sliceRecords(sources, c)
        let coded = segments.map { segment -> cdcm_seg_segment in
            var out = cdcm_seg_segment()
            out.value = segment.value
            out.label = c(segment.label)
            out.category_code = c(segment.category.value); out.category_scheme = c(segment.category.scheme)
            out.category_meaning = c(segment.category.meaning)
            out.type_code = c(segment.type.value); out.type_scheme = c(segment.type.scheme); out.type_meaning = c(segment.type.meaning)
            // Region growing from seeds: "Neighborhood Analysis" (CID 7162).
            out.family_code = c("123101"); out.family_scheme = c("DCM"); out.family_meaning = c("Neighborhood Analysis")
            out.automatic = segment.automatic ? 1 : 0
            out.algorithm_name = c("VRPrep")
            out.algorithm_version = c(description.softwareVersion)
            let lab = dicomLab(segment.color)
            out.cielab = (lab.x, lab.y, lab.z)
            return out
        }
        let status = withExtendedLifetime(c) {
            labels.voxels.withUnsafeBufferPointer { voxels in
                cdcm_write_seg(&settings, slices, coded, coded.count, voxels.baseAddress, file.path)
            }
        }
        guard status.code == Int32(CDCM_OK) else {
            try? FileManager.default.removeItem(at: file)
            throw Failure(description: withUnsafeBytes(of: status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
    }

    /// The source images as the C writers take them (their strings kept by `c`).
    static func sliceRecords(_ sources: [SliceSource], _ c: CStrings) -> [cdcm_seg_slice] {
        sources.map { source in
            var slice = cdcm_seg_slice()
            slice.source_path = c(source.path)
            slice.sop_class_uid = c(source.sopClassUID)
            slice.sop_instance_uid = c(source.sopInstanceUID)
            slice.frame = UInt32(source.frame)
            slice.frames_in_file = UInt32(source.framesInFile)
            if let p = source.position { slice.position = (p.x, p.y, p.z) }
            return slice
        }
    }

    /// A new UID under 2.25 (a UUID as a decimal number, ISO/IEC 9834-8): unique without a
    /// registered root.
    public static func newUID() -> String {
        let bytes = withUnsafeBytes(of: UUID().uuid) { Array($0) }
        let value = bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        return "2.25.\(value)"
    }

    /// sRGB (0…1) as DICOM's scaled CIELab (PS3.3 C.10.7.1.1: L 0…100 → 0…65535, a and b
    /// −128…127 → 0…65535), D65.
    public static func dicomLab(_ rgb: SIMD3<Double>) -> SIMD3<UInt16> {
        func linear(_ v: Double) -> Double { v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4) }
        let (r, g, b) = (linear(rgb.x), linear(rgb.y), linear(rgb.z))
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
        func f(_ t: Double) -> Double { t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116 }
        let l = 116 * f(y) - 16, a = 500 * (f(x) - f(y)), bb = 200 * (f(y) - f(z))
        func scale(_ v: Double, _ low: Double, _ high: Double) -> UInt16 {
            UInt16(max(0, min(65535, ((v - low) / (high - low) * 65535).rounded())))
        }
        return SIMD3(scale(l, 0, 100), scale(a, -128, 127), scale(bb, -128, 127))
    }
}
