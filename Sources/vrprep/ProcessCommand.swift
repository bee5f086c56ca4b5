import ArgumentParser
import DICOM
import Foundation
import Pipeline
import struct ScenePackage.Manifest

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Study → scene package in one command: load, segment, mesh, render, package.",
        discussion: """
            Segments the largest series with --recipe, or --structures (default: bone and skin for CT, skin \
            otherwise) with --seed-mm STRUCTURE:x,y,z for vessels and tumor; builds each structure's surface \
            (smoothed, at most --max-triangles); renders an anterior stereo pair (left, right, side-by-side, \
            anaglyph) and a thumbnail (with --video also a 3-second turntable of the surfaces as H.264 MP4, \
            renders/turntable.mp4, at most 720 pixels a side); and writes a de-identified scene package (vrprep.scene/1: manifest.json, \
            scene.glb, meshes/*.stl, renders/*.png, labels.nii.gz) to --out, and with --zip also OUT.zip. \
            The package appears only when complete. Prints the package's path and id (--json: a summary).
            With --labels FILE (a NIfTI label map or a DICOM Segmentation made elsewhere: Slicer, \
            TotalSegmentator, OHIF…), nothing is segmented: the structures are the file's, named by it \
            (its label table or segment labels, or --label-names 1=liver,2=…) and coloured by it; a map on \
            another grid is resampled when it lies within the study, and refused otherwise.
            Exit status: 0 on success, 1 when the study or a stage fails, 2 on usage errors.
            """
    )

    @Argument(help: "DICOM folders, files or .zip archives of the study.")
    var paths: [String]

    @Option(help: "The package folder to write.")
    var out: String

    @Option(help: ArgumentHelp("A recipe file (JSON): structures, seeds and settings.", valueName: "recipe.json"))
    var recipe: String?

    @Option(help: ArgumentHelp("Structures, e.g. bone,skin,vessels,tumor.", valueName: "list"))
    var structures: String?

    // .unconditional: values may start with "-" (negative coordinates).
    @Option(name: .customLong("seed-mm"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A seed for a structure, STRUCTURE:x,y,z in LPS mm (repeatable).", valueName: "structure:x,y,z"))
    var seeds: [String] = []

    @Option(help: ArgumentHelp("A segmentation made elsewhere (NIfTI label map or DICOM Segmentation): no segmenting.",
                               valueName: "file"))
    var labels: String?

    @Option(name: .customLong("label-names"), help: ArgumentHelp("With --labels: names for label values, e.g. 1=liver,2=tumor.",
                                                                 valueName: "list"))
    var labelNames: String?

    @Flag(help: "Also write the package as one .zip next to the folder.")
    var zip = false

    @Option(help: defaceHelp("the default: a head's face is removed, since a package may leave the hospital"))
    var deface: DefaceStudy.Mode?

    @Option(help: "Smoothing passes of the surfaces.")
    var smooth: Int = 10

    @Option(name: .customLong("max-triangles"), help: "At most this many triangles per structure.")
    var maxTriangles: Int = 250_000

    @Option(help: ArgumentHelp("What the scene is for: desktop (levels of detail, quantized), headset (whole scene ≤ 250,000 " +
                               "triangles), phone (≤ 500,000) or print (full surfaces only, floats, STL and OBJ, each closed).",
                               valueName: "profile"))
    var profile: SceneProfile = .desktop

    @Option(name: .customLong("render-size"), help: "Width and height of the stereo renders (pixels).")
    var renderSize: Int = 1024

    @Flag(help: "Add a turntable video of the surfaces to the package (renders/turntable.mp4: 72 frames, 24 per second, H.264).")
    var video = false

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if recipe != nil && (structures != nil || !seeds.isEmpty) {
            throw ValidationError("give --recipe, or --structures with --seed-mm, not both")
        }
        if labels != nil && (recipe != nil || structures != nil || !seeds.isEmpty) {
            throw ValidationError("--labels gives the structures: no --recipe, --structures or --seed-mm with it")
        }
        if labelNames != nil && labels == nil { throw ValidationError("--label-names goes with --labels") }
        _ = try parsedLabelNames()
        if smooth < 0 { throw ValidationError("--smooth must be 0 or more passes") }
        if maxTriangles < 100 { throw ValidationError("--max-triangles must be at least 100") }
        if !(64...8192).contains(renderSize) { throw ValidationError("--render-size must be 64…8192 pixels") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try checkOption(threads, "--threads", OptionRange.threads)
        try checkOption(smooth, "--smooth", OptionRange.smoothingPasses)
        try checkOption(maxTriangles, "--max-triangles", 100...OptionRange.triangles.upperBound)
        _ = try plannedRecipe()
    }

    /// --label-names as label value → name ("1=liver,2=tumor").
    func parsedLabelNames() throws -> [Int: String]? {
        guard let labelNames else { return nil }
        do {
            return try ImportSegmentation.names(parsing: labelNames)
        } catch {
            throw ValidationError("--\(error.description)")
        }
    }

    /// The recipe from --recipe or --structures/--seed-mm; nil for the modality's default.
    func plannedRecipe() throws -> Recipe? {
        if let recipe {
            do {
                return try Recipe.load(from: URL(fileURLWithPath: recipe))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        var flags = RecipeFlags()
        (flags.structures, flags.seedPositions) = (structures, seeds)
        do {
            return try flags.recipe()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() throws {
        var options = Pipeline.Options()
        options.recipe = try plannedRecipe()
        options.labels = labels
        options.labelNames = try parsedLabelNames()
        options.deface = deface
        options.smoothingPasses = smooth
        options.maxTriangles = maxTriangles
        options.profile = profile
        options.renderSize = renderSize
        options.video = video
        options.zip = zip
        options.threads = threads
        options.shaders = shaders.map { URL(fileURLWithPath: $0) }
        options.softwareVersion = VRPrep.version
        let pipeline = Pipeline(options: options)
        let folder = URL(fileURLWithPath: out)
        let result = withProgress(lines: true, quiet: json) { try pipeline.run(study: paths, out: folder, observer: $0) }
        let manifest = result.manifest
        if json {
            print(try ProcessJSON(result, package: folder.path, zip: zip ? folder.path + ".zip" : nil).encoded())
            return
        }
        print("Scene package \(folder.path)")
        print("  id            \(manifest.packageID ?? "")")
        if zip { print("  archive       \(folder.path).zip") }
        print("  series        \(result.seriesDescription)")
        for s in manifest.structures {
            print("  \(s.name.padding(toLength: 12, withPad: " ", startingAt: 0))  \(String(format: "%.1f", s.volumeML)) mL, " +
                  "\(s.triangles) triangles\(s.watertight ? ", watertight" : "") → \(s.file)")
        }
        print("  renders       \(manifest.renders.map(\.file).joined(separator: ", "))")
        if let defacing = manifest.defacing {
            print("  face          " + (defacing.removed ? "removed (\(plainNumber(defacing.removedML ?? 0)) mL)" :
                                        defacing.faceFound ? "kept (defacing \(defacing.mode)): the package cannot be shared" : defacing.method))
        }
        for warning in result.warnings { print("  warning       \(warning)") }
        for file in result.rejected.prefix(5) { print("  not used      \(file.path): \(file.reason)") }
        if result.rejected.count > 5 { print("  not used      … and \(result.rejected.count - 5) more files (--json lists them all)") }
        print("  time          " + result.seconds.map { "\($0.stage) \(ms($0.seconds))" }.joined(separator: ", "))
        print("Open scene.glb in any glTF viewer; check the package with: vrprep package verify \(folder.path)")
    }
}

/// The `--json` shape of `vrprep process`: the package, its structures, renders and times.
struct ProcessJSON: PrintedJSON {
    struct Structure: Encodable {
        var name: String
        var label: Int
        var volumeML: Double
        var areaMM2: Double
        var triangles: Int
        var watertight: Bool
    }

    var package: String
    var packageID: String
    /// The archive's path; null without --zip.
    var zip: Nullable<String>
    var series: String
    var structures: [Structure]
    var renders: [String]
    var files: Int
    var seconds: [String: Double]
    var warnings: [String]
    /// The study's files that were not used, each with the reason.
    var rejected: [Rejection]
    /// How the study's face was handled (the manifest's record).
    var defacing: Manifest.Defacing?

    init(_ result: Pipeline.Result, package: String, zip: String?) {
        let manifest = result.manifest
        (self.package, packageID, self.zip, series) = (package, manifest.packageID ?? "", Nullable(zip), result.seriesDescription)
        structures = manifest.structures.map {
            Structure(name: $0.name, label: $0.label, volumeML: $0.volumeML, areaMM2: $0.areaMM2, triangles: $0.triangles, watertight: $0.watertight)
        }
        (renders, files) = (manifest.renders.map(\.file), manifest.files.count)
        seconds = Dictionary(uniqueKeysWithValues: result.seconds.map { ($0.stage, $0.seconds) })
        (warnings, rejected, defacing) = (result.warnings, result.rejected, manifest.defacing)
    }
}

struct PackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Check or describe a scene package (a folder or its .zip).",
        subcommands: [Verify.self, Info.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a package: schema, id, every file's size and SHA-256, nothing unlisted, glTF readable, no patient identity.",
            discussion: "Exit status: 0 when intact, 1 when not (each problem names its file), 2 on usage errors.")

        @Argument(help: "The package folder or .zip.")
        var package: String

        func run() throws {
            let check = ReadPackage.verify(URL(fileURLWithPath: package))
            guard check.ok else {
                for problem in check.problems { FileHandle.standardError.write(Data("vrprep: \(package): \(problem)\n".utf8)) }
                FileHandle.standardError.write(Data("vrprep: error: \(package): the package does not verify (\(check.problems.count) problem(s))\n".utf8))
                throw ExitCode(1)
            }
            let manifest = check.manifest!
            print("OK \(package): \(manifest.schema), id \(manifest.packageID ?? ""), \(manifest.files.count) files verified")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a package: source, structures, renders, files.")

        @Argument(help: "The package folder or .zip.")
        var package: String

        @Flag(help: "Print the manifest.")
        var json = false

        func run() throws {
            let manifest: Manifest
            do { manifest = try ReadPackage.manifest(URL(fileURLWithPath: package)) } catch { fail("\(error)") }
            if json {
                print(String(decoding: try manifest.fileData(), as: UTF8.self), terminator: "")
                return
            }
            let s = manifest.source
            print("\(package): \(manifest.schema), id \(manifest.packageID ?? "")")
            print("  made by       \(manifest.software.name) \(manifest.software.version)")
            print("  source        \(s.modality) \(s.dimensions.map(String.init).joined(separator: "×")) voxels of " +
                  "\(s.spacingMM.map { String(format: "%.3f", $0) }.joined(separator: "×")) mm (study \(s.studyUID))")
            for structure in manifest.structures {
                print("  \(structure.name.padding(toLength: 12, withPad: " ", startingAt: 0))  label \(structure.label), " +
                      "\(String(format: "%.1f", structure.volumeML)) mL, \(String(format: "%.0f", structure.areaMM2)) mm², " +
                      "\(structure.triangles) triangles\(structure.watertight ? ", watertight" : "")")
            }
            print("  renders       \(manifest.renders.map { "\($0.kind) \($0.width)×\($0.height)" }.joined(separator: ", "))")
            print("  files         \(manifest.files.count), \(manifest.files.reduce(0) { $0 + $1.bytes }) bytes")
        }
    }
}

extension SceneProfile: ExpressibleByArgument {}
