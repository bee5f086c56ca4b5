import ArgumentParser
import DICOM
import Foundation
import Meshing
import Pipeline
import Rendering
import VolumeCore
import VolumeIO

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a study, label map or meshes headless (EGL + OpenGL ES 3) to PNG: volume, surfaces, both, stereo pairs, turntables, slices.",
        discussion: """
            With a STUDY: a volume rendering through --preset; with --labels and/or --meshes as well, their \
            surfaces are drawn in the same image, depth-correct (the rays stop at them). Without a study: the \
            surfaces alone (each label's surface smoothed; --label N for one). --slice axial|coronal|sagittal \
            draws a slice instead, the labels' colours over the grey values.
            The view is --view, or --azimuth/--elevation in degrees (0/0 = anterior, 90/0 = from the \
            patient's left, 0/90 = from above); the camera is fitted to the scene. --stereo writes left, right, \
            side-by-side and anaglyph (red-cyan) images with off-axis frusta (--ipd mm between the eyes, zero \
            disparity at --convergence mm, default the scene's centre); --turntable N writes N frames around \
            the superior axis (side by side with --stereo).
            Exit status: 0 on success, 1 when the input or the renderer fails, 2 on usage errors.
            """
    )

    @Argument(help: "A study (DICOM folder, files, zip) to render as a volume or slice.")
    var study: [String] = []

    @Option(help: "Label map (.nii, .nii.gz): its surfaces (or, with --slice, its colours).")
    var labels: String?

    @Option(parsing: .upToNextOption, help: "Mesh files (.stl, .obj, .ply, LPS mm) to draw as surfaces.")
    var meshes: [String] = []

    @Option(help: "Volume preset: \(TransferFunction.presets.map(\.name).joined(separator: ", ")) (default: ct-bone for CT, mr for MR).")
    var preset: String?

    @Option(help: "Only this label.")
    var label: Int?

    @Option(help: "\(Camera.View.allCases.map(\.rawValue).joined(separator: ", ")).")
    var view: String = "anterior"

    @Option(help: "Degrees about the superior axis (0 = anterior, 90 = left); replaces --view.")
    var azimuth: Double?

    @Option(help: "Degrees above the horizontal (90 = from above); replaces --view.")
    var elevation: Double?

    @Option(help: "Frames of a turntable around the superior axis.")
    var turntable: Int?

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

    @Option(help: "Folder for the PNG files.")
    var out: String

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    func validate() throws {
        _ = try ImageSize(option: size)
        guard !study.isEmpty || labels != nil || !meshes.isEmpty else {
            throw ValidationError("give a study, --labels L.nii.gz or --meshes FILE… to render")
        }
        if let preset, !TransferFunction.presets.contains(where: { $0.name == preset }) {
            throw ValidationError("--preset must be one of \(TransferFunction.presets.map(\.name).joined(separator: ", ")), not '\(preset)'")
        }
        guard Camera.View(rawValue: view) != nil else {
            throw ValidationError("--view must be one of \(Camera.View.allCases.map(\.rawValue).joined(separator: ", ")), not '\(view)'")
        }
        if let elevation, !(-90...90).contains(elevation) { throw ValidationError("--elevation must be within -90…90 degrees") }
        if let azimuth, !azimuth.isFinite { throw ValidationError("--azimuth must be a number of degrees") }
        if let turntable, !(1...3600).contains(turntable) { throw ValidationError("--turntable must be 1…3600 frames") }
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
            guard SliceRenderer.Orientation(rawValue: slice) != nil else {
                throw ValidationError("--slice must be axial, coronal or sagittal, not '\(slice)'")
            }
            guard meshes.isEmpty, !stereo, turntable == nil else {
                throw ValidationError("--slice draws a plane: it takes a study and/or --labels, not --meshes, --stereo or --turntable")
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
        let image = try ImageSize(option: size)
        let series = study.isEmpty ? nil : chooseSeries(DicomLoader().load(study), from: study)
        let map: LabelMap? = labels.map { path in
            do { return try NIfTI.readLabelMap(URL(fileURLWithPath: path)) } catch { fail("\(error)") }
        }
        if let slice { return renderSlice(SliceRenderer.Orientation(rawValue: slice)!, series: series, map: map, image: image) }
        let surfaces = surfaceMeshes(map)
        var box = series?.info.geometry.boundingBox
        for mesh in surfaces {
            let m = MeshMeasurements(mesh, topology: false)
            box = box.map { (pointwiseMin($0.0, m.minimum), pointwiseMax($0.1, m.maximum)) } ?? (m.minimum, m.maximum)
        }
        guard let box else { fail("nothing to render") }
        let transfer = series.map { chosenPreset(modality: $0.info.modality) } ?? .ctBone
        let title = series != nil ? transfer.name + (surfaces.isEmpty ? "" : " with \(surfaces.count) surface(s)") : "\(surfaces.count) surface(s)"
        renderScene(box: box, title: title, image: image) { () throws(RenderingError) -> (GLContext, Draw) in
            let context = try GLContext()
            let library = try shaderLibrary()
            let surfaceRenderer = try SurfaceRenderer(context: context, shaders: library)
            let uploaded = try surfaceRenderer.upload(surfaces)
            guard let series else {
                return (context, { camera, eyes throws(RenderingError) in
                    try surfaceRenderer.render(uploaded, camera: camera, width: image.width, height: image.height, eyes: eyes)
                })
            }
            let renderer = try VolumeRenderer(context: context, shaders: library)
            try renderer.upload(series.volume, modality: series.info.modality)
            return (context, { camera, eyes throws(RenderingError) in
                try renderer.render(camera: camera, width: image.width, height: image.height, transfer: transfer, eyes: eyes,
                                    surfaces: surfaces.isEmpty ? nil : uploaded)
            })
        }
    }

    /// --preset, else the modality's own (ct-bone for CT, mr for MR; other modalities must name one).
    private func chosenPreset(modality: String) -> TransferFunction {
        if let preset { return TransferFunction.presets.first { $0.name == preset }! }
        if let own = TransferFunction.presets.first(where: { $0.modality == modality && ($0.name == "ct-bone" || $0.name == "mr") }) {
            return own
        }
        fail("no default volume preset for modality '\(modality)': choose one with --preset (\(TransferFunction.presets.map(\.name).joined(separator: ", ")))")
    }

    /// The surfaces of the label map's labels (or --label's) and the mesh files.
    private func surfaceMeshes(_ map: LabelMap?) -> [Mesh] {
        var out: [Mesh] = []
        if let map, let labels {
            let values = label.map { [$0] } ?? map.labels.map(\.value)
            if values.isEmpty { fail("\(labels): the label map holds no label to render") }
            for value in values {
                var mesh = StructureSurface.surface(of: value, in: map).smoothed(passes: smooth)
                guard !mesh.indices.isEmpty else { fail("\(labels): label \(value) is empty: nothing to render") }
                if let info = map.labels.first(where: { $0.value == value }) {
                    mesh.name = info.name
                    mesh.color = info.color
                }
                out.append(mesh)
            }
        }
        let palette = [RGBA(0.9, 0.85, 0.75), RGBA(0.85, 0.2, 0.2), RGBA(0.3, 0.5, 0.95), RGBA(0.95, 0.75, 0.2)]
        for (n, path) in meshes.enumerated() {
            do {
                var mesh = try MeshImport.read(URL(fileURLWithPath: path))
                mesh.color = palette[n % palette.count]
                out.append(mesh)
            } catch {
                fail("\(error)")
            }
        }
        return out
    }

    private func renderSlice(_ orientation: SliceRenderer.Orientation, series: LoadedSeries?, map: LabelMap?, image: ImageSize) {
        let folder = outputFolder()
        do {
            let context = try GLContext()
            let renderer = try SliceRenderer(context: context, shaders: try shaderLibrary())
            if let series { try renderer.upload(series.volume, modality: series.info.modality) }
            if let map { try renderer.upload(map) }
            let clock = Stopwatch()
            let position = sliceMM ?? renderer.defaultPosition(orientation)!
            let picture = try renderer.render(orientation, position: position, width: image.width, height: image.height,
                                              window: try? parsedWindow())
            let time = clock.lap()
            let name = "slice-\(orientation.rawValue).png"
            try picture.writePNG(to: folder.appendingPathComponent(name))
            print("Rendered a \(orientation.rawValue) slice at \(String(format: "%.1f", position)) mm with \(context.renderer)")
            print("  wrote \(folder.appendingPathComponent(name).path) (\(ms(time)))")
        } catch {
            fail("\(error)")
        }
    }

    typealias Draw = (Camera, [(offset: Double, shift: Double)]) throws(RenderingError) -> [RGBAImage]

    private func shaderLibrary() throws(RenderingError) -> ShaderLibrary {
        try ShaderLibrary(directory: shaders.map { URL(fileURLWithPath: $0) })
    }

    private func outputFolder() -> URL {
        let folder = URL(fileURLWithPath: out)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            fail("\(out): cannot create the folder: \(error.localizedDescription)")
        }
        return folder
    }

    /// The view's name in file names, and its camera fitted to `box`.
    private func camera(box: (SIMD3<Double>, SIMD3<Double>), aspect: Double, turn: Double = 0) -> (String, Camera) {
        if azimuth == nil && elevation == nil && turn == 0 {
            return (view, Camera.fitted(Camera.View(rawValue: view)!, box: box, aspect: aspect))
        }
        // Named views as angles: the turntable starts there.
        let named: [String: (Double, Double)] = ["anterior": (0, 0), "left": (90, 0), "posterior": (180, 0), "right": (270, 0),
                                                 "superior": (0, 90), "inferior": (0, -90)]
        let (a, e) = (azimuth ?? named[view]!.0, elevation ?? named[view]!.1)
        let name = "azimuth\(Int((a + turn).rounded()))-elevation\(Int(e.rounded()))"
        return (name, Camera.orbit(azimuth: a + turn, elevation: e, box: box, aspect: aspect))
    }

    /// Makes the renderer with `make`, renders the view (or turntable), writes the PNGs and says
    /// what it wrote; exits with status 1 on any failure.
    private func renderScene(box: (SIMD3<Double>, SIMD3<Double>), title: String, image: ImageSize,
                             make: () throws(RenderingError) -> (GLContext, Draw)) {
        let folder = outputFolder()
        var written: [(String, Double)] = []
        let description: String
        do {
            let (context, draw) = try make()
            description = "\(context.renderer) (\(context.version))"
            if let turntable {
                for frame in 0..<turntable {
                    let (_, camera) = camera(box: box, aspect: image.aspect, turn: 360 * Double(frame) / Double(turntable))
                    let name = String(format: "turntable-%03d", frame)
                    written += try renderFrames(folder: folder, name: name, camera: camera, draw: draw, pairOnly: true)
                }
            } else {
                let (name, camera) = camera(box: box, aspect: image.aspect)
                written = try renderFrames(folder: folder, name: name, camera: camera, draw: draw, pairOnly: false)
            }
        } catch {
            fail("\(error)")
        }
        print("Rendered \(title) with \(description)")
        for (name, time) in written {
            print("  wrote \(folder.appendingPathComponent(name).path)" + (time > 0 ? " (\(ms(time)) per frame)" : ""))
        }
    }

    /// Renders one image or a stereo pair with `draw` and writes the PNGs: (file, seconds per
    /// frame). `pairOnly`: a stereo pair is written side by side only (turntable frames).
    private func renderFrames(folder: URL, name: String, camera: Camera, draw: Draw, pairOnly: Bool) throws(RenderingError) -> [(String, Double)] {
        let clock = Stopwatch()
        var images: [(String, RGBAImage, Double)] = []
        if stereo {
            let eyes = StereoRig(ipd: ipd, convergence: convergence).eyes(for: camera)
            let pair = try draw(camera, [eyes.left, eyes.right])
            let perFrame = clock.lap() / 2
            let (left, right) = (pair[0], pair[1])
            images.append(("\(name)-side-by-side.png", StereoRig.sideBySide(left, right), pairOnly ? perFrame : 0))
            if !pairOnly {
                images += [("\(name)-left.png", left, perFrame), ("\(name)-right.png", right, perFrame),
                           ("\(name)-anaglyph.png", StereoRig.anaglyph(left, right), 0)]
            }
        } else {
            let single = try draw(camera, [(0, 0)])[0]
            images.append(("\(name).png", single, clock.lap()))
        }
        for (file, picture, _) in images { try picture.writePNG(to: folder.appendingPathComponent(file)) }
        return images.map { ($0.0, $0.2) }
    }
}

extension ImageSize {
    /// `--size WIDTHxHEIGHT`, or a usage error naming the option.
    init(option text: String) throws {
        guard let size = ImageSize(parsing: text) else {
            throw ValidationError("--size must be WIDTHxHEIGHT with positive whole numbers, not '\(text)'")
        }
        self = size
    }
}
