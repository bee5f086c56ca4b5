import ArgumentParser
import DICOM
import Foundation
import Pipeline
import VolumeCore
import VolumeIO

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment structures of a study by region growing and write one NIfTI label map.",
        discussion: """
            Presets (labels: bone 1, skin 2, vessels 3, tumor 4; where they overlap the map keeps tumor, \
            then vessels, then bone, then skin):
              bone (CT): components of [--lower, --upper] HU (default 226…3071) seeded by --seed/--seed-mm, \
            or, without seeds, by every voxel ≥ --seed-hu (lower for slices thicker than 2 mm); contrast-filled \
            blood (heart, aorta, veins with contrast) left out; islands under --min-island-ml removed; the table \
            and head rest left out unless --keep-table; metal above 2,500 HU reported.
              skin: the body's outline (CT above −400 HU, or --lower), every body part (the largest piece, and others of at least 20 mL that are mostly soft tissue), holes filled; the table and head rest left out.
              vessels (contrast CT, MR angiography): grown from seeds in the lumen within [--lower, --upper] \
            (CT default: from the blood around the seeds, kept above an enhanced organ around the vessel), \
            leaving out bone as the bone preset finds it and \
            parts thicker than a vessel (heart chambers), held to --max-volume-ml (default 500).
              tumor (CT, MR): from seeds inside the lesion; its size, levels and noise are read from the \
            image (optional --radius-mm); fails, writing nothing, when the lesion cannot be bounded; reports \
            volume, maximal diameter and what was measured.
            Several structures: --structures bone,skin,vessels,tumor with seeds per structure \
            (--seed-mm vessels:x,y,z, --seed tumor:i,j,k), or --recipe recipe.json (see the README).
            With --method: threshold (every voxel in [--lower, --upper], no seeds), connected (region \
            grown from the seeds within [--lower, --upper]) or confidence (ITK-style ConfidenceConnected: \
            mean ± --multiplier·σ, re-estimated up to --iterations times).
            Seeds are voxel indices i,j,k (column, row, slice) or patient positions x,y,z in LPS mm.
            Exit status: 0 on success, 1 when the study or the segmentation fails, 2 on usage errors.
            """
    )

    @Argument(help: "DICOM folders, files or .zip archives of the study.")
    var paths: [String]

    @Option(help: "A preset: bone, skin, vessels or tumor.")
    var preset: Preset?

    @Option(help: ArgumentHelp("Several presets into one label map, e.g. bone,skin,vessels,tumor.", valueName: "list"))
    var structures: String?

    @Option(help: ArgumentHelp("A recipe file (JSON) naming the structures, their seeds and settings.", valueName: "recipe.json"))
    var recipe: String?

    @Option(name: .customLong("radius-mm"), help: "Tumor: the lesion's expected radius (mm); growth stops at 1.5 × it.")
    var radiusMM: Double?

    @Option(help: "An expert method: threshold, connected or confidence.")
    var method: Recipe.Region.Method?

    @Option(name: .customLong("seed"), help: ArgumentHelp("A seed voxel i,j,k (repeatable); with --structures, STRUCTURE:i,j,k.", valueName: "i,j,k"))
    var seedVoxels: [String] = []

    // .unconditional: values may start with "-" (negative HU and coordinates).
    @Option(name: .customLong("seed-mm"), parsing: .unconditionalSingleValue, help: ArgumentHelp("A seed position x,y,z in LPS mm (repeatable); with --structures, STRUCTURE:x,y,z.", valueName: "x,y,z"))
    var seedPositions: [String] = []

    @Option(parsing: .unconditional, help: "Lower bound of the interval (HU for CT).")
    var lower: Double?

    @Option(parsing: .unconditional, help: "Upper bound of the interval (HU for CT).")
    var upper: Double?

    @Option(help: "6, 18 or 26.")
    var connectivity: Int = 6

    @Option(help: ArgumentHelp("Connected/confidence: grow only inside this label map (.nii/.nii.gz, same grid).",
                               valueName: "labels.nii.gz"))
    var within: String?

    @Option(name: .customLong("within-label"), help: "With --within: only this label (default: any non-zero label).")
    var withinLabel: Int?

    @Option(name: .customLong("max-volume-ml"), help: "Stop growing before the region exceeds this volume (mL; vessels: default 500).")
    var maxVolumeML: Double?

    @Option(name: .customLong("max-distance-mm"), help: "Only grow within this distance of a seed (mm).")
    var maxDistanceMM: Double?

    @Option(help: "Confidence: interval half-width in standard deviations.")
    var multiplier: Double = 2.5

    @Option(help: "Confidence: re-estimations of the interval.")
    var iterations: Int = 4

    @Option(help: "Confidence: radius (voxels) of the first estimate around each seed.")
    var radius: Int = 1

    @Option(name: .customLong("seed-hu"), help: "Bone: automatic seeds at or above this value.")
    var seedHU: Double = 700

    @Option(name: .customLong("min-island-ml"), help: "Bone: remove components smaller than this (mL).")
    var minIslandML: Double = 0.1

    @Flag(name: .customLong("keep-table"), help: "Bone: keep components outside the body (table, head rest).")
    var keepTable = false

    @Option(help: "Which series: its number in `vrprep inspect` (1, 2, …) or its SeriesInstanceUID (default: the largest).")
    var series: String?

    @Option(help: "Output label map (.nii or .nii.gz).")
    var out: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: defaceHelp("the default: the face is kept, since the label map is for the hospital's own tools"))
    var deface: DefaceStudy.Mode?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        let modes = [preset != nil, method != nil, structures != nil, recipe != nil].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("give exactly one of --preset (bone, skin, vessels, tumor), --structures LIST, --recipe FILE " +
                                  "or --method (threshold, connected, confidence)")
        }
        guard Recipe.Region.connectivities.contains(connectivity) else {
            throw ValidationError("--connectivity must be 6, 18 or 26, not \(connectivity)")
        }
        guard out.hasSuffix(".nii") || out.hasSuffix(".nii.gz") else {
            throw ValidationError("--out must end in .nii or .nii.gz, not '\(out)'")
        }
        if let lower, let upper, lower > upper {
            throw ValidationError("--lower \(lower) is above --upper \(upper): the interval is empty")
        }
        if let radiusMM, !(radiusMM > 0) {
            throw ValidationError("--radius-mm must be more than 0 mm (the lesion's expected radius), not \(radiusMM)")
        }
        if radiusMM != nil && preset != .tumor { throw ValidationError("--radius-mm goes with --preset tumor") }
        if structures != nil || recipe != nil {
            if lower != nil || upper != nil || radiusMM != nil || maxVolumeML != nil || maxDistanceMM != nil {
                throw ValidationError("with --structures or --recipe, put bounds and limits in a recipe file (--lower, --upper, " +
                                      "--radius-mm, --max-volume-ml and --max-distance-mm are for one --preset)")
            }
        }
        if recipe != nil && !(seedVoxels.isEmpty && seedPositions.isEmpty) {
            throw ValidationError("with --recipe, the seeds are in the recipe file")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let maxVolumeML, maxVolumeML <= 0 { throw ValidationError("--max-volume-ml must be more than 0") }
        if let maxDistanceMM, maxDistanceMM <= 0 { throw ValidationError("--max-distance-mm must be more than 0") }
        if maxDistanceMM != nil && preset != nil { throw ValidationError("--max-distance-mm is for --method connected/confidence") }
        try checkOption(lower, "--lower", OptionRange.value)
        try checkOption(upper, "--upper", OptionRange.value)
        try checkOption(radiusMM, "--radius-mm", OptionRange.recipe("radiusMM"))
        try checkOption(maxVolumeML, "--max-volume-ml", OptionRange.recipe("maxVolumeML"))
        try checkOption(maxDistanceMM, "--max-distance-mm", OptionRange.distanceMM)
        try checkOption(seedHU, "--seed-hu", OptionRange.recipe("seedHU"))
        try checkOption(minIslandML, "--min-island-ml", OptionRange.recipe("minIslandML"))
        try checkOption(multiplier, "--multiplier", CheckedRange(0, 100, lowerIncluded: false))
        try checkOption(iterations, "--iterations", 0...100)
        try checkOption(radius, "--radius", 0...10)
        try checkOption(withinLabel, "--within-label", OptionRange.label)
        try checkOption(threads, "--threads", OptionRange.threads)
        // The flags as a recipe, checked as a recipe file is (after each flag's own range).
        if recipe == nil { _ = try flagsRecipe() }
    }

    /// The recipe flags: --preset, --structures or --method with their seeds and settings.
    var recipeFlags: RecipeFlags {
        var flags = RecipeFlags()
        (flags.preset, flags.structures, flags.method, flags.seedVoxels, flags.seedPositions) = (preset, structures, method, seedVoxels, seedPositions)
        (flags.lower, flags.upper, flags.radiusMM, flags.maxVolumeML) = (lower, upper, radiusMM, maxVolumeML)
        (flags.seedHU, flags.minIslandML, flags.keepTable) = (seedHU, minIslandML, keepTable)
        (flags.connectivity, flags.maxDistanceMM, flags.within, flags.withinLabel) = (connectivity, maxDistanceMM, within, withinLabel)
        (flags.multiplier, flags.iterations, flags.radius) = (multiplier, iterations, radius)
        return flags
    }

    /// The recipe that --preset, --structures or --method stand for.
    func flagsRecipe() throws -> Recipe {
        do {
            guard let recipe = try recipeFlags.recipe() else { throw ValidationError("no structure and no method given") }
            return recipe
        } catch let problem as RecipeFlags.Problem {
            throw ValidationError("\(problem)")
        }
    }

    func run() throws {
        // Recipe problems are reported before the study is read.
        var plan: Recipe?
        do {
            if let recipe { plan = try Recipe.load(from: URL(fileURLWithPath: recipe)) }
        } catch {
            fail("\(error)")
        }
        var request = SegmentStudy(recipe: try plan ?? flagsRecipe())
        if let deface { request.recipe.deface = deface }
        request.threads = threads
        let result = withProgress { try request.run(paths, series: series, observer: $0) }
        let clock = Stopwatch()
        do {
            try NIfTI.write(result.labels, to: URL(fileURLWithPath: out))
        } catch {
            fail("\(error)")
        }
        let writeSeconds = clock.lap()
        let (loadSeconds, segmentSeconds) = (result.loadSeconds, result.segmentSeconds)
        let chosen = result.series
        let g = chosen.geometry
        let entries = result.structures.map { s in
            let preset = s.preset != nil
            return SegmentJSON.Label(value: s.label.value, name: s.label.name, voxels: s.voxelsInMap, volumeML: s.volumeML,
                                     preset: s.preset, segmentedVoxels: s.segmentedVoxels, interval: s.interval,
                                     figures: s.figures,
                                     seeds: preset ? s.seeds : nil, seconds: s.seconds,
                                     warnings: preset ? s.warnings.map(\.text) : nil)
        }
        let (interval, automatic, iterations, limited) = (result.interval, result.automaticSeedVoxels, result.iterations,
                                                          result.stoppedByVolumeLimit)
        let (seedsUsed, warnings) = (result.seeds, result.warnings)
        let name = method?.rawValue ?? preset?.rawValue ?? structures ?? "recipe \(recipe!)"
        let summary = SegmentJSON(
            series: .init(seriesInstanceUID: chosen.seriesInstanceUID, modality: chosen.modality,
                          dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z]),
            method: name, connectivity: connectivity, interval: interval, labels: entries,
            seeds: seedsUsed, automaticSeedVoxels: automatic, iterations: iterations,
            stoppedByVolumeLimit: limited, seconds: .init(load: loadSeconds, segment: segmentSeconds, write: writeSeconds),
            threads: threads ?? Parallelism.defaultThreadCount, output: out, warnings: warnings, recipe: request.recipe)
        if json {
            print(try summary.encoded())
            return
        }
        print("Segmented \(name) in series \(chosen.seriesInstanceUID) (\(chosen.modality))")
        for label in entries {
            print("  \(label.name.padding(toLength: 12, withPad: " ", startingAt: 0))  label \(label.value): \(label.voxels) voxels " +
                  "(\(String(format: "%.3f", label.volumeML)) mL)" + (label.seconds.map { " in \(ms($0))" } ?? ""))
            if let tumor = label.figures?.tumor {
                let one = { (value: Double) in String(format: "%.1f", value) }
                print("                maximal diameter \(one(tumor.maximalDiameterMM)) mm; seeds' mean \(one(tumor.seedMean)) " +
                      "± \(one(tumor.seedSigma)) over \(tumor.seedVoxels) voxels; surroundings \(one(tumor.surroundingMedian))")
            }
            if let interval = label.interval, interval.count == 2, entries.count > 1 {
                print("                interval \(fmt1(interval[0])) … \(fmt1(interval[1]))")
            }
        }
        if let interval, interval.count == 2 { print("  interval      \(fmt1(interval[0])) … \(fmt1(interval[1]))") }
        for seed in summary.seeds {
            print("  seed          \(seed.given) → voxel \(seed.index.map(String.init).joined(separator: ",")) " +
                  "at \(seed.patientMM.map(plainNumber).joined(separator: ", ")) mm, value \(plainNumber(seed.value))")
        }
        if automatic > 0 { print("  auto seeds    \(automatic) voxels ≥ \(plainNumber(seedHU))") }
        for warning in summary.warnings { print("  warning       \(warning)") }
        print("  time          load \(ms(loadSeconds)), segment \(ms(segmentSeconds)), write \(ms(writeSeconds))")
        print("  wrote         \(out)")
    }
}

/// Prints `vrprep <command>: error: message` on standard error and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vrprep: error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// A value with at most one decimal.
func fmt1(_ value: Double) -> String {
    value == value.rounded() ? plainNumber(value) : String(format: "%.1f", value)
}

func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }

/// The `--json` shape of `vrprep segment`.
struct SegmentJSON: PrintedJSON {
    struct Series: Encodable {
        var seriesInstanceUID: String
        var modality: String
        var dimensions: [Int]
    }
    struct Label: Encodable {
        var value: Int
        var name: String
        /// Voxels with this label in the map written (after overlaps went to higher priorities).
        var voxels: Int
        var volumeML: Double
        var preset: Preset?
        /// Voxels the preset found, before overlaps.
        var segmentedVoxels: Int?
        var interval: [Double]?
        var figures: StructureFigures?
        var seeds: [SegmentStudy.SeedUsed]?
        var seconds: Double?
        var warnings: [String]?
    }
    struct Seconds: Encodable {
        var load: Double
        var segment: Double
        var write: Double
    }
    var series: Series
    var method: String
    var connectivity: Int
    var interval: [Double]?
    var labels: [Label]
    var seeds: [SegmentStudy.SeedUsed]
    var automaticSeedVoxels: Int
    var iterations: Int?
    var stoppedByVolumeLimit: Bool
    var seconds: Seconds
    var threads: Int
    var output: String
    var warnings: [String]
    var recipe: Recipe?
}
