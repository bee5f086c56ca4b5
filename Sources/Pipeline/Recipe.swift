import Foundation
import Segmentation
import VolumeCore

/// Which structures to segment and how: the input of `vrprep segment --recipe` (and of the scene
/// pipeline), stored with its results. JSON:
///
///     {"structures": [
///        {"preset": "bone"},
///        {"preset": "skin"},
///        {"preset": "vessels", "seedsMM": [[125, -110, 50]], "lower": 150, "upper": 700},
///        {"preset": "tumor", "seedsMM": [[95.7, -100.5, 105]], "radiusMM": 7.5}]}
///
/// Each structure gets a fixed label (bone 1, skin 2, vessels 3, tumor 4). Where structures
/// overlap, the label map keeps the higher priority: tumor, then vessels, then bone, then skin
/// (so the skin label is the body minus what lies in it).
///
/// Instead of structures, a recipe may hold one expert region, labelled 1 ("region"): every voxel
/// in an interval, or grown from seeds within one (ITK's ConnectedThreshold) or within an interval
/// re-estimated from the region (ConfidenceConnected). `vrprep segment --method` is this recipe:
///
///     {"region": {"method": "connected", "lower": 226, "upper": 3071, "seedsMM": [[10, -20, 30]],
///                 "connectivity": 26, "maxVolumeML": 500}}
public struct Recipe: Codable, Sendable, Equatable {
    public var structures: [Structure]
    /// The expert region, when the recipe holds one instead of structures.
    public var region: Region?
    /// Whether the face of a head study is removed first (`Defacing`); nil: `auto`.
    public var deface: Defacing.Mode?
    /// Whether the package holds a turntable video of its surfaces (`SceneVideo`); nil: no.
    public var video: Bool?

    /// An expert method's region and its settings.
    public struct Region: Codable, Sendable, Equatable {
        public enum Method: String, Codable, Sendable, CaseIterable {
            case threshold, connected, confidence
        }

        public var method: Method
        /// Seeds in LPS millimetres and as voxel indices (connected, confidence).
        public var seedsMM: [[Double]]?
        public var seeds: [[Int]]?
        /// The interval (threshold, connected).
        public var lower: Double?
        public var upper: Double?
        /// 6, 18 or 26 neighbours (default 6) and the growth's limits.
        public var connectivity: Int?
        public var maxVolumeML: Double?
        public var maxDistanceMM: Double?
        /// Confidence: the interval's half-width in standard deviations, its re-estimations, and
        /// the radius (voxels) of the first estimate around each seed.
        public var multiplier: Double?
        public var iterations: Int?
        public var radius: Int?
        /// Connected: grow only inside this label map on the study's grid (a path on this
        /// machine: recipes from the command line only), in one of its labels or any.
        public var within: String?
        public var withinLabel: Int?

        public init(method: Method) {
            self.method = method
        }

        static let keys: Set<String> = ["method", "seedsMM", "seeds", "lower", "upper", "connectivity", "maxVolumeML",
                                        "maxDistanceMM", "multiplier", "iterations", "radius", "within", "withinLabel"]
        /// The neighbours a voxel may have: faces, edges, corners.
        public static let connectivities = Connectivity.allCases.map(\.rawValue)
        /// The region's label in the map.
        public static let label = LabelInfo(value: 1, name: "region", color: RGBA(0.9, 0.3, 0.2))
    }

    private enum CodingKeys: String, CodingKey {
        case structures, region, deface, video
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        structures = try container.decodeIfPresent([Structure].self, forKey: .structures) ?? []
        region = try container.decodeIfPresent(Region.self, forKey: .region)
        deface = try container.decodeIfPresent(Defacing.Mode.self, forKey: .deface)
        video = try container.decodeIfPresent(Bool.self, forKey: .video)
    }

    /// A region recipe is written as {"region": …}; a recipe of structures as {"structures": […]};
    /// "deface" and "video" only when they were given.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let region { try container.encode(region, forKey: .region) } else { try container.encode(structures, forKey: .structures) }
        try container.encodeIfPresent(deface, forKey: .deface)
        try container.encodeIfPresent(video, forKey: .video)
    }

    public struct Structure: Codable, Sendable, Equatable {
        /// The preset and its own settings.
        public var settings: PresetSettings
        /// Seeds in LPS millimetres and as voxel indices (i, j, k).
        public var seedsMM: [[Double]]?
        public var seeds: [[Int]]?

        public var preset: Preset { settings.preset }

        public init(_ settings: PresetSettings, seedsMM: [[Double]]? = nil, seeds: [[Int]]? = nil) {
            (self.settings, self.seedsMM, self.seeds) = (settings, seedsMM, seeds)
        }

        /// A preset with its defaults.
        public init(preset: Preset, seedsMM: [[Double]]? = nil, seeds: [[Int]]? = nil) {
            self.init(PresetSettings(preset), seedsMM: seedsMM, seeds: seeds)
        }

        private enum CodingKeys: String, CodingKey {
            case preset, seedsMM, seeds
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let preset = try container.decode(Preset.self, forKey: .preset)
            settings = try PresetSettings(preset, from: decoder)
            seedsMM = try container.decodeIfPresent([[Double]].self, forKey: .seedsMM)
            seeds = try container.decodeIfPresent([[Int]].self, forKey: .seeds)
        }

        /// Flat: {"preset", the seeds, the preset's settings}.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(preset, forKey: .preset)
            try container.encodeIfPresent(seedsMM, forKey: .seedsMM)
            try container.encodeIfPresent(seeds, forKey: .seeds)
            try settings.encode(to: encoder)
        }
    }

    public init(structures: [Structure]) {
        self.structures = structures
    }

    public init(region: Region) {
        (structures, self.region) = ([], region)
    }

    static let structureKeys: Set<String> = Set(["preset", "seedsMM", "seeds"] + Preset.allCases.flatMap(PresetSettings.keys(of:)))

    /// The range of every number a structure may carry, checked by `validate` with the key and
    /// the range named (the same for recipe files, job requests, DICOM peers and CLI flags).
    public static let ranges: [(key: String, range: CheckedRange)] = [
        ("lower", valueRange), ("upper", valueRange),
        ("radiusMM", CheckedRange(0.5, 500, unit: "mm", upperIncluded: false)),
        ("maxVolumeML", CheckedRange(0, 100_000, unit: "mL", lowerIncluded: false)),
        ("seedHU", CheckedRange(-32768, 32767, unit: "HU")),
        ("minIslandML", CheckedRange(0, 100_000, unit: "mL")),
    ]
    /// Intensity bounds: HU for CT, stored values (after rescale) for MR.
    static let valueRange = CheckedRange(-1e6, 1e6)
    /// Voxel seeds: indices of a grid of at most 65,535 columns, rows or slices.
    static let indexRange = CheckedRange(0, 65535)

    /// The presets of a comma-separated list (`--structures bone,skin`), each named at most once.
    public static func presets(in list: String, source: String = "--structures") throws(SegmentationError) -> [Preset] {
        var presets: [Preset] = []
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let preset = Preset(rawValue: name) else {
                throw .invalidParameter(name: source, reason: "unknown structure '\(name)': use \(Preset.listed)")
            }
            presets.append(preset)
        }
        guard Set(presets).count == presets.count else {
            throw .invalidParameter(name: source, reason: "list each of \(Preset.listed) at most once")
        }
        return presets
    }

    /// Reads and checks a recipe file: unknown keys, unknown presets and values out of range are
    /// refused with the file, the structure and the key named.
    public static func load(from url: URL) throws(SegmentationError) -> Recipe {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidParameter(name: url.path, reason: "cannot read the recipe: \(error.localizedDescription)")
        }
        return try parse(data, source: url.path)
    }

    public static func parse(_ data: Data, source: String) throws(SegmentationError) -> Recipe {
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw .invalidParameter(name: source, reason: "not a JSON object (a recipe is {\"structures\": [...]})")
        }
        if let unknown = top.keys.sorted().first(where: { !["structures", "region", "deface", "video"].contains($0) }) {
            throw .invalidParameter(name: source, reason: "unknown key '\(unknown)' (a recipe has \"structures\", or one \"region\", and may say \"deface\" and \"video\")")
        }
        // (A number is caught when the recipe is decoded: Foundation bridges 0 and 1 to Bool here.)
        if let video = top["video"], !(video is Bool) {
            throw .invalidParameter(name: source, reason: "video must be true or false, not \(video)")
        }
        if let mode = top["deface"], Defacing.Mode(rawValue: mode as? String ?? "") == nil {
            throw .invalidParameter(name: source, reason: "deface must be \(Defacing.Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \(mode)")
        }
        if top["region"] != nil {
            guard top["structures"] == nil else {
                throw .invalidParameter(name: source, reason: "give \"structures\" or one \"region\", not both")
            }
            guard let region = top["region"] as? [String: Any] else {
                throw .invalidParameter(name: source, reason: "\"region\" must be an object {\"method\": …}")
            }
            if let unknown = region.keys.sorted().first(where: { !Region.keys.contains($0) }) {
                throw .invalidParameter(name: source, reason: "region: unknown key '\(unknown)' (known: \(Region.keys.sorted().joined(separator: ", ")))")
            }
            if let name = region["method"] as? String, Region.Method(rawValue: name) == nil {
                throw .invalidParameter(name: "\(source): region", reason: "unknown method '\(name)': use " +
                                        Region.Method.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        let list = top["structures"] as? [Any] ?? []
        if top["structures"] != nil && top["structures"] as? [Any] == nil {
            throw .invalidParameter(name: source, reason: "\"structures\" must be a list of structures")
        }
        for (n, item) in list.enumerated() {
            guard let structure = item as? [String: Any] else {
                throw .invalidParameter(name: source, reason: "structure \(n + 1) is not an object")
            }
            if let unknown = structure.keys.sorted().first(where: { !structureKeys.contains($0) }) {
                throw .invalidParameter(name: source, reason: "structure \(n + 1): unknown key '\(unknown)' (known: \(structureKeys.sorted().joined(separator: ", ")))")
            }
            if let name = structure["preset"] as? String, Preset(rawValue: name) == nil {
                throw .invalidParameter(name: "\(source): structure \(n + 1)", reason: "unknown preset '\(name)': use \(Preset.listed)")
            }
            if let name = structure["preset"] as? String, let preset = Preset(rawValue: name),
               let key = structure.keys.sorted().first(where: { !["preset", "seedsMM", "seeds"].contains($0) && !PresetSettings.keys(of: preset).contains($0) }) {
                let which = "\(source): structure \(n + 1) (\(preset))"
                if preset == .tumor && (key == "lower" || key == "upper") {
                    throw .invalidParameter(name: which, reason: "the tumor preset estimates its interval from the seeds: no lower/upper")
                }
                let owners = Preset.allCases.filter { PresetSettings.keys(of: $0).contains(key) }
                throw .invalidParameter(name: which, reason: "\(key) is for the \(Preset.either(owners)) preset " +
                                        "(\(preset) takes \(PresetSettings.keys(of: preset).joined(separator: ", ")))")
            }
        }
        let recipe: Recipe
        do {
            recipe = try JSONDecoder().decode(Recipe.self, from: data)
        } catch {
            throw .invalidParameter(name: source, reason: "a value has the wrong type: \(Self.describe(error))")
        }
        try recipe.validate(source: source)
        return recipe
    }

    /// Checks presets, seeds and ranges; `source` names the file (or the options) in messages.
    public func validate(source: String = "recipe") throws(SegmentationError) {
        if let region { return try region.validate(source: source) }
        guard !structures.isEmpty else { throw .invalidParameter(name: source, reason: "no structure to segment") }
        var seen = Set<Preset>()
        for (n, s) in structures.enumerated() {
            let which = "\(source): structure \(n + 1) (\(s.preset))"
            guard seen.insert(s.preset).inserted else {
                throw .invalidParameter(name: which, reason: "appears twice: give several seeds to one structure instead")
            }
            if let problem = s.seedProblem { throw .invalidParameter(name: which, reason: problem) }
            for (key, value) in s.settings.numbers {
                if let range = Self.ranges.first(where: { $0.key == key })?.range, let problem = range.problem(value) {
                    throw .invalidParameter(name: which, reason: "\(key): \(problem)")
                }
            }
            if s.preset.needsSeeds && s.seedCount == 0 {
                throw .invalidParameter(name: which, reason: "needs at least one seed (seedsMM or seeds) inside the \(s.preset == .tumor ? "lesion" : "vessel")")
            }
            if s.preset == .skin && s.seedCount > 0 {
                throw .invalidParameter(name: which, reason: "takes no seeds")
            }
            let numbers = Dictionary(uniqueKeysWithValues: s.settings.numbers.map { ($0.key, $0.value) })
            if let lower = numbers["lower"], let upper = numbers["upper"], lower > upper {
                throw .invalidParameter(name: which, reason: "lower \(plainNumber(lower)) is above upper \(plainNumber(upper))")
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.typeMismatch(_, let context) = error {
            return context.codingPath.map(\.stringValue).joined(separator: ".") + ": " + context.debugDescription
        }
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "missing \"\(key.stringValue)\" in " + context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        return "\(error)"
    }
}

/// What carries seeds in a recipe (a structure, an expert region): as LPS millimetres and as
/// voxel indices, read, added and checked the same way for both.
protocol RecipeSeeds {
    var seedsMM: [[Double]]? { get set }
    var seeds: [[Int]]? { get set }
}

extension RecipeSeeds {
    var allSeeds: [Seed] {
        (seeds ?? []).map { .voxel(SIMD3($0[0], $0[1], $0[2])) } + (seedsMM ?? []).map { .patient(SIMD3($0[0], $0[1], $0[2])) }
    }

    var seedCount: Int { (seeds ?? []).count + (seedsMM ?? []).count }

    mutating func add(_ seed: Seed) {
        switch seed {
        case .voxel(let v): seeds = (seeds ?? []) + [[v.x, v.y, v.z]]
        case .patient(let p): seedsMM = (seedsMM ?? []) + [[p.x, p.y, p.z]]
        }
    }

    /// Why a seed cannot be one (three numbers within their ranges), or nil.
    var seedProblem: String? {
        if let seed = (seedsMM ?? []).first(where: { $0.count != 3 || !$0.allSatisfy(VolumeGeometry.coordinateRange.contains) }) {
            return "seedsMM: a seed in mm must be three numbers [x, y, z], each \(VolumeGeometry.coordinateRange.description), " +
                "not \(seed.map(CheckedRange.text))"
        }
        if let seed = (seeds ?? []).first(where: { $0.count != 3 || !$0.allSatisfy({ Recipe.indexRange.contains(Double($0)) }) }) {
            return "seeds: a voxel seed must be three indices [i, j, k], each \(Recipe.indexRange.description), not \(seed)"
        }
        return nil
    }
}

extension Recipe.Structure: RecipeSeeds {}
extension Recipe.Region: RecipeSeeds {}

/// Runs a recipe on a volume and composes one label map.
public struct RecipeRunner: Sendable {
    public var threads: Int?

    public init(threads: Int? = nil) {
        self.threads = threads
    }

    /// What one structure gave.
    public struct StructureResult: Sendable {
        public var preset: Preset
        public var label: LabelInfo
        /// Voxels of the structure's own mask, and those it keeps in the composed map.
        public var voxels: Int
        public var voxelsInMap: Int
        public var volumeML: Double
        public var seeds: [ResolvedSeed]
        public var interval: [Double]?
        /// What the preset measured (none for the skin).
        public var figures: StructureFigures?
        public var warnings: [Notice]
        /// Why growth ended before the structure's own edge, if it did (vessels).
        public var stop: GrowthStop?
        public var seconds: Double
    }

    public struct Result: Sendable {
        public var labels: LabelMap
        public var structures: [StructureResult]
    }

    /// Segments every structure, in the recipe's order, and paints them by priority.
    /// `progress(done, total, preset)` is called before each structure, and with no preset at the end.
    public func run(_ recipe: Recipe, volume: AnyVolume, modality: String,
                    progress: ((Int, Int, Preset?) -> Void)? = nil) throws(SegmentationError) -> Result {
        try recipe.validate()
        var masks: [Preset: Volume<UInt8>] = [:]
        var results: [StructureResult] = []
        for (n, structure) in recipe.structures.enumerated() {
            progress?(n, recipe.structures.count, structure.preset)
            let start = DispatchTime.now().uptimeNanoseconds
            var result = try segment(structure, volume: volume, modality: modality)
            result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            masks[structure.preset] = result.mask
            results.append(result.summary)
        }
        progress?(recipe.structures.count, recipe.structures.count, nil)
        // Paint, lowest priority first. The first mask becomes the map itself (its 1s its label),
        // so that no grid of the volume's size is filled with zeros first.
        var painted: Volume<UInt8>?
        for preset in Preset.paintingOrder {
            guard var mask = masks.removeValue(forKey: preset) else { continue }
            let value = UInt8(preset.label.value)
            if painted == nil {
                mask.voxels.withUnsafeMutableBufferPointer { target in
                    let t = UncheckedSendable(target)
                    parallelFor(0..<target.count, grain: 1 << 18, threads: threads) { range in
                        for i in range { t.value[i] = t.value[i] == 0 ? 0 : value }
                    }
                }
                painted = mask
                continue
            }
            painted!.voxels.withUnsafeMutableBufferPointer { target in
                mask.voxels.withUnsafeBufferPointer { source in
                    let (t, s) = (UncheckedSendable(target), UncheckedSendable(source))
                    parallelFor(0..<source.count, grain: 1 << 18, threads: threads) { range in
                        for i in range where s.value[i] != 0 { t.value[i] = value }
                    }
                }
            }
        }
        let map = painted ?? Volume<UInt8>(geometry: volume.geometry, filledWith: 0)
        for index in results.indices { results[index].voxelsInMap = map.count(of: UInt8(results[index].label.value), threads: threads) }
        let labels = LabelMap(storage: .uint8(map), labels: recipe.structures.map(\.preset.label)
            .sorted { $0.value < $1.value })
        return Result(labels: labels, structures: results)
    }

    private struct Segmented {
        var mask: Volume<UInt8>
        var summary: StructureResult
        var seconds: Double {
            get { summary.seconds }
            set { summary.seconds = newValue }
        }
    }

    private func segment(_ s: Recipe.Structure, volume: AnyVolume, modality: String) throws(SegmentationError) -> Segmented {
        let label = s.preset.label
        let g = volume.geometry
        func make(_ mask: Volume<UInt8>, _ voxels: Int, _ seeds: [ResolvedSeed], _ interval: [Double]?,
                  _ figures: StructureFigures?, _ warnings: [Notice], stop: GrowthStop? = nil) -> Segmented {
            Segmented(mask: mask, summary: StructureResult(
                preset: s.preset, label: label, voxels: voxels, voxelsInMap: voxels, volumeML: Double(voxels) * g.voxelVolume / 1000,
                seeds: seeds, interval: interval, figures: figures, warnings: warnings, stop: stop, seconds: 0))
        }
        switch s.settings {
        case .bone(let settings):
            var bone = BonePreset()
            bone.lower = settings.lower ?? bone.lower
            bone.upper = settings.upper ?? bone.upper
            bone.seedHU = settings.seedHU ?? bone.seedHU
            bone.minimumIslandML = settings.minIslandML ?? bone.minimumIslandML
            bone.excludeTable = !(settings.keepTable ?? false)
            bone.threads = threads
            let r = try bone.run(volume, modality: modality, seeds: s.allSeeds)
            var warnings = r.warnings
            if !r.tableComponents.isEmpty {
                let voxels = r.tableComponents.map { String($0.voxels) }.joined(separator: ", ")
                warnings.append(Notice(.tableLeftOut, ["count": String(r.tableComponents.count), "voxels": voxels],
                                       text: "left out \(r.tableComponents.count) component(s) lying outside the body (table or head rest: \(voxels) voxels)"))
            }
            var figures = StructureFigures.Bone(automaticSeedVoxels: r.automaticSeedVoxels, seedLevelHU: r.seedLevel)
            if let centre = r.metalCentre {
                figures.metalML = r.metalML
                let values = ["ml": plainNumber((r.metalML * 10).rounded() / 10), "metalHU": plainNumber(bone.metalHU),
                              "position": [centre.x, centre.y, centre.z].map { plainNumber($0.rounded()) }.joined(separator: ", "), "upper": plainNumber(bone.upper)]
                warnings.append(Notice(.metal, values,
                                       text: "metal: \(values["ml"]!) mL above \(values["metalHU"]!) HU (an implant or a filling; " +
                                           "the largest piece at \(values["position"]!) mm LPS); " +
                                           "it is kept in the bone label up to \(values["upper"]!) HU: give --upper \(values["metalHU"]!) to leave it out"))
            }
            if let contrast = r.contrast, !contrast.isEmpty {
                let ml = Double(contrast.excludedVoxels) * g.voxelVolume / 1000
                figures.contrastExcludedML = ml
                let pools = contrast.pools.map { "\(plainNumber($0.volumeML.rounded())) mL at \(plainNumber($0.medianHU.rounded())) HU" }
                let listed = pools.joined(separator: ", ")
                let named = contrast.pools.map { "\(plainNumber($0.volumeML.rounded())) mL (\(plainNumber($0.medianHU.rounded())) HU)" }
                warnings.append(Notice(.contrastLeftOut, ["ml": plainNumber(ml.rounded()), "pools": named.joined(separator: ", ")],
                                       text: "contrast-enhanced study: left \(plainNumber(ml.rounded())) mL of contrast-filled blood out of bone " +
                                           "(blood pool(s): \(listed)" +
                                           (contrast.denseML > 0 ? "; dense contrast in veins: \(plainNumber(contrast.denseML.rounded())) mL" : "") + ")"))
            }
            return make(r.mask, r.voxelCount, r.seeds, [bone.lower, bone.upper], .bone(figures), warnings)
        case .skin(let settings):
            var skin = SkinPreset(lower: settings.lower)
            skin.threads = threads
            let r = try skin.run(volume, modality: modality)
            var warnings: [Notice] = []
            if !r.leftOut.isEmpty {
                let voxels = r.leftOut.map(String.init).joined(separator: ", ")
                warnings.append(Notice(.tableLeftOut, ["count": String(r.leftOut.count), "voxels": voxels],
                                       text: "left out \(r.leftOut.count) component(s) lying outside the body (table or head rest: \(voxels) voxels)"))
            }
            return make(r.mask, r.voxelCount, [], [r.lower], nil, warnings)
        case .vessels(let settings):
            var vessels = VesselPreset(lower: settings.lower, upper: settings.upper)
            vessels.maxVolumeML = settings.maxVolumeML ?? vessels.maxVolumeML
            vessels.threads = threads
            let r = try vessels.run(volume, modality: modality, seeds: s.allSeeds)
            return make(r.mask, r.voxelCount, r.seeds, [r.lower, r.upper],
                        .vessels(.init(waves: r.waves, edgeVoxelsExcluded: r.edgeVoxelsExcluded, boneVoxelsExcluded: r.boneVoxelsExcluded,
                                       chambersRemovedML: r.chambersRemovedML, seedMedian: r.seedMedian)), r.warnings, stop: r.stop)
        case .tumor(let settings):
            var tumor = TumorPreset(radiusMM: settings.radiusMM)
            tumor.threads = threads
            let r = try tumor.run(volume, modality: modality, seeds: s.allSeeds)
            return make(r.mask, r.voxelCount, r.seeds, [r.lower, r.upper],
                        .tumor(.init(maximalDiameterMM: r.maximalDiameterMM, seedMean: r.seedMean, seedSigma: r.seedSigma,
                                     seedVoxels: r.seedVoxels, lesionMean: r.lesionMean, surroundingMedian: r.surroundingMedian,
                                     limitMM: r.limitMM, reachedLimit: r.reachedLimit, edgeRadiusMM: r.probe.radiusMM,
                                     edgeExtentMM: r.probe.extentMM, raysWithEdge: r.probe.raysWithEdge, rays: r.probe.rays)), r.warnings)
        }
    }
}

extension Recipe.Region {
    /// Checks the method's needs and every number's range.
    func validate(source: String) throws(SegmentationError) {
        let which = "\(source): region (\(method.rawValue))"
        func refuse(_ reason: String) -> SegmentationError { .invalidParameter(name: which, reason: reason) }
        if let problem = seedProblem { throw refuse(problem) }
        let numbers: [(String, Double?, CheckedRange)] = [
            ("lower", lower, Recipe.valueRange), ("upper", upper, Recipe.valueRange),
            ("maxVolumeML", maxVolumeML, Recipe.ranges.first { $0.key == "maxVolumeML" }!.range),
            ("maxDistanceMM", maxDistanceMM, CheckedRange(0, 100_000, unit: "mm", lowerIncluded: false)),
            ("multiplier", multiplier, CheckedRange(0, 100, lowerIncluded: false)),
            ("iterations", iterations.map(Double.init), CheckedRange(0, 100)), ("radius", radius.map(Double.init), CheckedRange(0, 10)),
            ("withinLabel", withinLabel.map(Double.init), CheckedRange(0, 65535)),
        ]
        for (key, value, range) in numbers {
            if let value, let problem = range.problem(value) { throw refuse("\(key): \(problem)") }
        }
        if let connectivity, !Self.connectivities.contains(connectivity) { throw refuse("connectivity must be 6, 18 or 26, not \(connectivity)") }
        switch method {
        case .threshold:
            guard lower != nil, upper != nil else { throw refuse("needs lower and upper (the interval)") }
            guard seedCount == 0 else { throw refuse("takes no seeds: every voxel in the interval is kept") }
        case .connected:
            guard lower != nil, upper != nil else { throw refuse("needs lower and upper (the interval)") }
            guard seedCount > 0 else { throw refuse("needs at least one seed (seedsMM or seeds)") }
        case .confidence:
            guard seedCount > 0 else { throw refuse("needs at least one seed (seedsMM or seeds)") }
            guard lower == nil, upper == nil else { throw refuse("estimates its interval from the seeds: no lower/upper") }
        }
        if method != .confidence && (multiplier != nil || iterations != nil || radius != nil) {
            throw refuse("multiplier, iterations and radius are for the confidence method")
        }
        if method == .threshold && (connectivity != nil || maxVolumeML != nil || maxDistanceMM != nil) {
            throw refuse("connectivity, maxVolumeML and maxDistanceMM are for grown regions (connected, confidence)")
        }
        if within != nil && method != .connected { throw refuse("within restricts the connected method only") }
        if withinLabel != nil && within == nil { throw refuse("withinLabel needs within") }
        if let lower, let upper, lower > upper { throw refuse("lower \(plainNumber(lower)) is above upper \(plainNumber(upper)): the interval is empty") }
    }
}
