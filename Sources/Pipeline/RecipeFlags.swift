import Foundation
import Segmentation

/// A recipe as command-line flags give it: one preset with its settings (`--preset`), several
/// structures with seeds named per structure (`--structures bone,vessels --seed-mm vessels:x,y,z`),
/// or an expert region (`--method connected --lower 226 --upper 3071 --seed i,j,k`).
/// `vrprep segment` and `vrprep process` build their recipe through this, so that the flags mean
/// the same in both and are checked as a recipe file is (`Recipe.validate`).
public struct RecipeFlags: Sendable {
    /// A flag that does not make a recipe: the message names the flag and what to change.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public var preset: Preset?
    public var structures: String?
    /// `--seed [STRUCTURE:]i,j,k` and `--seed-mm [STRUCTURE:]x,y,z`, as given.
    public var seedVoxels: [String] = []
    public var seedPositions: [String] = []
    /// With `--preset`: its settings.
    public var lower: Double?
    public var upper: Double?
    public var radiusMM: Double?
    public var maxVolumeML: Double?
    public var seedHU: Double?
    public var minIslandML: Double?
    public var keepTable: Bool?
    /// `--method`: an expert region, with its settings.
    public var method: Recipe.Region.Method?
    public var connectivity: Int?
    public var maxDistanceMM: Double?
    public var multiplier: Double?
    public var iterations: Int?
    public var radius: Int?
    public var within: String?
    public var withinLabel: Int?

    public init() {}

    /// The seeds, each with the structure it names (nil for a bare seed).
    func taggedSeeds() throws(Problem) -> [(structure: String?, seed: Seed)] {
        var seeds: [(structure: String?, seed: Seed)] = []
        for text in seedVoxels { seeds.append(try Self.parseSeed(text, option: "--seed", voxel: true)) }
        for text in seedPositions { seeds.append(try Self.parseSeed(text, option: "--seed-mm", voxel: false)) }
        return seeds
    }

    /// Whether any seed was given.
    public var hasSeeds: Bool { !seedVoxels.isEmpty || !seedPositions.isEmpty }

    /// The recipe the flags stand for; nil when they name no structure (the modality's default).
    public func recipe() throws(Problem) -> Recipe? {
        if let method { return try regionRecipe(method) }
        let presets: [Preset]
        if let structures {
            do {
                presets = try Recipe.presets(in: structures)
            } catch {
                throw Problem(description: "\(error)")
            }
        } else if let preset {
            presets = [preset]
        } else {
            if hasSeeds { throw Problem(description: "a seed goes with --structures, as STRUCTURE:x,y,z") }
            return nil
        }
        let tagged = try taggedSeeds()
        if structures != nil, let bare = tagged.first(where: { $0.structure == nil }) {
            throw Problem(description: "with --structures, name the structure of each seed (e.g. vessels:\(bare.seed)), not a bare seed")
        }
        if let stray = tagged.first(where: { $0.structure != nil && !presets.map(\.rawValue).contains($0.structure!) }) {
            throw Problem(description: "a seed names '\(stray.structure!)', which is not among the structures " +
                          presets.map(\.rawValue).joined(separator: ","))
        }
        var list: [Recipe.Structure] = []
        for preset in presets {
            var structure = Recipe.Structure(preset: preset)
            for (name, seed) in tagged where name == preset.rawValue || (structures == nil && name == nil) { structure.add(seed) }
            if structures == nil { structure.settings = try settings(of: preset) }
            list.append(structure)
        }
        let recipe = Recipe(structures: list)
        do {
            try recipe.validate(source: structures != nil ? "--structures" : "--preset \(presets[0])")
        } catch {
            throw Problem(description: "\(error)")
        }
        return recipe
    }

    /// `--preset`'s settings from the flags: a flag of another preset is refused, naming it.
    private func settings(of preset: Preset) throws(Problem) -> PresetSettings {
        var settings = PresetSettings(preset)
        if preset == .tumor && (lower != nil || upper != nil) {
            throw Problem(description: "--preset tumor estimates its interval from the seeds: no --lower/--upper")
        }
        let flags: [(flag: String, key: String, value: Double?)] = [("--lower", "lower", lower), ("--upper", "upper", upper),
                                                                    ("--radius-mm", "radiusMM", radiusMM)]
        for (flag, key, value) in flags {
            guard let value else { continue }
            if !settings.set(key, value) {
                throw Problem(description: "\(flag) is not a setting of the \(preset) preset (it takes \(PresetSettings.keys(of: preset).joined(separator: ", ")))")
            }
        }
        // The settings of one preset, given with their defaults whatever the preset: only its own apply.
        if case .vessels(var vessels) = settings {
            vessels.maxVolumeML = maxVolumeML
            settings = .vessels(vessels)
        }
        if case .bone(var bone) = settings {
            (bone.seedHU, bone.minIslandML, bone.keepTable) = (seedHU, minIslandML, keepTable)
            settings = .bone(bone)
        }
        return settings
    }

    /// `--method` and its settings as a recipe of one region.
    private func regionRecipe(_ method: Recipe.Region.Method) throws(Problem) -> Recipe {
        var region = Recipe.Region(method: method)
        for (name, seed) in try taggedSeeds() {
            if let name { throw Problem(description: "a seed names structure '\(name)': STRUCTURE:… seeds go with --structures") }
            region.add(seed)
        }
        (region.lower, region.upper, region.within, region.withinLabel) = (lower, upper, within, withinLabel)
        if method != .threshold { (region.connectivity, region.maxVolumeML, region.maxDistanceMM) = (connectivity, maxVolumeML, maxDistanceMM) }
        if method == .confidence { (region.multiplier, region.iterations, region.radius) = (multiplier, iterations, radius) }
        let recipe = Recipe(region: region)
        do {
            try recipe.validate(source: "--method \(method.rawValue)")
        } catch {
            throw Problem(description: "\(error)")
        }
        return recipe
    }

    /// A seed flag: "x,y,z" (mm) or "i,j,k" (a voxel, `voxel`), optionally "STRUCTURE:…".
    static func parseSeed(_ text: String, option: String, voxel: Bool) throws(Problem) -> (structure: String?, seed: Seed) {
        var tag: String?, value = Substring(text)
        if let colon = text.firstIndex(of: ":") {
            tag = String(text[..<colon])
            value = text[text.index(after: colon)...]
        }
        let parts = value.split(separator: ",", omittingEmptySubsequences: false).map {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw Problem(description: "\(option) '\(value)' is not three numbers separated by commas")
        }
        let v = parts.map { $0! }
        if voxel {
            guard v.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else {
                throw Problem(description: "\(option) '\(value)' must be whole voxel indices i,j,k")
            }
            return (tag, .voxel(SIMD3(Int(v[0]), Int(v[1]), Int(v[2]))))
        }
        return (tag, .patient(SIMD3(v[0], v[1], v[2])))
    }
}
