import DICOM
import Foundation
import VolumeCore
import VolumeIO

/// A segmentation made elsewhere (Slicer, TotalSegmentator, ITK-SNAP, OHIF, a PACS), brought
/// onto a study's grid so that the scene is made from it instead of segmenting again (issue
/// "Back to the hospital"): a NIfTI label map, a Slicer `.seg.nrrd`, a DICOM Segmentation or an
/// RT Structure Set. Its structures keep the file's names (its label table, its segment names or
/// labels, its ROI names, or names given) and colours. A map on
/// another grid is resampled (nearest voxel) when it lies within the study; a map of another
/// frame of reference, or with labelled voxels outside the study, is refused, never misplaced.
public enum ImportSegmentation {
    public typealias Failure = UseCaseFailure

    /// Colours for structures a file gives none (white, or no table).
    static let palette: [RGBA] = [RGBA(0.89, 0.29, 0.2), RGBA(0.3, 0.6, 0.9), RGBA(0.95, 0.75, 0.2), RGBA(0.4, 0.8, 0.4),
                                  RGBA(0.7, 0.45, 0.85), RGBA(0.95, 0.55, 0.7), RGBA(0.5, 0.8, 0.8), RGBA(0.85, 0.6, 0.35)]

    /// The file's labels on `series`' grid, with the warnings of the way there (resampled, overlaps).
    /// `names`: label value → name, over the file's own.
    public static func labels(from file: URL, names: [Int: String] = [:], onto series: SeriesInfo) throws(Failure) -> (LabelMap, [String]) {
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw Failure(description: "cannot read the segmentation \(file.path): no such file, or not readable")
        }
        var warnings: [String] = []
        var map: LabelMap
        switch kind(of: file) {
        case .nifti:
            do { map = try NIfTI.readLabelMap(file) } catch {
                throw Failure(description: "cannot read the label map \(file.path): \(error)")
            }
        case .nrrd:
            do { (map, warnings) = try NRRD.readSegmentation(file) } catch {
                throw Failure(description: "\(error.description)")
            }
        case .dicom:
            let read: DicomSegmentationReader.Result
            do { read = try DicomSegmentationReader.read(file, onto: series) } catch {
                throw Failure(description: "\(file.path): \(error.description)")
            }
            map = read.labels
            warnings += read.warnings
        case .unknown(let what):
            throw Failure(description: "\(file.path) is \(what): a segmentation is a NIfTI label map (.nii, .nii.gz), a Slicer .seg.nrrd, " +
                          "a DICOM Segmentation or an RT Structure Set")
        }
        // Names: given, else the file's; then made safe as file names in a package, and unique.
        var used = Set<String>()
        map.labels = map.labels.enumerated().map { n, info in
            var info = info
            if let name = names[info.value] { info.name = name }
            var safe = String(info.name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }.prefix(64))
            if safe.isEmpty || safe.hasPrefix(".") { safe = "label_\(info.value)" }
            while used.contains(safe) { safe += "_\(info.value)" }
            used.insert(safe)
            info.name = safe
            if info.color == RGBA(1, 1, 1) { info.color = palette[n % palette.count] }
            return info
        }
        if let unknown = names.keys.sorted().first(where: { value in !map.labels.contains { $0.value == value } }) {
            throw Failure(description: "--label-names names label \(unknown), which \(file.lastPathComponent) does not hold " +
                          "(it holds \(map.labels.map { String($0.value) }.joined(separator: ", ")))")
        }
        guard case .uint8(let volume) = map.storage else {
            throw Failure(description: "\(file.path) holds labels above 255: a scene holds at most 255 structures")
        }
        let counts = map.voxelCounts()
        if let empty = map.labels.first(where: { (counts[$0.value] ?? 0) == 0 }) {
            throw Failure(description: "\(file.path): structure \(empty.value) '\(empty.name)' is empty (no voxel holds it)")
        }
        guard !map.labels.isEmpty else { throw Failure(description: "\(file.path) holds no labelled voxel") }
        let (onGrid, moved) = try resample(volume, onto: series.geometry, file: file)
        if moved { warnings.append("\(file.lastPathComponent) was on another grid: resampled onto the study's (nearest voxel)") }
        return (LabelMap(storage: .uint8(onGrid), labels: map.labels), warnings)
    }

    /// A segmentation file as a label map for the mesh and render doors: a NIfTI or NRRD on its
    /// own grid; a DICOM Segmentation or RT Structure Set placed on `study`'s grid (it needs it:
    /// its frames and contours are positions in the study).
    public static func labelMap(_ file: URL, study paths: [String]?) throws(Failure) -> LabelMap {
        switch kind(of: file) {
        case .nifti:
            do { return try NIfTI.readLabelMap(file) } catch { throw Failure(description: "\(error)") }
        case .nrrd:
            do { return try NRRD.readSegmentation(file).0 } catch { throw Failure(description: error.description) }
        case .dicom:
            guard let paths, !paths.isEmpty else {
                throw Failure(description: "\(file.path) is a DICOM segmentation: it lies on its study's images, so give the study too")
            }
            let series = try SeriesChoice.choose(DicomLoader().load(paths), from: paths)
            return try labels(from: file, onto: series.info).0
        case .unknown(let what):
            throw Failure(description: "\(file.path) is \(what): a segmentation is a NIfTI label map, a Slicer .seg.nrrd, a DICOM Segmentation or an RT Structure Set")
        }
    }

    /// Names for label values, written "1=liver,2=tumor" (a label 1…255, a name of 1…64 characters).
    public static func names(parsing text: String) throws(Failure) -> [Int: String] {
        var names: [Int: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let value = Int(parts[0]), (1...255).contains(value), !parts[1].isEmpty, parts[1].count <= 64 else {
                throw Failure(description: "label names: '\(pair)' is not VALUE=NAME (a label 1…255 and a name of 1…64 characters)")
            }
            guard names[value] == nil else { throw Failure(description: "label names: label \(value) is named twice") }
            names[value] = parts[1]
        }
        return names
    }

    /// Whether a file name is one of a segmentation this reads (NIfTI, NRRD, DICOM).
    public static func isSegmentationName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return [".nii", ".nii.gz", ".nrrd", ".dcm"].contains { lower.hasSuffix($0) }
    }

    enum Kind: Equatable { case nifti, nrrd, dicom, unknown(String) }

    static func kind(of file: URL) -> Kind {
        let name = file.lastPathComponent.lowercased()
        if name.hasSuffix(".nii") || name.hasSuffix(".nii.gz") { return .nifti }
        if name.hasSuffix(".nrrd") { return .nrrd }
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return .unknown("unreadable") }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 132)) ?? Data()
        if head.count >= 132, head[128..<132] == Data("DICM".utf8) { return .dicom }
        return .unknown("neither NIfTI (by its name) nor DICOM (no DICM marker)")
    }

    /// The map on `grid`: as it is when it is that grid (`isSameGrid`), else each voxel of the
    /// grid takes the label of the map's nearest voxel. Refused when a labelled voxel of the map
    /// lies outside the grid (by more than half a voxel): it is not of this study.
    static func resample(_ map: Volume<UInt8>, onto grid: VolumeGeometry, file: URL) throws(Failure) -> (Volume<UInt8>, Bool) {
        let a = map.geometry
        if a.isSameGrid(as: grid) { return (map, false) }
        // Every labelled voxel must land inside the study.
        let d = a.dimensions
        var outside = 0, labelled = 0
        map.voxels.withUnsafeBufferPointer { voxels in
            for k in 0..<d.z {
                for j in 0..<d.y {
                    for i in 0..<d.x where voxels[(k * d.y + j) * d.x + i] != 0 {
                        labelled += 1
                        guard let c = grid.continuousIndex(ofPatient: a.patientPosition(ofIndex: SIMD3(i, j, k))) else { continue }
                        let limit = SIMD3<Double>(Double(grid.dimensions.x), Double(grid.dimensions.y), Double(grid.dimensions.z)) - 0.5
                        if c.x < -0.5 || c.y < -0.5 || c.z < -0.5 || c.x > limit.x || c.y > limit.y || c.z > limit.z { outside += 1 }
                    }
                }
            }
        }
        guard outside == 0 else {
            throw Failure(description: "\(file.path) is not of this study: \(outside) of its \(labelled) labelled voxels lie outside the study's " +
                          "volume (the file has \(a.gridDescription), the study \(grid.gridDescription))")
        }
        var out = Volume<UInt8>(geometry: grid, voxels: [UInt8](repeating: 0, count: grid.voxelCount))
        let g = grid.dimensions
        out.voxels.withUnsafeMutableBufferPointer { target in
            let target = UncheckedSendable(target)
            map.voxels.withUnsafeBufferPointer { source in
                let source = UncheckedSendable(source)
                parallelFor(0..<g.z, grain: 1) { slices in
                    for k in slices {
                        for j in 0..<g.y {
                            for i in 0..<g.x {
                                guard let n = a.nearestIndex(ofPatient: grid.patientPosition(ofIndex: SIMD3(i, j, k))), a.contains(n) else { continue }
                                target.value[(k * g.y + j) * g.x + i] = source.value[(n.z * d.y + n.y) * d.x + n.x]
                            }
                        }
                    }
                }
            }
        }
        return (out, true)
    }
}
