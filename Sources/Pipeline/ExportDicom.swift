import DICOM
import Foundation
import Meshing
import ScenePackage
import VolumeCore
import VolumeIO

/// Use case: results back to the hospital as DICOM objects of the original study (issue "Back
/// to the hospital"). From the identified study and a segmentation (a package's label map, or a
/// label map file), a DICOM Segmentation on the study's own grid: a new series in the same study
/// that references the images it was made from. These objects carry the patient's identity: they
/// go back to the hospital and never into a shared package. `vrprep export-dicom` runs it.
public enum ExportDicom {
    public enum Format: String, CaseIterable, Sendable, Codable {
        /// A DICOM Segmentation (BINARY) on the study's grid.
        case seg
        /// An Encapsulated STL per structure (the package's meshes, patient mm).
        case stl
        /// An RT Structure Set: each structure's closed planar contours on the study's slices.
        case rtstruct
        /// An Encapsulated OBJ and its MTL (colour) per structure (the package's meshes, patient mm).
        case obj
    }

    /// Where the segmentation comes from.
    public enum Source: Sendable {
        /// A scene package (folder or .zip): its `labels.nii.gz`, named and coloured by its manifest.
        case package(URL)
        /// A NIfTI label map (its label table names the labels; else "label N").
        case labels(URL)
    }

    public struct Report: Codable, Sendable {
        public struct File: Codable, Sendable {
            public var path: String
            public var format: Format
            public var bytes: Int
            public var seriesInstanceUID: String
            public var sopInstanceUID: String
            /// The structures it holds (a segmentation's segments, a model's structure).
            public var segments: [String]
        }

        /// The source series the objects reference.
        public var sourceSeries: String
        public var studyInstanceUID: String
        public var files: [File]
        public var seconds: Double
    }

    public static func run(study paths: [String], series choice: String? = nil, source: Source, out: URL, formats: [Format] = [.seg],
                           softwareVersion: String, threads: Int? = nil, observer: (any UseCaseObserver)? = nil) throws(UseCaseFailure) -> Report {
        let start = Date()
        try observer.step("load", fraction: 0)
        // (The source files stay while the objects are written: a study in a zip is extracted for the time of it.)
        return try DicomLoader(threads: threads).withLoaded(paths, progress: { p in observer?.step(p.step(within: 0...0.7)) }) {
            report throws(UseCaseFailure) in
            try export(report, paths: paths, choice: choice, source: source, out: out, formats: formats, softwareVersion: softwareVersion,
                       threads: threads, observer: observer, start: start)
        }
    }

    private static func export(_ report: LoadReport, paths: [String], choice: String?, source: Source, out: URL, formats: [Format],
                               softwareVersion: String, threads: Int?, observer: (any UseCaseObserver)?, start: Date) throws(UseCaseFailure) -> Report {
        let series = try SeriesChoice.choose(report, from: paths, choice: choice)
        try observer.step("labels", fraction: 0.7)
        let (labels, names, where_) = try readLabels(source)
        let volume = try onGrid(labels, of: series.info, from: where_)
        let counts = labels.voxelCounts(threads: threads)
        let present = Set(counts.filter { $0.key != 0 && $0.value > 0 }.keys.map { UInt8($0) })
        let segments = names.filter { present.contains(UInt8($0.value)) }.map { info in
            DicomSegmentation.Segment(value: UInt8(info.value), label: info.name, category: codes(for: info.name).category,
                                      type: codes(for: info.name).type, automatic: [Preset.bone, .skin].contains(Preset(rawValue: info.name)),
                                      color: SIMD3(info.color.r, info.color.g, info.color.b))
        }
        guard !segments.isEmpty else {
            throw UseCaseFailure(description: "\(where_) holds no labelled voxel: there is nothing to export")
        }
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw UseCaseFailure(description: "cannot make the output folder \(out.path): \(error.localizedDescription)")
        }
        var files: [Report.File] = []
        // Each file is written under a temporary name and moved into place once whole.
        func place(_ write: (URL) throws(DicomSegmentation.Failure) -> Void, as name: String, what: String) throws(UseCaseFailure) -> URL {
            let file = out.appendingPathComponent(name), partial = out.appendingPathComponent(".\(name).partial")
            do throws(DicomSegmentation.Failure) {
                try write(partial)
            } catch {
                try? FileManager.default.removeItem(at: partial)
                throw UseCaseFailure(description: "cannot write \(what): \(error.description)")
            }
            guard rename(partial.path, file.path) == 0 else {
                try? FileManager.default.removeItem(at: partial)
                throw UseCaseFailure(description: "cannot move \(what) into place at \(file.path): \(String(cString: strerror(errno)))")
            }
            return file
        }
        func size(_ file: URL) -> Int { (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0 }
        // New series numbered after the source's (9000 + its number for the segmentation, 9100 + for the models).
        let sourceNumber = (series.info.seriesNumber ?? 0) % 100
        var segmentation: (sopClassUID: String, sopInstanceUID: String, seriesUID: String)?
        if formats.contains(.seg) {
            try observer.step("seg", fraction: 0.8)
            let description = DicomSegmentation.Description(seriesDescription: "VRPrep segmentation", seriesNumber: 9000 + sourceNumber,
                                                            softwareVersion: softwareVersion)
            let file = try place({ partial throws(DicomSegmentation.Failure) in
                try DicomSegmentation.write(volume, of: series.info, segments: segments, description: description, to: partial)
            }, as: "seg.dcm", what: "the DICOM Segmentation of \(where_)")
            segmentation = (EncapsulatedModel.segmentationStorage, description.instanceUID, description.seriesUID)
            files.append(Report.File(path: file.path, format: .seg, bytes: size(file), seriesInstanceUID: description.seriesUID,
                                     sopInstanceUID: description.instanceUID, segments: segments.map(\.label)))
        }
        if formats.contains(.rtstruct) {
            try observer.step("rtstruct", fraction: 0.85)
            let description = DicomSegmentation.Description(seriesDescription: "VRPrep structures", seriesNumber: 9200 + sourceNumber,
                                                            softwareVersion: softwareVersion)
            let rois = segments.map { segment in
                RTStructureSet.ROI(value: segment.value, name: segment.label, color: segment.color, automatic: segment.automatic,
                                   interpretedType: Preset(rawValue: segment.label) == .tumor ? "GTV" : "ORGAN")
            }
            let file = try place({ partial throws(DicomSegmentation.Failure) in
                try RTStructureSet.write(volume, of: series.info, rois: rois, description: description, to: partial)
            }, as: "rtstruct.dcm", what: "the RT Structure Set of \(where_)")
            files.append(Report.File(path: file.path, format: .rtstruct, bytes: size(file), seriesInstanceUID: description.seriesUID,
                                     sopInstanceUID: description.instanceUID, segments: segments.map(\.label)))
        }
        if formats.contains(.stl) || formats.contains(.obj) {
            try observer.step("models", fraction: 0.9)
            guard case .package(let package) = source else {
                throw UseCaseFailure(description: "an STL or OBJ export takes the meshes of a scene package: give --package (a label map has none)")
            }
            let models = try packageMeshes(package)
            let seriesUID = DicomSegmentation.newUID()
            for (name, stl) in models where formats.contains(.stl) {
                let instanceUID = DicomSegmentation.newUID()
                let file = try place({ partial throws(DicomSegmentation.Failure) in
                    try EncapsulatedModel.write(stl, kind: .stl, of: series.info, seriesUID: seriesUID, instanceUID: instanceUID,
                                                seriesNumber: 9100 + sourceNumber, seriesDescription: "VRPrep models", title: name,
                                                softwareVersion: softwareVersion, madeFrom: segmentation, to: partial)
                }, as: "stl-\(name).dcm", what: "the Encapsulated STL of \(name)")
                files.append(Report.File(path: file.path, format: .stl, bytes: size(file), seriesInstanceUID: seriesUID,
                                         sopInstanceUID: instanceUID, segments: [name]))
            }
            // OBJ with its MTL (the structure's colour), made from the same mesh, in the same series.
            for (name, stl) in models where formats.contains(.obj) {
                let (obj, mtl) = try objAndMaterial(stl, name: name, color: names.first { $0.name == name }?.color ?? RGBA(1, 1, 1))
                for (kind, document) in [(EncapsulatedModel.Kind.obj, obj), (.mtl, mtl)] {
                    let instanceUID = DicomSegmentation.newUID()
                    let file = try place({ partial throws(DicomSegmentation.Failure) in
                        try EncapsulatedModel.write(document, kind: kind, of: series.info, seriesUID: seriesUID, instanceUID: instanceUID,
                                                    seriesNumber: 9100 + sourceNumber, seriesDescription: "VRPrep models", title: name,
                                                    softwareVersion: softwareVersion, madeFrom: segmentation, to: partial)
                    }, as: "\(kind.rawValue)-\(name).dcm", what: "the Encapsulated \(kind.rawValue.uppercased()) of \(name)")
                    files.append(Report.File(path: file.path, format: .obj, bytes: size(file), seriesInstanceUID: seriesUID,
                                             sopInstanceUID: instanceUID, segments: [name]))
                }
            }
        }
        try observer.step("done", fraction: 1)
        return Report(sourceSeries: series.info.seriesInstanceUID, studyInstanceUID: series.info.studyInstanceUID, files: files,
                      seconds: Date().timeIntervalSince(start))
    }

    /// The label map, its labels, and how to name where it came from in a message.
    static func readLabels(_ source: Source) throws(UseCaseFailure) -> (LabelMap, [LabelInfo], String) {
        switch source {
        case .labels(let file):
            let map: LabelMap
            do { map = try NIfTI.readLabelMap(file) } catch {
                throw UseCaseFailure(description: "cannot read the label map \(file.path): \(error)")
            }
            return (map, map.labels, file.path)
        case .package(let package):
            return try withPackage(package) { folder, manifest throws(UseCaseFailure) in
                let map: LabelMap
                do { map = try NIfTI.readLabelMap(folder.appendingPathComponent("labels.nii.gz")) } catch {
                    throw UseCaseFailure(description: "cannot read the package's label map (\(package.path)/labels.nii.gz): \(error)")
                }
                let names = manifest.structures.map { structure in
                    LabelInfo(value: structure.label, name: structure.name,
                              color: RGBA(structure.color[0], structure.color[1], structure.color[2]))
                }
                return (map, names, "\(package.path)/labels.nii.gz")
            }
        }
    }

    /// Runs `body` on a package's folder and manifest: a .zip is unpacked once, into a temporary
    /// folder removed afterwards.
    static func withPackage<T>(_ package: URL, _ body: (URL, Manifest) throws(UseCaseFailure) -> T) throws(UseCaseFailure) -> T {
        var folder = package
        var cleanup: URL?
        if package.pathExtension.lowercased() == "zip" {
            do { folder = try PackageStore.extract(package) } catch {
                throw UseCaseFailure(description: "cannot unpack the package \(package.path): \(error)")
            }
            cleanup = folder
        }
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        let manifest: Manifest
        do { manifest = try PackageStore.read(folder) } catch {
            throw UseCaseFailure(description: "cannot read the package \(package.path): \(error)")
        }
        return try body(folder, manifest)
    }

    /// A package's STL as an OBJ (mm, LPS) and its MTL naming the structure's colour.
    static func objAndMaterial(_ stl: Data, name: String, color: RGBA) throws(UseCaseFailure) -> (Data, Data) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vrprep-obj-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try stl.write(to: folder.appendingPathComponent("\(name).stl"))
            var mesh = try MeshImport.read(folder.appendingPathComponent("\(name).stl"))
            mesh.name = name
            mesh.color = color
            try MeshExport.write([mesh], to: folder.appendingPathComponent("\(name).obj"))
            return (try Data(contentsOf: folder.appendingPathComponent("\(name).obj")), try Data(contentsOf: folder.appendingPathComponent("\(name).mtl")))
        } catch {
            throw UseCaseFailure(description: "cannot make the OBJ of \(name): \(error)")
        }
    }

    /// Each structure's STL file in a package (folder or .zip), by structure name.
    static func packageMeshes(_ package: URL) throws(UseCaseFailure) -> [(String, Data)] {
        try withPackage(package) { folder, manifest throws(UseCaseFailure) in
            var models: [(String, Data)] = []
            for structure in manifest.structures {
                let file = folder.appendingPathComponent(structure.file)
                guard structure.file.lowercased().hasSuffix(".stl"), let data = try? Data(contentsOf: file) else {
                    throw UseCaseFailure(description: "the package \(package.path) has no STL file for \(structure.name) (\(structure.file))")
                }
                models.append((structure.name, data))
            }
            guard !models.isEmpty else { throw UseCaseFailure(description: "the package \(package.path) holds no structure") }
            return models
        }
    }

    /// The label map as bytes on the series' grid (`isSameGrid`: a label map on another grid is
    /// refused, never misplaced).
    static func onGrid(_ labels: LabelMap, of series: SeriesInfo, from where_: String) throws(UseCaseFailure) -> Volume<UInt8> {
        guard case .uint8(let volume) = labels.storage else {
            throw UseCaseFailure(description: "\(where_) has labels above 255: a DICOM Segmentation of this service holds at most 255 segments")
        }
        guard volume.geometry.isSameGrid(as: series.geometry) else {
            throw UseCaseFailure(description: "\(where_) is not on the study's grid: it has \(volume.geometry.gridDescription), series " +
                                 "\(series.seriesInstanceUID) has \(series.geometry.gridDescription); export the segmentation made from this study")
        }
        return volume
    }

    /// The coded category (CID 7150) and type (CID 7151) of a structure, by its name.
    static func codes(for name: String) -> (category: DicomSegmentation.Code, type: DicomSegmentation.Code) {
        let tissue = DicomSegmentation.Code("85756007", "SCT", "Tissue")
        let anatomy = DicomSegmentation.Code("91723000", "SCT", "Anatomical Structure")
        switch Preset(rawValue: name) {
        case .bone: return (tissue, .init("272673000", "SCT", "Bone"))
        case .skin: return (anatomy, .init("39937001", "SCT", "Skin"))
        case .vessels: return (anatomy, .init("59820001", "SCT", "Blood Vessel"))
        case .tumor: return (.init("49755003", "SCT", "Morphologically Abnormal Structure"), .init("108369006", "SCT", "Neoplasm"))
        case nil: return (tissue, tissue)
        }
    }
}
