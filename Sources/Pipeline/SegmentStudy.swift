import DICOM
import Foundation
import ScenePackage
import Segmentation
import VolumeCore
import VolumeIO

/// Use case: segment one series of a study into one label map, by a recipe (the presets) or by
/// an expert method (a threshold, connected or confidence growing from seeds). `vrprep segment`
/// builds the request from its options and prints the result; it writes the label map.
public struct SegmentStudy: Sendable {
    /// The presets of a recipe, painted into one map by priority, or its expert region.
    public var recipe: Recipe
    public var threads: Int?
    /// Whether what is made leaves the hospital (a scene package, pictures): defacing `auto`
    /// then removes a head's face. A label map for the hospital's own tools keeps it.
    public var leavesHospital = false

    public init(recipe: Recipe) {
        self.recipe = recipe
    }

    /// What one structure (or the expert method's one region) gave.
    public struct Structure: Sendable {
        public var label: LabelInfo
        public var preset: Preset?
        /// Voxels it keeps in the map, and (presets) those it found before overlaps.
        public var voxelsInMap: Int
        public var segmentedVoxels: Int?
        public var volumeML: Double
        public var interval: [Double]?
        public var figures: StructureFigures?
        public var seeds: [SeedUsed]
        public var seconds: Double?
        public var warnings: [Notice]
    }

    public struct Result: Sendable {
        public var labels: LabelMap
        public var series: SeriesInfo
        public var structures: [Structure]
        /// The seeds used, over all structures.
        public var seeds: [SeedUsed]
        /// The interval, when there is one region (or one structure).
        public var interval: [Double]?
        public var automaticSeedVoxels: Int
        /// Confidence growing: estimates made.
        public var iterations: Int?
        /// Growth ended early (the volume limit; a vessel's leak guard).
        public var stoppedByVolumeLimit: Bool
        /// The series' warnings, then each structure's (named by its preset).
        public var warnings: [String]
        public var loadSeconds: Double
        public var segmentSeconds: Double
        /// How the study's face was handled before segmenting (`DefaceStudy`).
        public var defacing: Manifest.Defacing?
    }

    /// A seed as it was used: as given, its voxel, its position (LPS mm) and the value there.
    public struct SeedUsed: Sendable, Encodable {
        public var given: String
        public var index: [Int]
        public var patientMM: [Double]
        public var value: Double

        init(_ seed: ResolvedSeed) {
            given = seed.given.description
            index = [seed.index.x, seed.index.y, seed.index.z]
            patientMM = [seed.patient.x, seed.patient.y, seed.patient.z]
            value = seed.value
        }
    }

    /// What went wrong, in words that name the file, the seed or the key.
    public typealias Failure = UseCaseFailure

    /// Reads the study, picks its series (`SeriesChoice`) and segments it. The observer hears the
    /// loading (files read and decoded, 0–50 %) and each structure as it starts.
    public func run(_ paths: [String], series choice: String? = nil, observer: (any UseCaseObserver)? = nil) throws(Failure) -> Result {
        let clock = Stopwatch()
        let report = DicomLoader(threads: threads).load(paths) { p in
            observer?.step(p.step(within: 0...0.5))
        }
        var chosen = try SeriesChoice.choose(report, from: paths, choice: choice)
        let loadSeconds = clock.lap()
        let defaced = try deface(&chosen, observer: observer)
        var result = try segment(chosen, observer: observer)
        result.defacing = defaced.record
        if let notice = defaced.notice { result.warnings.append("defacing: \(notice.text)") }
        result.loadSeconds = loadSeconds
        result.segmentSeconds = clock.lap()
        return result
    }

    /// The recipe's defacing (`DefaceStudy`), in place, before anything is made from the series.
    func deface(_ series: inout LoadedSeries, observer: (any UseCaseObserver)?, fraction: Double = 0.5) throws(Failure) -> DefaceStudy.Outcome {
        try observer.step("finding the face", fraction: fraction)
        return try DefaceStudy.apply(&series, mode: recipe.deface ?? .auto, leavesHospital: leavesHospital,
                                     seeds: DefaceStudy.seeds(of: recipe), threads: threads)
    }

    /// Segments a series already loaded; its steps fill `span` of the whole use case.
    func segment(_ chosen: LoadedSeries, observer: (any UseCaseObserver)?, span: ClosedRange<Double> = 0.5...1) throws(Failure) -> Result {
        let volume = chosen.volume, modality = chosen.info.modality, g = volume.geometry
        try observer.step(["segmenting", recipe.region?.method.rawValue].compactMap { $0 }.joined(separator: " "), fraction: span.lowerBound)
        do throws(SegmentationError) {
            if let region = recipe.region { return try segment(region, chosen) }
            let done = try RecipeRunner(threads: threads).run(recipe, volume: volume, modality: modality) { n, total, preset in
                if let preset {
                    observer?.step(UseCaseStep("segmenting \(preset) (\(n + 1) of \(total))", fraction: span.lowerBound + (span.upperBound - span.lowerBound) * Double(n) / Double(max(total, 1)),
                                               done: n, total: total))
                }
            }
            let structures = done.structures.map { s in
                Structure(label: s.label, preset: s.preset, voxelsInMap: s.voxelsInMap, segmentedVoxels: s.voxels,
                          volumeML: Double(s.voxelsInMap) * g.voxelVolume / 1000, interval: s.interval, figures: s.figures, seeds: s.seeds.map(SeedUsed.init),
                          seconds: s.seconds, warnings: s.warnings)
            }
            return Result(labels: done.labels, series: chosen.info, structures: structures, seeds: done.structures.flatMap(\.seeds).map(SeedUsed.init),
                          interval: done.structures.count == 1 ? done.structures[0].interval : nil,
                          automaticSeedVoxels: done.structures.first { $0.preset == .bone }?.figures?.bone?.automaticSeedVoxels ?? 0,
                          iterations: nil, stoppedByVolumeLimit: done.structures.contains { $0.stop != nil },
                          warnings: chosen.info.warnings + done.structures.flatMap { s in s.warnings.map { "\(s.preset): \($0)" } },
                          loadSeconds: 0, segmentSeconds: 0, defacing: nil)
        } catch {
            throw Failure(description: "\(error)", notice: error.notice)
        }
    }

    /// The expert region of a recipe (checked by `Recipe.validate`), labelled 1.
    private func segment(_ region: Recipe.Region, _ chosen: LoadedSeries) throws(SegmentationError) -> Result {
        try region.validate(source: "recipe")
        let volume = chosen.volume
        let grower = RegionGrowing(connectivity: Connectivity(rawValue: region.connectivity ?? 6) ?? .six,
                                   limits: GrowthLimits(maxVolumeML: region.maxVolumeML, maxDistanceMM: region.maxDistanceMM), threads: threads)
        switch region.method {
        case .threshold:
            let (lower, upper) = (region.lower!, region.upper!)
            let mask = try Thresholding.mask(volume, lower: lower, upper: upper, threads: threads)
            return self.region(mask, voxels: mask.voxels.reduce(0) { $0 + Int($1) }, interval: [lower, upper], seeds: [], chosen)
        case .connected:
            let (lower, upper) = (region.lower!, region.upper!)
            let criterion: InclusionCriterion
            if let within = region.within {
                criterion = .intervalInMask(lower: lower, upper: upper,
                                            mask: try Self.withinMask(within, label: region.withinLabel, grid: volume.geometry))
            } else {
                criterion = .interval(lower: lower, upper: upper)
            }
            let grown = try grower.grow(volume, seeds: region.allSeeds, criterion: criterion)
            return self.region(grown.mask, voxels: grown.voxelCount, interval: [grown.lower, grown.upper], seeds: grown.seeds, chosen,
                               limited: grown.stoppedByVolumeLimit, warnings: grown.warnings.map(\.text))
        case .confidence:
            let grown = try grower.grow(volume, seeds: region.allSeeds,
                                        criterion: .confidence(multiplier: region.multiplier ?? 2.5, iterations: region.iterations ?? 4,
                                                               initialRadius: region.radius ?? 1))
            var result = self.region(grown.mask, voxels: grown.voxelCount, interval: [grown.lower, grown.upper], seeds: grown.seeds,
                                     chosen, limited: grown.stoppedByVolumeLimit, warnings: grown.warnings.map(\.text))
            result.iterations = grown.iterations
            return result
        }
    }

    /// The expert methods' one region, labelled 1.
    private func region(_ mask: Volume<UInt8>, voxels: Int, interval: [Double], seeds: [ResolvedSeed], _ chosen: LoadedSeries,
                        limited: Bool = false, warnings: [String] = []) -> Result {
        let label = Recipe.Region.label
        let structure = Structure(label: label, preset: nil, voxelsInMap: voxels, segmentedVoxels: nil,
                                  volumeML: Double(voxels) * mask.geometry.voxelVolume / 1000,
                                  interval: nil, figures: nil, seeds: [], seconds: nil, warnings: [])
        return Result(labels: LabelMap(mask: mask, label: label), series: chosen.info, structures: [structure], seeds: seeds.map(SeedUsed.init),
                      interval: interval, automaticSeedVoxels: 0, iterations: nil, stoppedByVolumeLimit: limited,
                      warnings: chosen.info.warnings + warnings, loadSeconds: 0, segmentSeconds: 0, defacing: nil)
    }

    /// A label map as a mask, checked to lie on the study's grid.
    static func withinMask(_ path: String, label: Int?, grid: VolumeGeometry) throws(SegmentationError) -> Volume<UInt8> {
        let labels: LabelMap
        do {
            labels = try NIfTI.readLabelMap(URL(fileURLWithPath: path))
        } catch {
            throw .nothingFound(reason: "\(error)")
        }
        let g = labels.geometry
        guard g.isSameGrid(as: grid) else {
            throw .invalidParameter(name: path, reason: "the label map is not on the study's grid (\(g.gridDescription) vs \(grid.gridDescription))")
        }
        return label.map(labels.mask(of:)) ?? labels.maskOfAnyLabel()
    }
}

/// The series a use case works on: `choice` (its number in `vrprep inspect`, 1…, or its
/// SeriesInstanceUID) when given, else the largest.
public enum SeriesChoice {
    public typealias Failure = UseCaseFailure

    public static func choose(_ report: LoadReport, from paths: [String], choice: String? = nil) throws(Failure) -> LoadedSeries {
        guard !report.series.isEmpty else {
            let reasons = report.rejected.prefix(5).map { "\($0.path): \($0.reason)" }.joined(separator: "\n  ")
            throw Failure(description: "no series could be loaded from \(paths.joined(separator: ", "))" + (reasons.isEmpty ? "" : ":\n  " + reasons))
        }
        if let choice {
            if let number = Int(choice), number >= 1, number <= report.series.count { return report.series[number - 1] }
            if let match = report.series.first(where: { $0.info.seriesInstanceUID == choice }) { return match }
            throw Failure(description: "no series '\(choice)' here: give 1…\(report.series.count) or a SeriesInstanceUID (see vrprep inspect)")
        }
        return report.series.max { $0.info.geometry.voxelCount < $1.info.geometry.voxelCount }!
    }
}

extension SegmentStudy.Structure: Encodable {
    /// As the workstation's previews give it: name, label, voxels, volume, what the preset measured, warnings.
    public func encode(to encoder: any Encoder) throws {
        enum Key: String, CodingKey { case name, label, preset, voxels, volumeML, interval, figures, seeds, seconds, warnings }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(label.name, forKey: .name)
        try container.encode(label.value, forKey: .label)
        try container.encodeIfPresent(preset, forKey: .preset)
        try container.encode(voxelsInMap, forKey: .voxels)
        try container.encode(volumeML, forKey: .volumeML)
        try container.encodeIfPresent(interval, forKey: .interval)
        try container.encodeIfPresent(figures, forKey: .figures)
        try container.encode(seeds, forKey: .seeds)
        try container.encodeIfPresent(seconds, forKey: .seconds)
        try container.encode(warnings, forKey: .warnings)
    }
}
