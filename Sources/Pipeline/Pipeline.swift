import DICOM
import Foundation
import Meshing
import Rendering
import ScenePackage
import Segmentation
import VolumeCore
import VolumeIO

/// Study → scene package in one call: load, segment (a recipe), mesh, render, package.
public struct Pipeline: Sendable {
    public struct Options: Sendable, Codable {
        public var recipe: Recipe?
        /// Smoothing passes and the most triangles per structure in the scene.
        public var smoothingPasses = 10
        public var maxTriangles = 250_000
        public var renderSize = 1024
        public var ipd = 64.0
        public var zip = false
        public var threads: Int?
        public var shaders: URL?
        public var softwareVersion = "0.0.0"
        /// A segmentation made elsewhere (NIfTI label map, DICOM Segmentation): the scene is made
        /// from it, with no segmenting (`recipe` then does not apply).
        public var labels: String?
        /// Names for its label values, over the file's own.
        public var labelNames: [Int: String]?
        /// What the scene is for (budgets, levels, quantization); nil: desktop.
        public var profile: SceneProfile?
        /// Defacing, over the recipe's (`--deface`); nil: the recipe's, else `auto`.
        public var deface: Defacing.Mode?
        /// A turntable video of the surfaces in the package (`--video`), over the recipe's "video".
        public var video = false

        public init() {}
    }

    public struct Result: Sendable {
        public var folder: URL
        public var manifest: Manifest
        public var seriesDescription: String
        public var structures: [SegmentStudy.Structure]
        public var seconds: [(stage: String, seconds: Double)]
        public var warnings: [String]
        /// Files of the study that were not used, each with the reason.
        public var rejected: [Rejection]
    }

    public typealias Failure = UseCaseFailure

    /// The thinnest series a scene is made of: slices, and the slab they cover (mm).
    public static let minimumSlices = 5
    public static let minimumSlabMM = 5.0

    public var options: Options

    public init(options: Options) {
        self.options = options
    }

    /// The default recipe: bone and skin for CT, skin for other modalities.
    public static func defaultRecipe(modality: String) -> Recipe {
        modality == "CT" ? Recipe(structures: [.init(preset: .bone), .init(preset: .skin)]) : Recipe(structures: [.init(preset: .skin)])
    }

    /// Checks what can be checked before any work: the recipe and the output folder.
    public func check(out folder: URL) throws(Failure) {
        do {
            try PackageStore.checkTarget(folder)
        } catch {
            throw .input("\(error)")
        }
        if let recipe = options.recipe { try Self.check(recipe: recipe) }
    }

    /// A recipe's JSON from outside this machine (a request, a DICOM peer, the workstation), read
    /// and checked as a package's recipe: the key, the structure and the range named when wrong.
    public static func recipe(parsing data: Data, source: String = "recipe") throws(Failure) -> Recipe {
        let recipe: Recipe
        do {
            recipe = try Recipe.parse(data, source: source)
        } catch {
            throw .input("\(error)")
        }
        try check(recipe: recipe, source: source)
        return recipe
    }

    /// A recipe a package can be made with (from a file, a job or a DICOM peer): valid, and not
    /// bound to a file on this machine (an expert region's `within` map would put its path in a
    /// shared manifest).
    public static func check(recipe: Recipe, source: String = "recipe") throws(Failure) {
        do {
            try recipe.validate(source: source)
        } catch {
            throw .input("\(error)")
        }
        if recipe.region?.within != nil {
            throw .input("\(source): region: within names a label map on this machine: it is for vrprep segment, not for a scene package")
        }
    }

    public func run(study paths: [String], out folder: URL, observer: (any UseCaseObserver)? = nil) throws(Failure) -> Result {
        try check(out: folder)
        var seconds: [(String, Double)] = []
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ stage: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            seconds.append((stage, Double(now - clock) / 1e9))
            clock = now
        }
        // 1. Load (0–20 %).
        try observer.step("loading", fraction: 0)
        var report = DicomLoader(threads: options.threads).load(paths) { p in
            observer?.step(p.step(within: 0...0.2))
        }
        var series = report.series.max(by: { $0.info.geometry.voxelCount < $1.info.geometry.voxelCount })
        // The loader's other series are not used: only the chosen one is kept from here on.
        report.series = []
        let notes = LoadNotes(warnings: series?.info.warnings ?? [], rejected: report.rejected)
        observer?.loaded(notes)
        let refusals = notes.refusals().map { " (\($0))" } ?? ""
        guard let info = series?.info else {
            throw .input("no usable series in \(paths.joined(separator: ", "))\(refusals)")
        }
        let modality = info.modality
        var recipe = options.recipe ?? Self.defaultRecipe(modality: modality)
        if let deface = options.deface { recipe.deface = deface }
        if options.labels == nil, modality != "CT", let ctOnly = recipe.structures.first(where: \.preset.needsCT) {
            throw .input("the recipe's \(ctOnly.preset) structure needs a CT study; this series is \(modality.isEmpty ? "of unknown modality" : modality) (use \(Preset.either(Preset.allCases.filter { !$0.needsCT })))")
        }
        // A scene is a 3D model: a series of a few slices is not one, whatever else was sent.
        let slices = info.geometry.dimensions.z, slabMM = Double(slices) * info.geometry.spacing.z
        guard slices >= Self.minimumSlices, slabMM >= Self.minimumSlabMM else {
            throw .input("the series to use (\(info.modality) \(info.geometry.dimensions.x)×" +
                         "\(info.geometry.dimensions.y)×\(slices)) has \(slices) slice\(slices == 1 ? "" : "s") over " +
                         "\(plainNumber((slabMM * 10).rounded() / 10)) mm: too thin for a 3D scene (at least \(Self.minimumSlices) " +
                         "slices over \(plainNumber(Self.minimumSlabMM)) mm)\(refusals)")
        }
        lap("load")

        // 2. Deface (a head's face removed before anything is made from it), then segment
        // (20–45 %) as `vrprep segment` does, or take the segmentation given (cleared where the
        // face was).
        var segmentation = SegmentStudy(recipe: recipe)
        segmentation.threads = options.threads
        segmentation.leavesHospital = true
        let defaced = try segmentation.deface(&series!, observer: observer, fraction: 0.2)
        var segmented: SegmentStudy.Result
        if let file = options.labels {
            try observer.step("importing the segmentation", fraction: 0.2)
            segmented = try Self.imported(URL(fileURLWithPath: file), names: options.labelNames ?? [:], series: series!)
            _ = defaced.region?.clear(&segmented.labels, threads: options.threads)
        } else {
            do {
                segmented = try segmentation.segment(series!, observer: observer, span: 0.2...0.45)
            } catch {
                throw error.stopped ? error : .stage("segmentation", "\(error)")
            }
        }
        if let notice = defaced.notice { segmented.warnings.append("defacing: \(notice.text)") }
        // The study's voxels are not needed past here (the package's UIDs are keyed on them).
        // Their memory, and what segmenting freed, go back to the system before the surfaces
        // are made: the process keeps freed memory for reuse (`MemoryPolicy`), and the surfaces'
        // growing arrays would otherwise add to the heap that segmenting left.
        let uids = Deidentification(volume: series!.volume)
        series = nil
        MemoryPolicy.releaseFreeMemory()
        lap("segment")

        // 3. Mesh (45–75 %).
        let (meshes, structures, levels, usdz, meshFiles) = try surfaces(of: segmented.labels, observer: observer)
        lap("mesh")

        // 4. Render (75–90 %).
        let video = options.video || (options.labels == nil && recipe.video == true)
        let (renders, renderFiles) = try self.renders(of: meshes, video: video, observer: observer)
        var files = meshFiles + renderFiles
        lap("render")

        // 5. Package (90–100 %): the label map, the manifest with replaced UIDs, every file hashed.
        try observer.step("packaging", fraction: 0.9)
        do {
            files.append(("labels.nii.gz", try NIfTI.data(segmented.labels, gzip: true)))
        } catch {
            throw .stage("packaging", "\(error)")
        }
        let g = info.geometry
        let source = Manifest.Source(
            studyUID: uids.replace(info.studyInstanceUID), seriesUID: uids.replace(info.seriesInstanceUID),
            frameOfReferenceUID: info.frameOfReferenceUID.isEmpty ? nil : uids.replace(info.frameOfReferenceUID),
            modality: modality, dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z],
            spacingMM: [g.spacing.x, g.spacing.y, g.spacing.z], originMM: [g.origin.x, g.origin.y, g.origin.z],
            direction: g.direction.rowMajor, deidentification: Deidentification.profile)
        let manifest: Manifest
        do {
            // An imported segmentation is named by its file's name alone (never a path on this machine).
            let made: JSONValue = try options.labels.map { file in
                try JSONValue.from(["importedLabels": URL(fileURLWithPath: file).lastPathComponent])
            } ?? JSONValue.from(recipe)
            let draft = Manifest(software: .init(name: "vrprep", version: options.softwareVersion), recipe: made,
                                 source: source, structures: structures, renders: renders, levels: levels,
                                 profile: Manifest.Profile(profile: options.profile ?? .desktop, maxTriangles: options.maxTriangles),
                                 usdz: usdz, defacing: defaced.record, files: [])
            manifest = try PackageStore.write(draft, files: files, to: folder, zip: options.zip)
        } catch {
            throw .stage("packaging", "\(error)")
        }
        lap("package")
        observer?.step(UseCaseStep("done", fraction: 1))
        return Result(folder: folder, manifest: manifest, seriesDescription: "\(modality) \(g.dimensions.x)×\(g.dimensions.y)×\(g.dimensions.z)",
                      structures: segmented.structures, seconds: seconds, warnings: segmented.warnings, rejected: report.rejected)
    }

    /// A segmentation made elsewhere, on the series' grid, as the segmenting stage's result.
    static func imported(_ file: URL, names: [Int: String], series: LoadedSeries) throws(Failure) -> SegmentStudy.Result {
        let (labels, warnings) = try ImportSegmentation.labels(from: file, names: names, onto: series.info)
        let counts = labels.voxelCounts()
        let voxel = series.info.geometry.voxelVolume / 1000
        let structures = labels.labels.map { info in
            SegmentStudy.Structure(label: info, preset: nil, voxelsInMap: counts[info.value] ?? 0, segmentedVoxels: nil,
                                   volumeML: Double(counts[info.value] ?? 0) * voxel, interval: nil, figures: nil, seeds: [],
                                   seconds: nil, warnings: [])
        }
        return SegmentStudy.Result(labels: labels, series: series.info, structures: structures, seeds: [], interval: nil,
                                   automaticSeedVoxels: 0, iterations: nil, stoppedByVolumeLimit: false,
                                   warnings: series.info.warnings + warnings, loadSeconds: 0, segmentSeconds: 0, defacing: nil)
    }

    /// Stage 3 (45–75 %): each structure's surface (`StructureSurface`: the skin's is the body's
    /// outline), smoothed and decimated (each to `maxTriangles`, then all together to the
    /// profile's scene budget), as an STL each (and an OBJ for print) and together as the scene's
    /// glTF with its levels of detail.
    private func surfaces(of labels: LabelMap, observer: (any UseCaseObserver)?) throws(Failure)
        -> (meshes: [Mesh], structures: [Manifest.Structure], levels: [Manifest.Level], usdz: Manifest.USDZ?, files: [(String, Data)]) {
        let profile = options.profile ?? .desktop
        var meshes: [Mesh] = [], labelsOf: [LabelInfo] = []
        guard case .uint8 = labels.storage else { throw .stage("meshing", "label map of more than 255 labels") }
        for (n, info) in labels.labels.enumerated() {
            try observer.step("meshing \(info.name)", fraction: 0.45 + 0.25 * Double(n) / Double(labels.labels.count))
            var mesh = StructureSurface.surface(of: info.value, in: labels, threads: options.threads)
                .smoothed(passes: options.smoothingPasses, threads: options.threads)
            guard mesh.triangleCount > 0 else { continue }
            if mesh.triangleCount > options.maxTriangles {
                do {
                    mesh = try mesh.decimated(targetTriangles: options.maxTriangles, threads: options.threads)
                } catch {
                    throw .stage("meshing \(info.name)", "\(error)")
                }
            }
            mesh.name = info.name
            mesh.color = info.color
            meshes.append(mesh.withNormals())
            labelsOf.append(info)
        }
        guard !meshes.isEmpty else { throw .stage("meshing", "no structure has a surface: nothing to put in a scene") }
        if let budget = profile.sceneTriangles, meshes.reduce(0, { $0 + $1.triangleCount }) > budget {
            try observer.step("fitting the scene to \(budget) triangles (\(profile.rawValue))", fraction: 0.7)
            do {
                meshes = try SceneLevels.fitted(meshes, sceneTriangles: budget, threads: options.threads)
            } catch {
                throw .stage("meshing", "\(error)")
            }
        }
        var structures: [Manifest.Structure] = [], files: [(String, Data)] = []
        for (mesh, info) in zip(meshes, labelsOf) {
            let m = MeshMeasurements(mesh)
            if profile == .print && !m.watertight {
                throw .stage("meshing \(info.name)", "the \(info.name) surface is not closed (\(m.boundaryEdges) open and " +
                             "\(m.nonManifoldEdges) non-manifold edges): it cannot be printed; use another profile to see it")
            }
            let stl = "meshes/\(info.name).stl"
            do {
                files.append((stl, try MeshExport.data([mesh], format: .stl)))
            } catch {
                throw .stage("meshing \(info.name)", "\(error)")
            }
            if profile == .print {
                let obj = MeshExport.objFiles(mesh, materialFile: "\(info.name).mtl")
                files += [("meshes/\(info.name).obj", obj.obj), ("meshes/\(info.name).mtl", obj.material)]
            }
            structures.append(Manifest.Structure(name: info.name, label: info.value, color: [info.color.r, info.color.g, info.color.b, info.color.a],
                                                 volumeML: m.volumeML, areaMM2: m.area, triangles: m.triangles, watertight: m.watertight,
                                                 file: stl, node: info.name))
        }
        let levels: [Manifest.Level]
        var usdz: Manifest.USDZ?
        do {
            let scene = try MeshExport.data(meshes, format: .glb, quantize: profile.quantized)
            files.append(("scene.glb", scene))
            try observer.step("levels of detail", fraction: 0.73)
            let made = try SceneLevels.make(meshes, fullFile: "scene.glb", fullBytes: scene.count, fullWatertight: structures.map(\.watertight),
                                            fullQuantized: profile.quantized, budgets: profile.levels, threads: options.threads)
            files += made.files
            levels = made.levels
            // For Apple's AR Quick Look and Vision Pro: the headset level (the full one where the
            // profile has none), as USD; not for print.
            if profile != .print, let source = made.meshes["headset"] ?? made.meshes["full"] {
                try observer.step("USDZ", fraction: 0.74)
                usdz = Manifest.USDZ(file: "scene.usdz", level: made.meshes["headset"] == nil ? "full" : "headset")
                files.append(("scene.usdz", USDZArchive.data([("scene.usda", USDExport.usda(source))])))
            }
        } catch let error as UseCaseFailure {
            throw error
        } catch {
            throw .stage("glTF", "\(error)")
        }
        return (meshes, structures, levels, usdz, files)
    }

    /// Stage 4 (75–90 %): an anterior stereo pair of the surfaces, side by side, anaglyph,
    /// thumbnail; with `video`, a turntable of them as H.264 MP4 (`SceneVideo`).
    private func renders(of meshes: [Mesh], video: Bool, observer: (any UseCaseObserver)?) throws(Failure) -> (renders: [Manifest.Render], files: [(String, Data)]) {
        var files: [(String, Data)] = []
        try observer.step("rendering", fraction: 0.75)
        var renders: [Manifest.Render] = []
        do {
            let context = try GLContext()
            let renderer = try SurfaceRenderer(context: context, shaders: try ShaderLibrary(directory: options.shaders))
            let uploaded = try renderer.upload(meshes)
            // Framed on the surfaces themselves: they fill 85 % of the picture.
            let vertices = meshes.flatMap { $0.positions.map { SIMD3<Double>(Double($0.x), Double($0.y), Double($0.z)) } }
            guard let camera = Camera.framing(.anterior, points: vertices) else { throw Failure.stage("rendering", "no surface to render") }
            let eyes = StereoRig(ipd: options.ipd).eyes(for: camera)
            let size = options.renderSize
            let pair = try renderer.render(uploaded, camera: camera, width: size, height: size, eyes: [eyes.left, eyes.right])
            let thumbnail = try renderer.render(uploaded, camera: camera, width: 256, height: 256, eyes: [(0, 0)])[0]
            for (kind, image) in [("left", pair[0]), ("right", pair[1]), ("side-by-side", StereoRig.sideBySide(pair[0], pair[1])),
                                  ("anaglyph", StereoRig.anaglyph(pair[0], pair[1])), ("thumbnail", thumbnail)] {
                let path = "renders/anterior-\(kind).png"
                files.append((path, try image.pngData()))
                renders.append(Manifest.Render(kind: kind, file: path, width: image.width, height: image.height, view: "anterior"))
                if image.pixels.enumerated().allSatisfy({ $0.offset % 4 == 3 || $0.element == image.pixels[0] }) {
                    throw RenderingError.invalidParameter(name: path, reason: "the render is blank")
                }
            }
            if video {
                let film = try SceneVideo.turntable(uploaded, renderer: renderer, points: vertices, size: size,
                                                    observer: observer, within: 0.78...0.9)
                files.append((SceneVideo.path, film.data))
                renders.append(film.render)
            }
        } catch let failure as UseCaseFailure {
            throw failure
        } catch {
            throw .stage("rendering", "\(error)")
        }
        return (renders, files)
    }
}

extension UseCaseFailure {
    /// The study or the request cannot be used (nothing was done).
    static func input(_ message: String) -> UseCaseFailure { UseCaseFailure(description: message) }
    /// A stage failed: named before the message.
    static func stage(_ stage: String, _ message: String) -> UseCaseFailure { UseCaseFailure(description: "\(stage): \(message)") }
}
