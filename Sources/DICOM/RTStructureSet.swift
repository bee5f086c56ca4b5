import CDCMTK
import Foundation
import VolumeCore

/// RT Structure Sets, for radiotherapy and navigation systems: each structure as closed planar
/// contours on the study's slices, through the centres of its boundary voxels (as planning
/// systems and rt-utils draw them, so that filling them, boundary included, gives the voxels
/// back), written through DCMTK's dcmdata; and read back onto a study's grid (each contour filled
/// on the slice it lies on, boundary included, even-odd, so that an inner contour is a hole).
public enum RTStructureSet {
    public struct ROI: Sendable {
        public var value: UInt8
        public var name: String
        /// RGB, 0…1.
        public var color: SIMD3<Double>
        public var automatic: Bool
        /// RTROIInterpretedType: ORGAN, GTV, or empty.
        public var interpretedType: String

        public init(value: UInt8, name: String, color: SIMD3<Double>, automatic: Bool, interpretedType: String) {
            (self.value, self.name, self.color, self.automatic, self.interpretedType) = (value, name, color, automatic, interpretedType)
        }
    }

    public typealias Failure = DicomSegmentation.Failure
    static let storage = "1.2.840.10008.5.1.4.1.1.481.3"

    /// Writes the labels (on `series`' grid) as an RT Structure Set; returns the contours written.
    @discardableResult
    public static func write(_ labels: Volume<UInt8>, of series: SeriesInfo, rois: [ROI], description: DicomSegmentation.Description,
                             to file: URL) throws(Failure) -> Int {
        guard let sources = series.sliceSources, sources.count == labels.dimensions.z, labels.dimensions == series.geometry.dimensions else {
            throw Failure(description: "the labels are not on the series' own slices (interpolated, or another grid): no contour would lie on an image")
        }
        let d = labels.dimensions
        // Strings that stay alive while the C call runs (until `c` goes).
        let c = CStrings()
        var points: [Double] = []
        var contours: [cdcm_rt_contour] = []
        for (r, roi) in rois.enumerated() {
            for k in 0..<d.z {
                let source = sources[k]
                guard let origin = source.position, let row = source.rowDirection, let column = source.columnDirection else {
                    throw Failure(description: "slice \(k + 1) has no position or orientation")
                }
                let spacing = source.pixelSpacing ?? SIMD2(series.geometry.spacing.y, series.geometry.spacing.x)
                let base = k * d.x * d.y
                let traced = labels.voxels.withUnsafeBufferPointer { voxels in
                    PlanarContours.trace(columns: d.x, rows: d.y) { i, j in voxels[base + j * d.x + i] == roi.value }
                }
                // Drawn through the boundary voxels' centres (as planning systems and rt-utils draw and fill them).
                for contour in traced.map(PlanarContours.throughCentres) {
                    contours.append(cdcm_rt_contour(roi: UInt32(r), slice: UInt32(k), first_point: UInt32(points.count / 3),
                                                    point_count: UInt32(contour.count)))
                    for p in contour {
                        let position = origin + row * (p.x * spacing.y) + column * (p.y * spacing.x)
                        points += [position.x, position.y, position.z]
                    }
                }
            }
        }
        guard !contours.isEmpty else { throw Failure(description: "no structure has a voxel: no contour to write") }
        let slices = DicomSegmentation.sliceRecords(sources, c)
        let coded = rois.enumerated().map { n, roi -> cdcm_rt_roi in
            var out = cdcm_rt_roi()
            out.number = Int32(n + 1)
            out.name = c(roi.name)
            func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }
            out.color = (byte(roi.color.x), byte(roi.color.y), byte(roi.color.z))
            out.automatic = roi.automatic ? 1 : 0
            out.interpreted_type = c(roi.interpretedType)
            return out
        }
        var settings = cdcm_rt_settings()
        settings.source_series_uid = c(series.seriesInstanceUID)
        settings.series_uid = c(description.seriesUID)
        settings.instance_uid = c(description.instanceUID)
        settings.series_description = c(description.seriesDescription)
        settings.label = c("VRPrep")
        settings.software_version = c(description.softwareVersion)
        settings.series_number = Int32(description.seriesNumber)
        let status = withExtendedLifetime(c) {
            cdcm_write_rtstruct(&settings, slices, slices.count, coded, coded.count, contours, contours.count, points, file.path)
        }
        guard status.code == Int32(CDCM_OK) else {
            try? FileManager.default.removeItem(at: file)
            throw Failure(description: withUnsafeBytes(of: status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return contours.count
    }

    // The attributes read.
    static let structureSetROIs = DicomTag(0x3006, 0x0020), roiNumber = DicomTag(0x3006, 0x0022), roiName = DicomTag(0x3006, 0x0026)
    static let roiContours = DicomTag(0x3006, 0x0039), referencedROINumber = DicomTag(0x3006, 0x0084)
    static let displayColor = DicomTag(0x3006, 0x002A), contourSequence = DicomTag(0x3006, 0x0040)
    static let contourData = DicomTag(0x3006, 0x0050), geometricType = DicomTag(0x3006, 0x0042)
    static let contourImages = DicomTag(0x3006, 0x0016), referencedInstance = DicomTag(0x0008, 0x1155)
    static let frameOfReferences = DicomTag(0x3006, 0x0010), frameOfReferenceUID = DicomTag(0x0020, 0x0052)

    /// Reads a structure set onto `series`' grid: each ROI a label (1, 2, … in its order).
    public static func read(_ url: URL, onto series: SeriesInfo) throws(Failure) -> DicomSegmentationReader.Result {
        let file: DicomFile
        do { file = try DicomFile(path: url.path) } catch { throw Failure(description: "not readable as DICOM: \(error)") }
        guard file.string(.sopClassUID) == storage else {
            throw Failure(description: "not an RT Structure Set")
        }
        if let frame = file.string(frameOfReferenceUID, within: [(frameOfReferences, 0)]), !frame.isEmpty,
           !series.frameOfReferenceUID.isEmpty, frame != series.frameOfReferenceUID {
            throw Failure(description: "another frame of reference (\(frame); the study's is \(series.frameOfReferenceUID))")
        }
        let known = Set(series.sliceSources?.map(\.sopInstanceUID) ?? [])
        var names: [Int: String] = [:]
        for item in 0..<(file.itemCount(structureSetROIs) ?? 0) {
            if let number = file.int(roiNumber, within: [(structureSetROIs, item)]) {
                names[number] = file.string(roiName, within: [(structureSetROIs, item)]) ?? "ROI \(number)"
            }
        }
        let grid = series.geometry
        let d = grid.dimensions
        var out = Volume<UInt8>(geometry: grid, voxels: [UInt8](repeating: 0, count: grid.voxelCount))
        var labels: [LabelInfo] = []
        let roiCount = file.itemCount(roiContours) ?? 0
        guard roiCount > 0, roiCount <= 255 else { throw Failure(description: "it holds \(roiCount) ROI contours (1…255 are read)") }
        for item in 0..<roiCount {
            let path: [DicomFile.SequenceStep] = [(roiContours, item)]
            let number = file.int(referencedROINumber, within: path) ?? item + 1
            let name = names[number] ?? "ROI \(number)"
            let value = UInt8(labels.count + 1)
            let rgb = file.doubles(displayColor, within: path).flatMap { $0.count == 3 ? RGBA($0[0] / 255, $0[1] / 255, $0[2] / 255) : nil }
            labels.append(LabelInfo(value: Int(value), name: name, color: rgb ?? RGBA(1, 1, 1)))
            // Contours by slice, in pixel coordinates of the study's grid.
            var bySlice: [Int: [PlanarContours.Contour]] = [:]
            for n in 0..<(file.itemCount(contourSequence, within: path) ?? 0) {
                let contour = path + [(contourSequence, n)]
                if let image = file.string(referencedInstance, within: contour + [(contourImages, 0)]), !image.isEmpty, !known.contains(image) {
                    throw Failure(description: "ROI '\(name)', contour \(n + 1) is drawn on image \(image), which the study does not hold (a missing slice)")
                }
                let type = file.string(geometricType, within: contour) ?? ""
                guard type == "CLOSED_PLANAR" else { continue }  // points and open lines enclose nothing
                // (One or two points: a contour around a single voxel or a line of them, as rt-utils writes them.)
                guard let data = file.doubles(contourData, within: contour), data.count >= 3, data.count % 3 == 0 else {
                    throw Failure(description: "ROI '\(name)', contour \(n + 1) has no ContourData (x, y, z triples)")
                }
                var polygon: PlanarContours.Contour = []
                var slice: Int?
                for p in stride(from: 0, to: data.count, by: 3) {
                    guard let index = grid.continuousIndex(ofPatient: SIMD3(data[p], data[p + 1], data[p + 2])) else {
                        throw Failure(description: "the study's grid cannot be inverted")
                    }
                    let k = Int(index.z.rounded())
                    guard abs(index.z - Double(k)) < 0.1, (0..<d.z).contains(k), slice == nil || slice == k else {
                        throw Failure(description: "ROI '\(name)', contour \(n + 1) does not lie on one of the study's slices (a missing slice, or another study)")
                    }
                    slice = k
                    // Within 0.01 px of a voxel centre is on it (points written as decimal text).
                    func snap(_ v: Double) -> Double { abs(v - v.rounded()) < 0.01 ? v.rounded() : v }
                    polygon.append(SIMD2(snap(index.x), snap(index.y)))
                }
                bySlice[slice!, default: []].append(polygon)
            }
            guard !bySlice.isEmpty else { throw Failure(description: "ROI '\(name)' is empty (no closed contour)") }
            for (k, polygons) in bySlice {
                let mask = PlanarContours.fill(polygons, columns: d.x, rows: d.y, boundary: true)
                let base = k * d.x * d.y
                for i in mask.indices where mask[i] { out.voxels[base + i] = value }
            }
        }
        return DicomSegmentationReader.Result(labels: LabelMap(storage: .uint8(out), labels: labels), warnings: [])
    }
}
