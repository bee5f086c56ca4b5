import ArgumentParser
import Foundation
import Pipeline
import struct ScenePackage.Manifest
import VolumeCore

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a study, label map or meshes headless (EGL + OpenGL ES 3) to PNG and MP4: volume, surfaces, both, stereo pairs, turntables, slices.",
        discussion: """
            With a STUDY: a volume rendering through --preset; with --labels and/or --meshes as well, their \
            surfaces are drawn in the same image, depth-correct (the rays stop at them). Without a study: the \
            surfaces alone (each label's surface smoothed; --label N for one). --slice axial|coronal|sagittal \
            draws a slice instead, the labels' colours over the grey values.
            The view is --view, or --azimuth/--elevation in degrees (0/0 = anterior, 90/0 = from the \
            patient's left, 0/90 = from above); the camera is fitted to the scene. --stereo writes left, right, \
            side-by-side and anaglyph (red-cyan) images with off-axis frusta (--ipd mm between the eyes, zero \
            disparity at --convergence mm, default the scene's centre); --turntable N writes N frames around \
            the superior axis (side by side with --stereo); with --video FILE.mp4 they are also (or, without \
            --out, only) encoded as an H.264 MP4 at --fps frames per second that browsers and phones play \
            (with --stereo side by side at full width, for 3D televisions and projectors).
            --labelled draws a legend (each structure's colour, name and volume) and a leader line from each \
            structure to its name, in --lang en|ja|es|pt (FreeType; Japanese needs Debian's fonts-noto-cjk).
            Exit status: 0 on success, 1 when the input or the renderer fails, 2 on usage errors.
            """
    )

    @Argument(help: "A study (DICOM folder, files, zip) to render as a volume or slice.")
    var study: [String] = []

    @Option(help: "Label map (.nii, .nii.gz, a Slicer .seg.nrrd; a DICOM SEG or RT Structure Set with its STUDY): its surfaces (or, with --slice, its colours).")
    var labels: String?

    @Option(parsing: .upToNextOption, help: "Mesh files (.stl, .obj, .ply, LPS mm) to draw as surfaces.")
    var meshes: [String] = []

    @Option(help: "Volume preset: \(RenderImages.volumePresetNames.joined(separator: ", ")) (default: ct-bone for CT, mr for MR).")
    var preset: String?

    @Option(help: "Only this label.")
    var label: Int?

    @Option(help: "\(RenderImages.viewNames.joined(separator: ", ")).")
    var view: String = "anterior"

    @Option(help: "Degrees about the superior axis (0 = anterior, 90 = left); replaces --view.")
    var azimuth: Double?

    @Option(help: "Degrees above the horizontal (90 = from above); replaces --view.")
    var elevation: Double?

    @Option(help: "Frames of a turntable around the superior axis.")
    var turntable: Int?

    @Option(help: "With --turntable: write the frames as an H.264 MP4 to this file.")
    var video: String?

    @Option(help: "Frames per second of the video.")
    var fps: Int = 24

    @Flag(help: "Name the structures: a legend and leader labels.")
    var labelled = false

    @Option(help: "Language of the labels: en, ja, es or pt.")
    var lang: String = "en"

    @Option(help: defaceHelp("the default: a head's face is removed from the study and its labels, since pictures may leave the hospital"))
    var deface: DefaceStudy.Mode?

    @Option(help: "A slice instead of a 3D view: axial, coronal or sagittal.")
    var slice: String?

    @Option(help: "Slice position in mm (LPS z for axial, y for coronal, x for sagittal; default: the labels' centre, else the volume's).")
    var sliceMM: Double?

    @Option(help: "Slice window WIDTH,LEVEL (default for CT: 400,40; else the value range).")
    var window: String?

    @Option(help: "Image size WIDTHxHEIGHT.")
    var size: String = "1024x1024"

    @Flag(help: "Render a stereo pair.")
    var stereo = false

    @Option(help: "Interpupillary distance (mm).")
    var ipd: Double = 64

    @Option(help: "Distance to the zero-disparity plane (mm; default: the scene's centre).")
    var convergence: Double?

    @Option(help: "Smoothing passes of the label surfaces.")
    var smooth: Int = 10

    @Option(help: "Folder for the PNG files (may be left out with --video).")
    var out: String?

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    func validate() throws {
        _ = try imageSize(option: size)
        guard !study.isEmpty || labels != nil || !meshes.isEmpty else {
            throw ValidationError("give a study, --labels FILE (.nii.gz, .seg.nrrd; a DICOM SEG or RTSTRUCT with its study) or --meshes FILE… to render")
        }
        if let preset, !RenderImages.volumePresetNames.contains(preset) {
            throw ValidationError("--preset must be one of \(RenderImages.volumePresetNames.joined(separator: ", ")), not '\(preset)'")
        }
        guard RenderImages.view(named: view) != nil else {
            throw ValidationError("--view must be one of \(RenderImages.viewNames.joined(separator: ", ")), not '\(view)'")
        }
        if let elevation, !(-90...90).contains(elevation) { throw ValidationError("--elevation must be within -90…90 degrees") }
        if let azimuth, !azimuth.isFinite { throw ValidationError("--azimuth must be a number of degrees") }
        if let turntable, !(1...3600).contains(turntable) { throw ValidationError("--turntable must be 1…3600 frames") }
        if let video {
            guard turntable != nil else { throw ValidationError("--video writes a turntable: give --turntable N (e.g. 72)") }
            guard video.lowercased().hasSuffix(".mp4") else { throw ValidationError("--video must name an .mp4 file, not '\(video)'") }
            if let problem = RenderImages.videoSizeProblem(try imageSize(option: size)) { throw ValidationError("--video: \(problem)") }
        } else if out == nil {
            throw ValidationError("give --out FOLDER for the PNG files (or --video FILE.mp4 with --turntable)")
        }
        try checkOption(fps, "--fps", OptionRange.framesPerSecond)
        if labelled {
            guard labels != nil || !meshes.isEmpty else { throw ValidationError("--labelled names structures: give --labels FILE or --meshes FILE…") }
            guard !stereo, slice == nil else { throw ValidationError("--labelled draws on single views and turntables, not with --stereo or --slice") }
        }
        guard RenderImages.labelLanguages.contains(lang) else {
            throw ValidationError("--lang must be one of \(RenderImages.labelLanguages.joined(separator: ", ")), not '\(lang)'")
        }
        if ipd <= 0 { throw ValidationError("--ipd must be more than 0 mm") }
        if let convergence, convergence <= 0 { throw ValidationError("--convergence must be more than 0 mm") }
        if smooth < 0 { throw ValidationError("--smooth must be 0 or more passes") }
        try checkOption(smooth, "--smooth", OptionRange.smoothingPasses)
        try checkOption(ipd, "--ipd", CheckedRange(0, 1000, unit: "mm", lowerIncluded: false))
        try checkOption(convergence, "--convergence", OptionRange.distanceMM)
        try checkOption(azimuth, "--azimuth", OptionRange.angle)
        try checkOption(sliceMM, "--slice-mm", VolumeGeometry.coordinateRange)
        try checkOption(label, "--label", OptionRange.label)
        if let slice {
            guard RenderImages.sliceOrientation(named: slice) != nil else {
                throw ValidationError("--slice must be axial, coronal or sagittal, not '\(slice)'")
            }
            guard meshes.isEmpty, !stereo, turntable == nil, video == nil else {
                throw ValidationError("--slice draws a plane: it takes a study and/or --labels, not --meshes, --stereo, --turntable or --video")
            }
            guard !study.isEmpty || labels != nil else { throw ValidationError("--slice needs a study or --labels") }
        } else if sliceMM != nil || window != nil {
            throw ValidationError("--slice-mm and --window go with --slice")
        }
        _ = try parsedWindow()
    }

    func parsedWindow() throws -> ClosedRange<Double>? {
        guard let window else { return nil }
        let parts = window.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let width = parts[0], let level = parts[1], width > 0 else {
            throw ValidationError("--window must be WIDTH,LEVEL with a width above 0, not '\(window)'")
        }
        return (level - width / 2)...(level + width / 2)
    }

    func run() throws {
        var request = RenderImages()
        request.study = study
        (request.labels, request.label, request.meshes, request.smoothingPasses) = (labels, label, meshes, smooth)
        request.preset = preset
        request.size = try imageSize(option: size)
        request.view = RenderImages.view(named: view)!
        (request.azimuth, request.elevation, request.turntable) = (azimuth, elevation, turntable)
        (request.video, request.framesPerSecond) = (video.map { URL(fileURLWithPath: $0) }, fps)
        (request.labelled, request.language) = (labelled, lang)
        if stereo { request.stereo = (ipd, convergence) }
        if let slice { request.slice = (RenderImages.sliceOrientation(named: slice)!, sliceMM, try parsedWindow()) }
        request.shaders = shaders.map { URL(fileURLWithPath: $0) }
        request.deface = deface
        let result = withProgress { try request.run(writingTo: out.map { URL(fileURLWithPath: $0) }, observer: $0) }
        if let defacing = result.defacing {
            print(defacing.removed ? "Face removed (\(plainNumber(defacing.removedML ?? 0)) mL) before rendering" :
                    defacing.faceFound ? "Face kept (defacing \(defacing.mode))" : "No face removed: \(defacing.method)")
        }
        if slice != nil {
            print("Rendered \(result.what) with \(result.renderer)")
            for (file, time) in result.written { print("  wrote \(file.path) (\(ms(time)))") }
        } else {
            print("Rendered \(result.what) with \(result.renderer) (\(result.version))")
            for (file, time) in result.written { print("  wrote \(file.path)" + (time > 0 ? " (\(ms(time)) per frame)" : "")) }
            if video != nil, let turntable {
                print("  video: H.264, \(turntable) frames at \(fps) per second (\(plainNumber(Double(turntable) / Double(fps))) s), \(RenderImages.videoEncoder)")
            }
        }
    }
}

/// `--size WIDTHxHEIGHT`, or a usage error naming the option.
func imageSize(option text: String) throws -> RenderImages.Size {
    guard let size = RenderImages.size(parsing: text) else {
        throw ValidationError("--size must be WIDTHxHEIGHT with positive whole numbers, not '\(text)'")
    }
    return size
}
