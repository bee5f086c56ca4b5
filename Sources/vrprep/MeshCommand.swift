import ArgumentParser
import Foundation
import Pipeline
import VolumeCore

struct MeshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Build a surface mesh from a label map or a study, smooth it, decimate it and write it.",
        discussion: """
            From a label map (.nii/.nii.gz, a Slicer .seg.nrrd, or with --study DIR a DICOM Segmentation or RT \
            Structure Set .dcm, placed on that study): the surface of --label N (default: every label, each its own \
            mesh; STL, OBJ and PLY hold one, so give --label when there are several). Add --study DIR --iso V to \
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

    /// A label map: NIfTI or Slicer NRRD; or, with --study, a DICOM Segmentation or RT Structure Set (.dcm).
    var isLabelMap: Bool {
        paths.count == 1 && (ImportSegmentation.isSegmentationName(paths[0]) && (!paths[0].lowercased().hasSuffix(".dcm") || study != nil))
    }

    func validate() throws {
        guard BuildSurfaces.writes(out) else {
            throw ValidationError("--out must end in .glb, .stl, .obj or .ply, not '\(out)'")
        }
        if !isLabelMap && iso == nil { throw ValidationError("meshing a study needs --iso VALUE") }
        if !isLabelMap && (label != nil || study != nil) { throw ValidationError("--label and --study apply to a label map") }
        // (A DICOM segmentation takes --study to be placed; a NIfTI or NRRD takes it only with --iso.)
        if study != nil && iso == nil && !paths[0].lowercased().hasSuffix(".dcm") { throw ValidationError("--study needs --iso VALUE") }
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
        var request = BuildSurfaces(source: isLabelMap ? .labelMap(path: paths[0], label: label, study: study, iso: iso)
                                                       : .study(paths: paths, iso: iso!))
        request.smoothingPasses = smooth
        (request.targetTriangles, request.fraction, request.maxErrorMM) = (targetTriangles, decimate, maxErrorMM)
        request.color = try parsedColor()
        request.quantize = quantize
        request.threads = threads
        let result = withProgress { try request.run(writingTo: URL(fileURLWithPath: out), observer: $0) }
        for warning in result.warnings { FileHandle.standardError.write(Data("vrprep: warning: \(warning)\n".utf8)) }
        let report = result.surfaces
        let t = result.seconds
        let summary = MeshJSON(structures: report, smoothingPasses: smooth, output: out,
                               seconds: .init(extract: t.extract, smooth: t.smooth, decimate: t.decimate, write: t.write))
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
            print("  time          extract \(ms(t.extract)), smooth \(ms(t.smooth)), decimate \(ms(t.decimate)), write \(ms(t.write))")
            print("  wrote         \(out)")
        }
    }
}

/// The `--json` shape of `vrprep mesh`.
struct MeshJSON: PrintedJSON {
    struct Seconds: Encodable {
        var extract: Double
        var smooth: Double
        var decimate: Double
        var write: Double
    }
    var structures: [BuildSurfaces.Surface]
    var smoothingPasses: Int
    var output: String
    var seconds: Seconds
}
