import ArgumentParser
import DICOM
import Foundation
import Meshing
import Rendering
import VolumeCore
import VolumeIO

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render the surfaces of a label map headless (EGL + OpenGL ES 3) to PNG, optionally as a stereo pair.",
        discussion: """
            Builds each label's surface (or --label N's), smooths it, and renders it from an anatomical view \
            fitted to the scene. With --stereo: left.png, right.png, side-by-side.png and anaglyph.png (red-cyan), \
            with off-axis frusta (--ipd mm between the eyes, zero disparity at --convergence mm, default the scene's \
            centre). Volume rendering of studies is not built yet.
            Exit status: 0 on success, 1 when the input or the renderer fails, 2 on usage errors.
            """
    )

    @Argument(help: "A study (DICOM folder, files, zip) to render as a volume.")
    var study: [String] = []

    @Option(help: "Label map (.nii, .nii.gz) whose surfaces to render (instead of the volume).")
    var labels: String?

    @Option(help: "Volume preset: ct-bone, ct-soft-tissue or ct-angio.")
    var preset: String = "ct-bone"

    @Option(help: "Only this label.")
    var label: Int?

    @Option(help: "anterior, posterior, left, right, superior or inferior.")
    var view: String = "anterior"

    @Option(help: "Image size WIDTHxHEIGHT.")
    var size: String = "1024x1024"

    @Flag(help: "Render a stereo pair.")
    var stereo = false

    @Option(help: "Interpupillary distance (mm).")
    var ipd: Double = 64

    @Option(help: "Distance to the zero-disparity plane (mm; default: the scene's centre).")
    var convergence: Double?

    @Option(help: "Smoothing passes of the surfaces.")
    var smooth: Int = 10

    @Option(help: "Folder for the PNG files.")
    var out: String

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    func validate() throws {
        _ = try ImageSize(size)
        guard (labels == nil) != study.isEmpty else {
            throw ValidationError("give a study to render as a volume, or --labels L.nii.gz for surfaces (not both)")
        }
        guard TransferFunction.presets.contains(where: { $0.name == preset }) else {
            throw ValidationError("--preset must be one of \(TransferFunction.presets.map(\.name).joined(separator: ", ")), not '\(preset)'")
        }
        guard Camera.View(rawValue: view) != nil else {
            throw ValidationError("--view must be one of \(Camera.View.allCases.map(\.rawValue).joined(separator: ", ")), not '\(view)'")
        }
        if ipd <= 0 { throw ValidationError("--ipd must be more than 0 mm") }
        if let convergence, convergence <= 0 { throw ValidationError("--convergence must be more than 0 mm") }
        if smooth < 0 { throw ValidationError("--smooth must be 0 or more passes") }
    }

    func run() throws {
        let (width, height) = try ImageSize(size).pair
        guard let labels else { return renderVolume(width: width, height: height) }
        let map: LabelMap
        do {
            map = try NIfTI.readLabelMap(URL(fileURLWithPath: labels))
        } catch {
            fail("\(error)")
        }
        let values = label.map { [$0] } ?? map.labels.map(\.value)
        var meshes: [Mesh] = []
        for value in values {
            var mesh = Surfaces.surface(of: map, label: value).smoothed(passes: smooth)
            guard !mesh.indices.isEmpty else { fail("\(labels): label \(value) is empty: nothing to render") }
            if let info = map.labels.first(where: { $0.value == value }) {
                mesh.name = info.name
                mesh.color = info.color
            }
            meshes.append(mesh)
        }
        guard !meshes.isEmpty else { fail("\(labels): the label map holds no label to render") }
        var lo = SIMD3<Double>(repeating: .infinity), hi = SIMD3<Double>(repeating: -.infinity)
        for mesh in meshes {
            let m = MeshMeasurements(mesh, topology: false)
            lo = pointwiseMin(lo, m.minimum)
            hi = pointwiseMax(hi, m.maximum)
        }
        renderScene(box: (lo, hi), title: "surfaces", width: width, height: height) { camera throws(RenderingError) in
            let context = try GLContext()
            let renderer = try SurfaceRenderer(context: context, shaders: try shaderLibrary())
            return (context, { eyes throws(RenderingError) in
                try renderer.render(meshes, camera: camera, width: width, height: height, eyes: eyes)
            })
        }
    }

    private func renderVolume(width: Int, height: Int) {
        let series = chooseSeries(DicomLoader().load(study), from: study)
        let box = series.info.geometry.boundingBox
        let transfer = TransferFunction.presets.first { $0.name == preset }!
        renderScene(box: box, title: preset, width: width, height: height) { camera throws(RenderingError) in
            let context = try GLContext()
            let renderer = try VolumeRenderer(context: context, shaders: try shaderLibrary())
            try renderer.upload(series.volume, modality: series.info.modality)
            return (context, { eyes throws(RenderingError) in
                var images: [RGBAImage] = []
                for eye in eyes {
                    images.append(try renderer.render(camera: camera, width: width, height: height, transfer: transfer,
                                                      eyeOffset: eye.offset, shift: eye.shift))
                }
                return images
            })
        }
    }

    typealias Draw = ([(offset: Double, shift: Double)]) throws(RenderingError) -> [RGBAImage]

    private func shaderLibrary() throws(RenderingError) -> ShaderLibrary {
        try ShaderLibrary(directory: shaders.map { URL(fileURLWithPath: $0) })
    }

    /// Fits the camera to `box`, makes the renderer with `make`, renders, writes the PNGs and says
    /// what it wrote; exits with status 1 on any failure.
    private func renderScene(box: (SIMD3<Double>, SIMD3<Double>), title: String, width: Int, height: Int,
                             make: (Camera) throws(RenderingError) -> (GLContext, Draw)) {
        let camera = Camera.fitted(Camera.View(rawValue: view)!, box: box, aspect: Double(width) / Double(height))
        let folder = URL(fileURLWithPath: out)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            fail("\(out): cannot create the folder: \(error.localizedDescription)")
        }
        let written: [(String, Double)], description: String
        do {
            let (context, draw) = try make(camera)
            written = try renderFrames(folder: folder, camera: camera, draw: draw)
            description = "\(context.renderer) (\(context.version))"
        } catch {
            fail("\(error)")
        }
        print("Rendered \(title) with \(description)")
        for (name, time) in written {
            print("  wrote \(folder.appendingPathComponent(name).path)" + (time > 0 ? " (\(ms(time)) per frame)" : ""))
        }
    }

    /// Renders one image or a stereo pair with `draw` and writes the PNGs: (file, seconds per frame).
    private func renderFrames(folder: URL, camera: Camera, draw: Draw) throws(RenderingError) -> [(String, Double)] {
        let clock = Stopwatch()
        var written: [(String, Double)] = []
        if stereo {
            let eyes = StereoRig(ipd: ipd, convergence: convergence).eyes(for: camera)
            let images = try draw([eyes.left, eyes.right])
            let perFrame = clock.lap() / 2
            let (left, right) = (images[0], images[1])
            for (name, image, time) in [("left", left, perFrame), ("right", right, perFrame),
                                        ("side-by-side", StereoRig.sideBySide(left, right), 0),
                                        ("anaglyph", StereoRig.anaglyph(left, right), 0)] {
                try image.writePNG(to: folder.appendingPathComponent("\(view)-\(name).png"))
                written.append(("\(view)-\(name).png", time))
            }
        } else {
            let image = try draw([(0, 0)])[0]
            let time = clock.lap()
            try image.writePNG(to: folder.appendingPathComponent("\(view).png"))
            written.append(("\(view).png", time))
        }
        return written
    }
}

/// `--size WIDTHxHEIGHT`: positive whole numbers (the renderer checks the driver's limit).
struct ImageSize {
    var width: Int
    var height: Int

    init(_ text: String) throws {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let w = parts[0], let h = parts[1], w > 0, h > 0 else {
            throw ValidationError("--size must be WIDTHxHEIGHT with positive whole numbers, not '\(text)'")
        }
        (width, height) = (w, h)
    }

    var pair: (Int, Int) { (width, height) }
    var aspect: Double { Double(width) / Double(height) }
}
