import ArgumentParser
import DICOM
import Foundation
import Meshing
import Pipeline
import VolumeCore
import VolumeIO

struct MeshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Build a surface mesh from a label map or a study, smooth it, decimate it and write it.",
        discussion: """
            From a label map (.nii/.nii.gz): the surface of --label N (default: every label, each its own mesh; \
            STL, OBJ and PLY hold one, so give --label when there are several). Add --study DIR --iso V to \
            place the surface between voxels by the study's intensities (the label still decides what is inside).
            From a study (DICOM folder, files or zip): the iso-surface --iso V (inside: value > V).
            Then --smooth N passes of Taubin smoothing (no shrinking), --target-triangles N or --decimate \
            FRACTION (meshoptimizer), and the file named by --out: .glb (metres, +Y up, patient facing +Z), \
            .stl (binary, mm), .obj (+ .mtl) or .ply (with colours), in DICOM LPS millimetres.
            Exit status: 0 on success, 1 when the input or the surface fails, 2 on usage errors.
            """
    )

    @Argument(help: "A label map (.nii, .nii.gz) or a study (DICOM folder, files, zip).")
    var paths: [String]

    @Option(help: "Which label of the label map.")
    var label: Int?

    @Option(parsing: .unconditional, help: "Iso-value (with a study, or with --study for a label map).")
    var iso: Double?

    @Option(help: "With a label map: the study whose intensities place the surface (needs --iso).")
    var study: String?

    @Option(help: "Taubin smoothing passes.")
    var smooth: Int = 0

    @Option(name: .customLong("target-triangles"), help: "Decimate to about this many triangles.")
    var targetTriangles: Int?

    @Option(help: "Decimate to this fraction of the triangles (0 < f < 1).")
    var decimate: Double?

    @Option(name: .customLong("max-error-mm"), help: "With decimation: never move the surface more than this (mm).")
    var maxErrorMM: Double?

    @Option(help: "Colour r,g,b[,a] in 0…1 (default: the label's colour).")
    var color: String?

    @Flag(help: "glTF: 16-bit positions (KHR_mesh_quantization) when that keeps precision under 0.1 mm.")
    var quantize = false

    @Option(help: "Output file: .glb, .stl, .obj or .ply.")
    var out: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    var isLabelMap: Bool { paths.count == 1 && (paths[0].hasSuffix(".nii") || paths[0].hasSuffix(".nii.gz")) }

    func validate() throws {
        guard MeshExport.Format(path: out) != nil else {
            throw ValidationError("--out must end in .glb, .stl, .obj or .ply, not '\(out)'")
        }
        if !isLabelMap && iso == nil { throw ValidationError("meshing a study needs --iso VALUE") }
        if !isLabelMap && (label != nil || study != nil) { throw ValidationError("--label and --study apply to a label map") }
        if study != nil && iso == nil { throw ValidationError("--study needs --iso VALUE") }
        if smooth < 0 { throw ValidationError("--smooth must be 0 or more passes") }
        if let targetTriangles, targetTriangles < 1 {
            throw ValidationError("--target-triangles must be at least 1, not \(targetTriangles)")
        }
        if let decimate, !(decimate > 0 && decimate < 1) {
            throw ValidationError("--decimate must be a fraction between 0 and 1, not \(decimate)")
        }
        if targetTriangles != nil && decimate != nil { throw ValidationError("give --target-triangles or --decimate, not both") }
        if let maxErrorMM, maxErrorMM <= 0 { throw ValidationError("--max-error-mm must be more than 0") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try checkOption(threads, "--threads", OptionRange.threads)
        try checkOption(iso, "--iso", OptionRange.value)
        try checkOption(smooth, "--smooth", OptionRange.smoothingPasses)
        try checkOption(targetTriangles, "--target-triangles", OptionRange.triangles)
        try checkOption(maxErrorMM, "--max-error-mm", OptionRange.distanceMM)
        try checkOption(label, "--label", OptionRange.label)
        _ = try parsedColor()
    }

    func parsedColor() throws -> RGBA? {
        guard let color else { return nil }
        let parts = color.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard (3...4).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 && $0! <= 1 }) else {
            throw ValidationError("--color '\(color)' must be r,g,b or r,g,b,a with values in 0…1")
        }
        return RGBA(parts[0]!, parts[1]!, parts[2]!, parts.count == 4 ? parts[3]! : 1)
    }

    func run() throws {
        let clock = Stopwatch()
        var meshes = try extract()
        let extractSeconds = clock.lap()
        let before = meshes.map { MeshMeasurements($0, topology: false) }
        if smooth > 0 { meshes = meshes.map { $0.smoothed(passes: smooth, threads: threads) } }
        let smoothSeconds = clock.lap()
        let smoothed = meshes.map { MeshMeasurements($0, topology: false) }
        _ = clock.lap()
        if targetTriangles != nil || decimate != nil {
            do {
                meshes = try meshes.map { mesh throws(MeshingError) in
                    let target = targetTriangles ?? max(1, Int((Double(mesh.triangleCount) * decimate!).rounded()))
                    return try mesh.decimated(targetTriangles: target, maxErrorMM: maxErrorMM, threads: threads)
                }
            } catch {
                fail("\(error)")
            }
        } else {
            meshes = meshes.map { $0.optimizedForGPU() }
        }
        let decimateSeconds = clock.lap()
        meshes = meshes.map { $0.withNormals() }
        if let color = try parsedColor() { meshes = meshes.map { var m = $0; m.color = color; return m } }
        do {
            try MeshExport.write(meshes, to: URL(fileURLWithPath: out), quantize: quantize)
        } catch {
            fail("\(error)")
        }
        let writeSeconds = clock.lap()
        let report = meshes.indices.map { index in
            MeshJSON.Structure(name: meshes[index].name, measured: MeshMeasurements(meshes[index]),
                               volumeBeforeSmoothingML: before[index].volumeML, trianglesExtracted: before[index].triangles,
                               smoothingVolumeChangePercent: before[index].volumeML != 0
                                   ? (smoothed[index].volumeML - before[index].volumeML) / before[index].volumeML * 100 : 0)
        }
        let summary = MeshJSON(structures: report, smoothingPasses: smooth, output: out,
                               seconds: .init(extract: extractSeconds, smooth: smoothSeconds, decimate: decimateSeconds,
                                              write: writeSeconds))
        if json {
            print(try summary.encoded())
        } else {
            for s in report {
                print("Mesh \(s.name): \(s.triangles) triangles, \(s.vertices) vertices (extracted \(s.trianglesExtracted))")
                print("  area          \(String(format: "%.1f", s.areaMM2)) mm²")
                print("  volume        \(String(format: "%.3f", s.volumeML)) mL" +
                      (smooth > 0 ? " (smoothing changed it by \(String(format: "%+.2f", s.smoothingVolumeChangePercent)) %)" : ""))
                let corner = { (values: [Double]) in values.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
                print("  bounds (LPS)  (\(corner(s.boundsMM.min))) … (\(corner(s.boundsMM.max))) mm")
                print("  watertight    \(s.watertight ? "yes" : "no (\(s.boundaryEdges) open edges, \(s.nonManifoldEdges) non-manifold)")")
            }
            print("  time          extract \(ms(extractSeconds)), smooth \(ms(smoothSeconds)), decimate \(ms(decimateSeconds)), write \(ms(writeSeconds))")
            print("  wrote         \(out)")
        }
    }

    private func extract() throws -> [Mesh] {
        if !isLabelMap {
            let series = chooseSeries(DicomLoader(threads: threads).load(paths), from: paths)
            var mesh = Surfaces.isoSurface(series.volume, iso: iso!, threads: threads)
            mesh.name = "iso_\(fmt(iso!))"
            guard !mesh.indices.isEmpty else { fail("no voxel of the study is above --iso \(fmt(iso!)): nothing to mesh") }
            return [mesh]
        }
        let labels: LabelMap
        do {
            labels = try NIfTI.readLabelMap(URL(fileURLWithPath: paths[0]))
        } catch {
            fail("\(error)")
        }
        let counts = labels.voxelCounts(threads: threads)
        let present = counts.keys.filter { $0 != 0 }.sorted()
        let chosen: [Int]
        if let label {
            guard counts[label, default: 0] > 0 else {
                fail("\(paths[0]): label \(label) is empty (labels present: \(present.map(String.init).joined(separator: ", ")))")
            }
            chosen = [label]
        } else {
            guard !present.isEmpty else { fail("\(paths[0]): the label map is empty: nothing to mesh") }
            if present.count > 1 && MeshExport.Format(path: out) != .glb {
                fail("\(paths[0]) holds labels \(present.map(String.init).joined(separator: ", ")): give --label N (only .glb holds several meshes)")
            }
            chosen = present
        }
        let volume: AnyVolume?
        if let study {
            let report = DicomLoader(threads: threads).load([study])
            guard let series = report.series.first(where: { $0.info.geometry.dimensions == labels.geometry.dimensions }) else {
                fail("\(study): no series on the label map's grid (\(labels.geometry.dimensions.x)×\(labels.geometry.dimensions.y)×\(labels.geometry.dimensions.z))")
            }
            volume = series.volume
        } else {
            volume = nil
        }
        return chosen.map { value in
            let info = labels.labels.first { $0.value == value } ?? LabelInfo(value: value, name: "label_\(value)", color: RGBA(0.9, 0.9, 0.9))
            var mesh: Mesh
            if let volume {
                mesh = Surfaces.isoSurface(volume, iso: iso!, mask: StructureSurface.mask(of: value, in: labels), threads: threads)
            } else {
                mesh = StructureSurface.surface(of: value, in: labels, threads: threads)
            }
            if counts[value, default: 0] == labels.geometry.voxelCount {
                FileHandle.standardError.write(Data("vrprep: warning: label \(value) fills the whole volume: its surface is the grid's box\n".utf8))
            }
            mesh.name = info.name
            mesh.color = info.color
            return mesh
        }
    }
}

/// The `--json` shape of `vrprep mesh`.
struct MeshJSON: Encodable {
    struct Bounds: Encodable {
        var min: [Double]
        var max: [Double]
    }
    struct Structure: Encodable {
        var name: String
        var triangles: Int
        var vertices: Int
        var trianglesExtracted: Int
        var areaMM2: Double
        var volumeML: Double
        var volumeBeforeSmoothingML: Double
        var smoothingVolumeChangePercent: Double
        var boundsMM: Bounds
        var watertight: Bool
        var boundaryEdges: Int
        var nonManifoldEdges: Int

        init(name: String, measured m: MeshMeasurements, volumeBeforeSmoothingML: Double, trianglesExtracted: Int,
             smoothingVolumeChangePercent: Double) {
            self.name = name
            triangles = m.triangles
            vertices = m.vertices
            self.trianglesExtracted = trianglesExtracted
            areaMM2 = m.area
            volumeML = m.volumeML
            self.volumeBeforeSmoothingML = volumeBeforeSmoothingML
            self.smoothingVolumeChangePercent = smoothingVolumeChangePercent
            boundsMM = Bounds(min: [m.minimum.x, m.minimum.y, m.minimum.z], max: [m.maximum.x, m.maximum.y, m.maximum.z])
            watertight = m.watertight
            boundaryEdges = m.boundaryEdges
            nonManifoldEdges = m.nonManifoldEdges
        }
    }
    struct Seconds: Encodable {
        var extract: Double
        var smooth: Double
        var decimate: Double
        var write: Double
    }
    var structures: [Structure]
    var smoothingPasses: Int
    var output: String
    var seconds: Seconds

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
