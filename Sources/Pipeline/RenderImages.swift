import DICOM
import Foundation
import Meshing
import Rendering
import ScenePackage
import Segmentation
import VolumeCore
import VolumeIO

/// Use case: images of a study (volume rendering), a label map's surfaces (by `StructureSurface`)
/// and mesh files, together and depth-correct; or a slice with the labels' colours. One view,
/// a stereo pair or a turntable, written as PNG files into a folder; a turntable also as an H.264
/// MP4 (`video`). `vrprep render` builds the request from its options and prints what was written.
public struct RenderImages: Sendable {
    public var study: [String] = []
    public var labels: String?
    /// Only this label of the label map.
    public var label: Int?
    public var meshes: [String] = []
    public var smoothingPasses = 10
    /// A transfer function's name; default: the modality's own (ct-bone for CT, mr for MR).
    public var preset: String?
    public var size = ImageSize(width: 1024, height: 1024)
    public var view: Camera.View = .anterior
    /// Degrees; either replaces `view`.
    public var azimuth: Double?
    public var elevation: Double?
    public var turntable: Int?
    /// With `turntable`: the frames as an H.264 MP4 too (a stereo turntable side by side, full
    /// width: each eye at the full `size`, as 3D televisions and projectors take it).
    public var video: URL?
    public var framesPerSecond = 24
    /// A legend and leader labels naming the structures (label map and mesh files), in
    /// `language` (en, ja, es, pt), with each label's volume.
    public var labelled = false
    public var language = "en"
    /// A stereo pair: interpupillary distance and zero-disparity distance (mm).
    public var stereo: (ipd: Double, convergence: Double?)?
    /// A slice instead of a 3D view.
    public var slice: (orientation: SliceRenderer.Orientation, positionMM: Double?, window: ClosedRange<Double>?)?
    public var shaders: URL?
    /// A head's face is removed from the study (and the label map) before anything is drawn;
    /// `off` keeps it (pictures for the patient's own team); nil: `auto`.
    public var deface: Defacing.Mode?

    public init() {}

    public struct Result: Sendable {
        /// What was drawn ("ct-bone with 2 surface(s)", "an axial slice at 12.0 mm").
        public var what: String
        /// The GL renderer, and its version.
        public var renderer: String
        public var version: String
        /// Files written, with the time per frame (0 where none applies: composites).
        public var written: [(file: URL, secondsPerFrame: Double)]
        /// How the study's face was handled (nil without a study).
        public var defacing: Manifest.Defacing?
    }

    public typealias Failure = UseCaseFailure

    private typealias Draw = (Camera, [(offset: Double, shift: Double)]) throws(RenderingError) -> [RGBAImage]

    /// Renders into `folder` (PNG files; nil: a turntable's video only); the observer hears the
    /// loading, then each frame of a turntable.
    public func run(writingTo folder: URL?, observer: (any UseCaseObserver)? = nil) throws(Failure) -> Result {
        if video != nil, turntable == nil { throw Failure(description: "a video is a turntable's: give the number of frames") }
        if slice != nil, video != nil { throw Failure(description: "a slice is one picture, not a video") }
        if video != nil, let problem = Self.videoSizeProblem(size) { throw Failure(description: problem) }
        if labelled {
            guard labels != nil || !meshes.isEmpty else { throw Failure(description: "labels name structures: give a label map or mesh files") }
            guard stereo == nil, slice == nil else { throw Failure(description: "labels are drawn on single views and turntables, not on stereo pairs or slices") }
            guard StructureWords.languages.contains(language) else {
                throw Failure(description: "no language '\(language)' (\(StructureWords.languages.joined(separator: ", ")))")
            }
        }
        guard folder != nil || video != nil else { throw Failure(description: "no folder for the pictures") }
        var series: LoadedSeries?
        if !study.isEmpty {
            series = try SeriesChoice.choose(DicomLoader().load(study) { p in
                observer?.step(p.step(within: 0...0.3))
            }, from: study)
        }
        var map: LabelMap?
        if let labels {
            map = try ImportSegmentation.labelMap(URL(fileURLWithPath: labels), study: study.isEmpty ? nil : study)
        }
        var defaced: DefaceStudy.Outcome?
        if series != nil {
            try observer.step("finding the face", fraction: 0.3)
            defaced = try DefaceStudy.apply(&series!, mode: deface ?? .auto, threads: nil)
            // A label map on the study's grid loses the face too.
            if let region = defaced?.region, map != nil { _ = region.clear(&map!) }
        }
        for made in [folder, video?.deletingLastPathComponent()].compactMap({ $0 }) {
            do {
                try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
            } catch {
                throw Failure(description: "\(made.path): cannot create the folder: \(error.localizedDescription)")
            }
        }
        try observer.step("rendering", fraction: 0.3)
        do {
            var result = slice != nil ? try renderSlice(slice!, series: series, map: map, folder: folder!)
                : try renderScene(series: series, surfaces: try surfaceMeshes(map), map: map, folder: folder, observer: observer)
            result.defacing = defaced?.record
            return result
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    private func renderScene(series: LoadedSeries?, surfaces: [Mesh], map: LabelMap?, folder: URL?, observer: (any UseCaseObserver)?) throws -> Result {
        var box = series?.info.geometry.boundingBox
        for mesh in surfaces {
            let m = MeshMeasurements(mesh, topology: false)
            box = box.map { (pointwiseMin($0.0, m.minimum), pointwiseMax($0.1, m.maximum)) } ?? (m.minimum, m.maximum)
        }
        guard let box else { throw Failure(description: "nothing to render") }
        let transfer = try series.map { try transferFunction(modality: $0.info.modality) } ?? .ctBone
        let what = series != nil ? transfer.name + (surfaces.isEmpty ? "" : " with \(surfaces.count) surface(s)") : "\(surfaces.count) surface(s)"
        let context = try GLContext()
        let library = try ShaderLibrary(directory: shaders)
        let surfaceRenderer = try SurfaceRenderer(context: context, shaders: library)
        let uploaded = try surfaceRenderer.upload(surfaces)
        let (width, height) = (size.width, size.height)
        var draw: Draw
        // What the camera frames: the surfaces' vertices and the volume's visible bricks (the
        // anatomy the transfer function shows, not the field of view); the box where nothing shows.
        var anatomy = surfaces.flatMap { $0.positions.map { SIMD3<Double>(Double($0.x), Double($0.y), Double($0.z)) } }
        if let series {
            let renderer = try VolumeRenderer(context: context, shaders: library)
            try renderer.upload(series.volume, modality: series.info.modality)
            anatomy += renderer.visiblePoints(of: series.volume, transfer: transfer)
            draw = { camera, eyes throws(RenderingError) in
                try renderer.render(camera: camera, width: width, height: height, transfer: transfer, eyes: eyes,
                                    surfaces: surfaces.isEmpty ? nil : uploaded)
            }
        } else {
            draw = { camera, eyes throws(RenderingError) in
                try surfaceRenderer.render(uploaded, camera: camera, width: width, height: height, eyes: eyes)
            }
        }
        if labelled {
            let items = labelItems(surfaces, map: map)
            let font = try FontFace.standard(japanese: language == "ja")
            if let missing = items.map(\.name).first(where: { !font.covers($0) }) {
                throw Failure(description: "\(font.path) has no glyphs for '\(missing)'")
            }
            let plain = draw
            draw = { camera, eyes throws(RenderingError) in
                var images = try plain(camera, eyes)
                for index in images.indices { LabelOverlay.draw(items, on: &images[index], camera: camera, font: font) }
                return images
            }
        }
        var written: [(URL, Double)] = []
        if let turntable {
            var writer: VideoWriter?
            if let video {
                var options = VideoWriter.Options()
                options.framesPerSecond = framesPerSecond
                writer = try VideoWriter(url: video, width: stereo != nil ? 2 * width : width, height: height, options: options)
            }
            let clock = Stopwatch()
            for frame in 0..<turntable {
                try observer.step("rendering frame \(frame + 1) of \(turntable)", fraction: 0.3 + 0.7 * Double(frame) / Double(turntable),
                                  done: frame, total: turntable)
                let (_, camera) = camera(box: box, anatomy: anatomy, turn: 360 * Double(frame) / Double(turntable))
                let images = try frames(name: String(format: "turntable-%03d", frame), camera: camera, draw: draw, pairOnly: true)
                if let folder { written += try write(images, to: folder) }
                try writer?.append(images[0].image)
            }
            if let writer, let video {
                try writer.finish()
                written.append((video, clock.lap() / Double(turntable)))
            }
        } else {
            let (name, camera) = camera(box: box, anatomy: anatomy)
            written = try write(frames(name: name, camera: camera, draw: draw, pairOnly: false), to: folder!)
        }
        return Result(what: what, renderer: context.renderer, version: context.version, written: written)
    }

    private func renderSlice(_ slice: (orientation: SliceRenderer.Orientation, positionMM: Double?, window: ClosedRange<Double>?),
                             series: LoadedSeries?, map: LabelMap?, folder: URL) throws(RenderingError) -> Result {
        let context = try GLContext()
        let renderer = try SliceRenderer(context: context, shaders: try ShaderLibrary(directory: shaders))
        if let series { try renderer.upload(series.volume, modality: series.info.modality) }
        if let map { try renderer.upload(map) }
        let clock = Stopwatch()
        let position = slice.positionMM ?? renderer.defaultPosition(slice.orientation)!
        let picture = try renderer.render(slice.orientation, position: position, width: size.width, height: size.height,
                                          window: slice.window)
        let time = clock.lap()
        let file = folder.appendingPathComponent("slice-\(slice.orientation.rawValue).png")
        try picture.writePNG(to: file)
        return Result(what: "a \(slice.orientation.rawValue) slice at \(String(format: "%.1f", position)) mm", renderer: context.renderer,
                      version: context.version, written: [(file, time)])
    }

    /// What the labels say of each surface: its name in `language` (ours translated, others as
    /// they are), its colour, its label's volume (label maps; none for mesh files) and its points.
    private func labelItems(_ surfaces: [Mesh], map: LabelMap?) -> [LabelOverlay.Item] {
        let counts = map?.voxelCounts() ?? [:]
        let voxelML = map.map { $0.geometry.spacing.x * $0.geometry.spacing.y * $0.geometry.spacing.z / 1000 } ?? 0
        return surfaces.map { mesh in
            let value = map?.labels.first { $0.name == mesh.name }?.value
            return LabelOverlay.Item(name: StructureWords.name(mesh.name, language: language), color: mesh.color,
                                     volumeML: value.flatMap { counts[$0] }.map { Double($0) * voxelML }, points: mesh.positions)
        }
    }

    /// The transfer function: `preset`, else the modality's own (other modalities must name one).
    private func transferFunction(modality: String) throws(Failure) -> TransferFunction {
        if let preset {
            guard let chosen = TransferFunction.presets.first(where: { $0.name == preset }) else {
                throw Failure(description: "no volume preset '\(preset)' (\(TransferFunction.presets.map(\.name).joined(separator: ", ")))")
            }
            return chosen
        }
        if let own = TransferFunction.presets.first(where: { $0.modality == modality && ($0.name == "ct-bone" || $0.name == "mr") }) {
            return own
        }
        throw Failure(description: "no default volume preset for modality '\(modality)': choose one with --preset " +
                                   "(\(TransferFunction.presets.map(\.name).joined(separator: ", ")))")
    }

    /// The surfaces of the label map's labels (or `label`'s) and the mesh files.
    private func surfaceMeshes(_ map: LabelMap?) throws(Failure) -> [Mesh] {
        var out: [Mesh] = []
        if let map, let labels {
            let values = label.map { [$0] } ?? map.labels.map(\.value)
            if values.isEmpty { throw Failure(description: "\(labels): the label map holds no label to render") }
            for value in values {
                var mesh = StructureSurface.surface(of: value, in: map).smoothed(passes: smoothingPasses)
                guard !mesh.indices.isEmpty else { throw Failure(description: "\(labels): label \(value) is empty: nothing to render") }
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
                mesh.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                out.append(mesh)
            } catch {
                throw Failure(description: "\(error)")
            }
        }
        return out
    }

    /// The view's name in file names, and its camera framing `anatomy` (85 % of the frame's
    /// tighter side: `Camera.framing`), or fitted to `box` where there is no anatomy to frame.
    private func camera(box: (SIMD3<Double>, SIMD3<Double>), anatomy: [SIMD3<Double>], turn: Double = 0) -> (String, Camera) {
        if azimuth == nil && elevation == nil && turn == 0 {
            return (view.rawValue, Camera.framing(view, points: anatomy, aspect: size.aspect) ?? Camera.fitted(view, box: box, aspect: size.aspect))
        }
        // Named views as angles: the turntable starts there.
        let named: [Camera.View: (Double, Double)] = [.anterior: (0, 0), .left: (90, 0), .posterior: (180, 0), .right: (270, 0),
                                                      .superior: (0, 90), .inferior: (0, -90)]
        let (a, e) = (azimuth ?? named[view]!.0, elevation ?? named[view]!.1)
        let name = "azimuth\(Int((a + turn).rounded()))-elevation\(Int(e.rounded()))"
        return (name, Camera.framingOrbit(azimuth: a + turn, elevation: e, points: anatomy, aspect: size.aspect)
                    ?? Camera.orbit(azimuth: a + turn, elevation: e, box: box, aspect: size.aspect))
    }

    /// Renders one image or a stereo pair with `draw`: (file name, image, seconds per frame).
    /// `pairOnly`: a stereo pair is kept side by side only (turntable frames); that image comes first.
    private func frames(name: String, camera: Camera, draw: Draw, pairOnly: Bool) throws(RenderingError)
        -> [(file: String, image: RGBAImage, seconds: Double)] {
        let clock = Stopwatch()
        var images: [(file: String, image: RGBAImage, seconds: Double)] = []
        if let stereo {
            let eyes = StereoRig(ipd: stereo.ipd, convergence: stereo.convergence).eyes(for: camera)
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
        return images
    }

    /// Writes `images` as PNG files into `folder`: (file, seconds per frame).
    private func write(_ images: [(file: String, image: RGBAImage, seconds: Double)], to folder: URL) throws(RenderingError) -> [(URL, Double)] {
        for (file, picture, _) in images { try picture.writePNG(to: folder.appendingPathComponent(file)) }
        return images.map { (folder.appendingPathComponent($0.file), $0.seconds) }
    }
}

extension RenderImages {
    /// A render's size in pixels.
    public typealias Size = ImageSize

    /// The languages labels are written in.
    public static var labelLanguages: [String] { StructureWords.languages }

    /// What encodes videos ("libavcodec 59.37.100, libx264").
    public static var videoEncoder: String { VideoWriter.encoder }

    /// Why a video cannot have this size (H.264 4:2:0 wants even sides), or nil.
    public static func videoSizeProblem(_ size: Size) -> String? {
        size.width % 2 == 0 && size.height % 2 == 0 ? nil
            : "H.264 (4:2:0) needs an even width and height, not \(size.width)x\(size.height)"
    }

    /// The volume presets (transfer functions) by name.
    public static var volumePresetNames: [String] { TransferFunction.presets.map(\.name) }

    /// The named views (anterior, left, …) and the view of a name.
    public static var viewNames: [String] { Camera.View.allCases.map(\.rawValue) }
    public static func view(named name: String) -> Camera.View? { Camera.View(rawValue: name) }

    /// The slice orientations (axial, coronal, sagittal) and the orientation of a name.
    public static func sliceOrientation(named name: String) -> SliceRenderer.Orientation? { SliceRenderer.Orientation(rawValue: name) }

    /// A size written WIDTHxHEIGHT (positive whole numbers), or nil.
    public static func size(parsing text: String) -> Size? { ImageSize(parsing: text) }
}
