import DICOM
import Foundation
import Meshing
import VolumeCore
import VolumeIO

/// Use case: surfaces from a label map (each label by the one rule of `StructureSurface`, or
/// placed between voxels by a study's intensities) or a study's iso-surface; smoothed, decimated
/// (or ordered for the GPU) and written as .glb, .stl, .obj or .ply. `vrprep mesh` builds the
/// request from its options and prints the result.
public struct BuildSurfaces: Sendable {
    public enum Source: Sendable {
        /// A label map: one label, or every label present; with a study and an iso-value the
        /// surface lies between voxels by the study's intensities (the label decides inside).
        case labelMap(path: String, label: Int?, study: String?, iso: Double?)
        /// A study's iso-surface (inside: value > iso).
        case study(paths: [String], iso: Double)
    }

    public var source: Source
    public var smoothingPasses = 0
    /// Decimation: a triangle count, or a fraction of the triangles; at most this error (mm).
    public var targetTriangles: Int?
    public var fraction: Double?
    public var maxErrorMM: Double?
    public var color: RGBA?
    public var quantize = false
    public var threads: Int?

    public init(source: Source) {
        self.source = source
    }

    /// One surface as written: its size, its geometry (LPS mm) and whether it is closed. The
    /// `--json` of `vrprep mesh` lists these as they are.
    public struct Surface: Sendable, Encodable {
        public struct Bounds: Sendable, Encodable {
            public var min: [Double]
            public var max: [Double]
        }

        public var name: String
        public var triangles: Int
        public var vertices: Int
        /// Before smoothing (geometry only): its triangles and enclosed volume.
        public var trianglesExtracted: Int
        public var areaMM2: Double
        public var volumeML: Double
        public var volumeBeforeSmoothingML: Double
        /// Enclosed volume changed by smoothing (%), 0 without smoothing.
        public var smoothingVolumeChangePercent: Double
        public var boundsMM: Bounds
        public var watertight: Bool
        public var boundaryEdges: Int
        public var nonManifoldEdges: Int

        init(name: String, measured m: MeshMeasurements, before: MeshMeasurements, smoothed: MeshMeasurements) {
            self.name = name
            (triangles, vertices, areaMM2, volumeML) = (m.triangles, m.vertices, m.area, m.volumeML)
            (trianglesExtracted, volumeBeforeSmoothingML) = (before.triangles, before.volumeML)
            smoothingVolumeChangePercent = before.volumeML != 0 ? (smoothed.volumeML - before.volumeML) / before.volumeML * 100 : 0
            boundsMM = Bounds(min: [m.minimum.x, m.minimum.y, m.minimum.z], max: [m.maximum.x, m.maximum.y, m.maximum.z])
            (watertight, boundaryEdges, nonManifoldEdges) = (m.watertight, m.boundaryEdges, m.nonManifoldEdges)
        }
    }

    /// Whether a file name ends in a mesh format this writes (.glb, .stl, .obj, .ply).
    public static func writes(_ path: String) -> Bool {
        MeshExport.Format(path: path) != nil
    }

    public struct Result: Sendable {
        public var surfaces: [Surface]
        public var warnings: [String]
        public var seconds: (extract: Double, smooth: Double, decimate: Double, write: Double)
    }

    public typealias Failure = UseCaseFailure

    /// Builds the surfaces and writes them to `out`; the observer hears each step.
    public func run(writingTo out: URL, observer: (any UseCaseObserver)? = nil) throws(Failure) -> Result {
        let clock = Stopwatch()
        var warnings: [String] = []
        try observer.step("extracting", fraction: 0)
        var meshes = try extract(format: MeshExport.Format(path: out.path), warnings: &warnings)
        let extractSeconds = clock.lap()
        try observer.step("smoothing", fraction: 0.4)
        let before = meshes.map { MeshMeasurements($0, topology: false) }
        if smoothingPasses > 0 { meshes = meshes.map { $0.smoothed(passes: smoothingPasses, threads: threads) } }
        let smoothSeconds = clock.lap()
        let smoothed = meshes.map { MeshMeasurements($0, topology: false) }
        try observer.step("decimating", fraction: 0.6)
        _ = clock.lap()
        if targetTriangles != nil || fraction != nil {
            do {
                meshes = try meshes.map { mesh throws(MeshingError) in
                    let target = targetTriangles ?? max(1, Int((Double(mesh.triangleCount) * fraction!).rounded()))
                    return try mesh.decimated(targetTriangles: target, maxErrorMM: maxErrorMM, threads: threads)
                }
            } catch {
                throw Failure(description: "\(error)")
            }
        } else {
            meshes = meshes.map { $0.optimizedForGPU() }
        }
        let decimateSeconds = clock.lap()
        meshes = meshes.map { $0.withNormals() }
        if let color { meshes = meshes.map { var m = $0; m.color = color; return m } }
        try observer.step("writing", fraction: 0.9)
        do {
            try MeshExport.write(meshes, to: out, quantize: quantize)
        } catch {
            throw Failure(description: "\(error)")
        }
        let writeSeconds = clock.lap()
        let surfaces = meshes.indices.map { index in
            Surface(name: meshes[index].name, measured: MeshMeasurements(meshes[index]), before: before[index], smoothed: smoothed[index])
        }
        return Result(surfaces: surfaces, warnings: warnings,
                      seconds: (extractSeconds, smoothSeconds, decimateSeconds, writeSeconds))
    }

    private func extract(format: MeshExport.Format?, warnings: inout [String]) throws(Failure) -> [Mesh] {
        switch source {
        case .study(let paths, let iso):
            let series = try SeriesChoice.choose(DicomLoader(threads: threads).load(paths), from: paths)
            var mesh = Surfaces.isoSurface(series.volume, iso: iso, threads: threads)
            mesh.name = "iso_\(plainNumber(iso))"
            guard !mesh.indices.isEmpty else { throw Failure(description: "no voxel of the study is above --iso \(plainNumber(iso)): nothing to mesh") }
            return [mesh]
        case .labelMap(let path, let label, let study, let iso):
            let labels = try ImportSegmentation.labelMap(URL(fileURLWithPath: path), study: study.map { [$0] })
            let counts = labels.voxelCounts(threads: threads)
            let present = counts.keys.filter { $0 != 0 }.sorted()
            let chosen: [Int]
            if let label {
                guard counts[label, default: 0] > 0 else {
                    throw Failure(description: "\(path): label \(label) is empty (labels present: \(present.map(String.init).joined(separator: ", ")))")
                }
                chosen = [label]
            } else {
                guard !present.isEmpty else { throw Failure(description: "\(path): the label map is empty: nothing to mesh") }
                if present.count > 1 && format != .glb {
                    throw Failure(description: "\(path) holds labels \(present.map(String.init).joined(separator: ", ")): give --label N (only .glb holds several meshes)")
                }
                chosen = present
            }
            var volume: AnyVolume?
            if let study {
                let report = DicomLoader(threads: threads).load([study])
                guard let series = report.series.first(where: { $0.info.geometry.dimensions == labels.geometry.dimensions }) else {
                    let d = labels.geometry.dimensions
                    throw Failure(description: "\(study): no series on the label map's grid (\(d.x)×\(d.y)×\(d.z))")
                }
                volume = series.volume
            }
            return chosen.map { value in
                let info = labels.labels.first { $0.value == value } ?? LabelInfo(value: value, name: "label_\(value)", color: RGBA(0.9, 0.9, 0.9))
                var mesh: Mesh
                if let volume, let iso {
                    mesh = Surfaces.isoSurface(volume, iso: iso, mask: StructureSurface.mask(of: value, in: labels), threads: threads)
                } else {
                    mesh = StructureSurface.surface(of: value, in: labels, threads: threads)
                }
                if counts[value, default: 0] == labels.geometry.voxelCount {
                    warnings.append("label \(value) fills the whole volume: its surface is the grid's box")
                }
                mesh.name = info.name
                mesh.color = info.color
                return mesh
            }
        }
    }
}
