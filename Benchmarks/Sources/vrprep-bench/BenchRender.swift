import ArgumentParser
import DICOM
import Foundation
import Meshing
import Rendering
import Segmentation
import VolumeCore

extension Bench {
    struct RenderBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "render",
            abstract: "Time headless frames and stereo pairs of a study (volume, or the surface of a thresholded mask) and print JSON.",
            discussion: """
                Anterior view fitted to the volume's box (30° perspective), black background. The series is loaded \
                (and for --surface thresholded and meshed, not decimated, with normals) before timing; uploads are timed apart; \
                then one warm-up frame and --runs timed single frames and stereo pairs (64 mm, converging at the \
                centre), each read back to memory.
                """
        )

        @Argument(help: "A DICOM folder, files or a zip archive.")
        var paths: [String]

        @Option(help: "Volume preset.")
        var preset: String = "ct-bone"

        @Flag(help: "Render the surface of the mask [--lower, --upper] instead of the volume.")
        var surface = false

        @Option(help: "Lower bound of the surface's mask.")
        var lower: Double = 226

        @Option(help: "Upper bound of the surface's mask.")
        var upper: Double = 3071

        @Option(help: "Image size WIDTHxHEIGHT.")
        var size: String = "1024x1024"

        @Option(help: "Timed runs after one warm-up frame.")
        var runs: Int = 5

        @Option(help: "Also write the warm-up frame here (PNG), to compare images of two builds or shader sets.")
        var png: String?

        private func imageSize() throws -> ImageSize {
            guard let image = ImageSize(parsing: size) else { throw ValidationError("--size must be WIDTHxHEIGHT, not '\(size)'") }
            return image
        }

        func validate() throws {
            guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
            guard TransferFunction.presets.contains(where: { $0.name == preset }) else {
                throw ValidationError("--preset must be one of \(TransferFunction.presets.map(\.name).joined(separator: ", "))")
            }
            _ = try imageSize()
        }

        func run() throws {
            let image = try imageSize()
            let report = DicomLoader().load(paths)
            guard let series = report.series.first else {
                FileHandle.standardError.write(Data("vrprep-bench render: no series could be loaded\n".utf8))
                throw ExitCode(1)
            }
            let g = series.info.geometry
            let camera = Camera.fitted(.anterior, box: g.boundingBox, aspect: image.aspect)
            let eyes = StereoRig().eyes(for: camera)
            let context = try GLContext()
            let shaders = try ShaderLibrary()
            var output: [String: Any] = [
                "tool": "vrprep", "renderer": "\(context.renderer) (\(context.version))",
                "dimensions": [g.dimensions.x, g.dimensions.y, g.dimensions.z], "width": image.width, "height": image.height,
            ]
            let draw: ([(offset: Double, shift: Double)]) throws -> [RGBAImage]
            if surface {
                let mask = try Thresholding.mask(series.volume, lower: lower, upper: upper)
                let mesh = Surfaces.surface(of: mask).withNormals()
                let renderer = try SurfaceRenderer(context: context, shaders: shaders)
                output["mode"] = "surface"
                output["triangles"] = mesh.triangleCount
                let clock = Stopwatch()
                let uploaded = try renderer.upload([mesh])
                output["uploadSeconds"] = clock.lap()
                draw = { eyes in try renderer.render(uploaded, camera: camera, width: image.width, height: image.height, eyes: eyes) }
            } else {
                let renderer = try VolumeRenderer(context: context, shaders: shaders)
                let clock = Stopwatch()
                try renderer.upload(series.volume, modality: series.info.modality)
                output["mode"] = "volume"
                output["preset"] = preset
                output["uploadSeconds"] = clock.lap()
                let transfer = TransferFunction.presets.first { $0.name == preset }!
                draw = { eyes in
                    try renderer.render(camera: camera, width: image.width, height: image.height, transfer: transfer, eyes: eyes)
                }
            }
            let first = try draw([(0, 0)])
            if let png { try first[0].writePNG(to: URL(fileURLWithPath: png)) }
            var frames: [Double] = [], pairs: [Double] = []
            for _ in 0..<runs {
                let clock = Stopwatch()
                _ = try draw([(0, 0)])
                frames.append(clock.lap())
                _ = try draw([eyes.left, eyes.right])
                pairs.append(clock.lap())
            }
            func summary(_ values: [Double]) -> [String: Any] {
                let sorted = values.sorted()
                return ["seconds": values, "median": sorted[sorted.count / 2], "best": sorted[0]]
            }
            output["frame"] = summary(frames)
            output["stereoPair"] = summary(pairs)
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

