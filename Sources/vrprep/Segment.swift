import ArgumentParser
import DICOM
import Foundation
import Segmentation
import VolumeCore
import VolumeIO

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment a structure of a study by region growing and write a NIfTI label map.",
        discussion: """
            With --preset bone (CT only): components of [--lower, --upper] HU (default 226…3071) seeded by \
            --seed/--seed-mm, or, without seeds, by every voxel ≥ --seed-hu; islands under --min-island-ml \
            removed; the scanner table and head rest left out unless --keep-table.
            With --method: threshold (every voxel in [--lower, --upper], no seeds), connected (region \
            grown from the seeds within [--lower, --upper]) or confidence (ITK-style ConfidenceConnected: \
            mean ± --multiplier·σ, re-estimated up to --iterations times).
            Seeds are voxel indices i,j,k (column, row, slice) or patient positions x,y,z in LPS mm.
            Exit status: 0 on success, 1 when the study or the segmentation fails, 2 on usage errors.
            """
    )

    @Argument(help: "DICOM folders, files or .zip archives of the study.")
    var paths: [String]

    @Option(help: "A preset: bone.")
    var preset: String?

    @Option(help: "An expert method: threshold, connected or confidence.")
    var method: String?

    @Option(name: .customLong("seed"), help: ArgumentHelp("A seed voxel i,j,k (repeatable).", valueName: "i,j,k"))
    var seedVoxels: [String] = []

    // .unconditional: values may start with "-" (negative HU and coordinates).
    @Option(name: .customLong("seed-mm"), parsing: .unconditionalSingleValue, help: ArgumentHelp("A seed position x,y,z in LPS mm (repeatable).", valueName: "x,y,z"))
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

    @Option(name: .customLong("max-volume-ml"), help: "Stop growing before the region exceeds this volume (mL).")
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

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard (preset == nil) != (method == nil) else {
            throw ValidationError("give exactly one of --preset (bone) or --method (threshold, connected, confidence)")
        }
        if let preset, preset != "bone" { throw ValidationError("unknown preset '\(preset)': use bone") }
        if let method, !["threshold", "connected", "confidence"].contains(method) {
            throw ValidationError("unknown method '\(method)': use threshold, connected or confidence")
        }
        guard Connectivity(rawValue: connectivity) != nil else {
            throw ValidationError("--connectivity must be 6, 18 or 26, not \(connectivity)")
        }
        guard out.hasSuffix(".nii") || out.hasSuffix(".nii.gz") else {
            throw ValidationError("--out must end in .nii or .nii.gz, not '\(out)'")
        }
        if method == "threshold" || method == "connected" {
            guard lower != nil, upper != nil else { throw ValidationError("--method \(method!) needs --lower and --upper") }
        }
        if method == "threshold", !(seedVoxels.isEmpty && seedPositions.isEmpty) {
            throw ValidationError("--method threshold takes no seeds")
        }
        if (method == "connected" || method == "confidence") && seedVoxels.isEmpty && seedPositions.isEmpty {
            throw ValidationError("--method \(method!) needs at least one --seed i,j,k or --seed-mm x,y,z")
        }
        if let lower, let upper, lower > upper {
            throw ValidationError("--lower \(lower) is above --upper \(upper): the interval is empty")
        }
        _ = try seeds()
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if within != nil && method != "connected" {
            throw ValidationError("--within restricts --method connected only")
        }
        if withinLabel != nil && within == nil { throw ValidationError("--within-label needs --within") }
        if let maxVolumeML, maxVolumeML <= 0 { throw ValidationError("--max-volume-ml must be more than 0") }
        if let maxDistanceMM, maxDistanceMM <= 0 { throw ValidationError("--max-distance-mm must be more than 0") }
    }

    func seeds() throws -> [Seed] {
        func numbers(_ text: String, _ option: String) throws -> [Double] {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
                Double($0.trimmingCharacters(in: .whitespaces))
            }
            guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw ValidationError("\(option) '\(text)' is not three numbers separated by commas")
            }
            return parts.map { $0! }
        }
        var result: [Seed] = []
        for text in seedVoxels {
            let v = try numbers(text, "--seed")
            guard v.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else {
                throw ValidationError("--seed '\(text)' must be whole voxel indices i,j,k")
            }
            result.append(.voxel(SIMD3(Int(v[0]), Int(v[1]), Int(v[2]))))
        }
        for text in seedPositions {
            let v = try numbers(text, "--seed-mm")
            result.append(.patient(SIMD3(v[0], v[1], v[2])))
        }
        return result
    }

    func run() throws {
        let clock = Stopwatch()
        let progress = TerminalProgress()
        var callback: (@Sendable (LoadProgress) -> Void)?
        if let progress { callback = { progress.update($0) } }
        let report = DicomLoader(threads: threads).load(paths, progress: callback)
        progress?.finish()
        let loadSeconds = clock.lap()
        let chosen = chooseSeries(report, from: paths, choice: series)
        let volume = chosen.volume
        let seeds = try self.seeds()
        progress?.say("segmenting \(preset ?? method!) …")

        let outcome: Outcome
        do {
            outcome = try segment(volume, modality: chosen.info.modality, seeds: seeds)
        } catch let error as SegmentationError {
            fail("\(error)")
        }
        let segmentSeconds = clock.lap()
        progress?.finish()
        let labels = LabelMap(mask: outcome.mask, label: outcome.label)
        do {
            try NIfTI.write(labels, to: URL(fileURLWithPath: out))
        } catch {
            fail("\(error)")
        }
        let writeSeconds = clock.lap()
        let g = volume.geometry
        let summary = SegmentJSON(
            series: .init(seriesInstanceUID: chosen.info.seriesInstanceUID, modality: chosen.info.modality,
                          dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z]),
            method: preset ?? method!, connectivity: connectivity, interval: outcome.interval,
            labels: [.init(value: outcome.label.value, name: outcome.label.name, voxels: outcome.voxels,
                           volumeML: Double(outcome.voxels) * g.voxelVolume / 1000)],
            seeds: outcome.seeds.map {
                .init(given: $0.given.description, index: [$0.index.x, $0.index.y, $0.index.z],
                      patientMM: [$0.patient.x, $0.patient.y, $0.patient.z], value: $0.value)
            },
            automaticSeedVoxels: outcome.automaticSeedVoxels, iterations: outcome.iterations,
            stoppedByVolumeLimit: outcome.limited, seconds: .init(load: loadSeconds, segment: segmentSeconds, write: writeSeconds),
            threads: threads ?? Parallelism.defaultThreadCount, output: out, warnings: chosen.info.warnings + outcome.warnings)
        if json {
            print(try summary.encoded())
        } else {
            print("Segmented \(summary.method) in series \(chosen.info.seriesInstanceUID) (\(chosen.info.modality))")
            print("  voxels        \(outcome.voxels) (\(String(format: "%.3f", summary.labels[0].volumeML)) mL)")
            if let interval = outcome.interval { print("  interval      \(fmt(interval[0])) … \(fmt(interval[1]))") }
            for seed in summary.seeds {
                print("  seed          \(seed.given) → voxel \(seed.index.map(String.init).joined(separator: ",")) " +
                      "at \(seed.patientMM.map(fmt).joined(separator: ", ")) mm, value \(fmt(seed.value))")
            }
            if outcome.automaticSeedVoxels > 0 { print("  auto seeds    \(outcome.automaticSeedVoxels) voxels ≥ \(fmt(seedHU))") }
            for warning in summary.warnings { print("  warning       \(warning)") }
            print("  time          load \(ms(loadSeconds)), segment \(ms(segmentSeconds)), write \(ms(writeSeconds))")
            print("  wrote         \(out)")
        }
    }

    struct Outcome {
        var mask: Volume<UInt8>
        var label: LabelInfo
        var voxels: Int
        var interval: [Double]?
        var seeds: [ResolvedSeed]
        var automaticSeedVoxels = 0
        var iterations: Int?
        var limited = false
        var warnings: [String] = []
    }

    private func segment(_ volume: AnyVolume, modality: String, seeds: [Seed]) throws -> Outcome {
        let limits = GrowthLimits(maxVolumeML: maxVolumeML, maxDistanceMM: maxDistanceMM)
        let grower = RegionGrowing(connectivity: Connectivity(rawValue: connectivity)!, limits: limits, threads: threads)
        let region = LabelInfo(value: 1, name: "region", color: RGBA(0.9, 0.3, 0.2))
        switch preset ?? method! {
        case "bone":
            var bone = BonePreset()
            bone.lower = lower ?? bone.lower
            bone.upper = upper ?? bone.upper
            bone.seedHU = seedHU
            bone.minimumIslandML = minIslandML
            bone.excludeTable = !keepTable
            bone.connectivity = Connectivity(rawValue: connectivity)!
            bone.threads = threads
            let result = try bone.run(volume, modality: modality, seeds: seeds)
            var warnings = result.warnings
            if !result.tableComponents.isEmpty {
                warnings.append("left out \(result.tableComponents.count) component(s) lying outside the body " +
                    "(table or head rest: \(result.tableComponents.map { String($0.voxels) }.joined(separator: ", ")) voxels)")
            }
            return Outcome(mask: result.mask, label: BonePreset.label, voxels: result.voxelCount,
                           interval: [bone.lower, bone.upper], seeds: result.seeds,
                           automaticSeedVoxels: result.automaticSeedVoxels, warnings: warnings)
        case "threshold":
            let mask = try Thresholding.mask(volume, lower: lower!, upper: upper!, threads: threads)
            return Outcome(mask: mask, label: region, voxels: mask.voxels.reduce(0) { $0 + Int($1) },
                           interval: [lower!, upper!], seeds: [])
        case "connected":
            let criterion: InclusionCriterion
            if let within {
                let mask = try withinMask(within, grid: volume.geometry)
                criterion = .intervalInMask(lower: lower!, upper: upper!, mask: mask)
            } else {
                criterion = .interval(lower: lower!, upper: upper!)
            }
            let result = try grower.grow(volume, seeds: seeds, criterion: criterion)
            return Outcome(mask: result.mask, label: region, voxels: result.voxelCount, interval: [result.lower, result.upper],
                           seeds: result.seeds, limited: result.stoppedByVolumeLimit, warnings: result.warnings)
        default:
            let result = try grower.grow(volume, seeds: seeds, criterion: .confidence(multiplier: multiplier,
                                                                                         iterations: iterations,
                                                                                         initialRadius: radius))
            return Outcome(mask: result.mask, label: region, voxels: result.voxelCount, interval: [result.lower, result.upper],
                           seeds: result.seeds, iterations: result.iterations, limited: result.stoppedByVolumeLimit,
                           warnings: result.warnings)
        }
    }

    /// The `--within` label map as a mask, checked to lie on the volume's grid.
    private func withinMask(_ path: String, grid: VolumeGeometry) throws -> Volume<UInt8> {
        let labels: LabelMap
        do {
            labels = try NIfTI.readLabelMap(URL(fileURLWithPath: path))
        } catch {
            fail("\(error)")
        }
        let g = labels.geometry
        let sameGrid = g.dimensions == grid.dimensions && (g.spacing - grid.spacing).length < 1e-3 &&
            (g.origin - grid.origin).length < 1e-2 && g.direction.maxDifference(to: grid.direction) < 1e-4
        guard sameGrid else {
            fail("\(path): the label map is not on the study's grid (\(describe(g)) vs \(describe(grid)))")
        }
        if let withinLabel { return labels.mask(of: withinLabel) }
        var mask = labels.mask(of: -1)
        switch labels.storage {
        case .uint8(let v): for index in mask.voxels.indices where v.voxels[index] != 0 { mask.voxels[index] = 1 }
        case .uint16(let v): for index in mask.voxels.indices where v.voxels[index] != 0 { mask.voxels[index] = 1 }
        }
        return mask
    }

    private func describe(_ g: VolumeGeometry) -> String {
        "\(g.dimensions.x)×\(g.dimensions.y)×\(g.dimensions.z) voxels of \(fmt(g.spacing.x))×\(fmt(g.spacing.y))×" +
            "\(fmt(g.spacing.z)) mm at (\(fmt(g.origin.x)), \(fmt(g.origin.y)), \(fmt(g.origin.z)))"
    }
}

/// Prints `vrprep <command>: error: message` on standard error and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vrprep: error: \(message)\n".utf8))
    Foundation.exit(1)
}

func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }

/// Wall-clock laps.
final class Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds
    func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}

/// The `--json` shape of `vrprep segment`.
struct SegmentJSON: Encodable {
    struct Series: Encodable {
        var seriesInstanceUID: String
        var modality: String
        var dimensions: [Int]
    }
    struct Label: Encodable {
        var value: Int
        var name: String
        var voxels: Int
        var volumeML: Double
    }
    struct SeedUsed: Encodable {
        var given: String
        var index: [Int]
        var patientMM: [Double]
        var value: Double
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
    var seeds: [SeedUsed]
    var automaticSeedVoxels: Int
    var iterations: Int?
    var stoppedByVolumeLimit: Bool
    var seconds: Seconds
    var threads: Int
    var output: String
    var warnings: [String]

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
