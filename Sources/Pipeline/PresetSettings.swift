import Segmentation

/// Each preset's own settings in a recipe, typed: a bone structure cannot carry a tumor's radius.
/// In JSON they sit beside "preset" and the seeds (`{"preset": "vessels", "lower": 150, …}`); a
/// key that belongs to another preset is refused when the recipe is read, naming that preset.
/// Unset values take the preset's defaults (`BonePreset`, `SkinPreset`, `VesselPreset`, `TumorPreset`).
public enum PresetSettings: Sendable, Equatable {
    case bone(Bone)
    case skin(Skin)
    case vessels(Vessels)
    case tumor(Tumor)

    public struct Bone: Codable, Sendable, Equatable {
        /// The bone window (default 226…3071 HU).
        public var lower: Double?
        public var upper: Double?
        /// Automatic seeds at or above this value (default 700 HU), islands removed below this
        /// size (default 0.1 mL), and whether the table and head rest are kept (default no).
        public var seedHU: Double?
        public var minIslandML: Double?
        public var keepTable: Bool?

        public init() {}
    }

    public struct Skin: Codable, Sendable, Equatable {
        /// The body's lower bound (default −500 HU on CT; from the histogram on MR).
        public var lower: Double?

        public init() {}
    }

    public struct Vessels: Codable, Sendable, Equatable {
        /// The window (default: from the blood around the seeds) and the volume limit (default 500 mL).
        public var lower: Double?
        public var upper: Double?
        public var maxVolumeML: Double?

        public init() {}
    }

    public struct Tumor: Codable, Sendable, Equatable {
        /// The lesion's expected radius (default: found from the seeds); growth stops at 1.5 × it.
        public var radiusMM: Double?

        public init() {}
    }

    /// A preset with its defaults.
    public init(_ preset: Preset) {
        switch preset {
        case .bone: self = .bone(Bone())
        case .skin: self = .skin(Skin())
        case .vessels: self = .vessels(Vessels())
        case .tumor: self = .tumor(Tumor())
        }
    }

    public var preset: Preset {
        switch self {
        case .bone: .bone
        case .skin: .skin
        case .vessels: .vessels
        case .tumor: .tumor
        }
    }

    /// The keys a preset's settings take, in recipes and in messages.
    static func keys(of preset: Preset) -> [String] {
        switch preset {
        case .bone: ["lower", "upper", "seedHU", "minIslandML", "keepTable"]
        case .skin: ["lower"]
        case .vessels: ["lower", "upper", "maxVolumeML"]
        case .tumor: ["radiusMM"]
        }
    }

    /// The numbers set, by key.
    var numbers: [(key: String, value: Double)] {
        let all: [(String, Double?)]
        switch self {
        case .bone(let s): all = [("lower", s.lower), ("upper", s.upper), ("seedHU", s.seedHU), ("minIslandML", s.minIslandML)]
        case .skin(let s): all = [("lower", s.lower)]
        case .vessels(let s): all = [("lower", s.lower), ("upper", s.upper), ("maxVolumeML", s.maxVolumeML)]
        case .tumor(let s): all = [("radiusMM", s.radiusMM)]
        }
        return all.compactMap { key, value in value.map { (key, $0) } }
    }

    /// Sets a number by its key; false when this preset has no such setting.
    public mutating func set(_ key: String, _ value: Double) -> Bool {
        switch (self, key) {
        case (.bone(var s), "lower"): s.lower = value; self = .bone(s)
        case (.bone(var s), "upper"): s.upper = value; self = .bone(s)
        case (.bone(var s), "seedHU"): s.seedHU = value; self = .bone(s)
        case (.bone(var s), "minIslandML"): s.minIslandML = value; self = .bone(s)
        case (.skin(var s), "lower"): s.lower = value; self = .skin(s)
        case (.vessels(var s), "lower"): s.lower = value; self = .vessels(s)
        case (.vessels(var s), "upper"): s.upper = value; self = .vessels(s)
        case (.vessels(var s), "maxVolumeML"): s.maxVolumeML = value; self = .vessels(s)
        case (.tumor(var s), "radiusMM"): s.radiusMM = value; self = .tumor(s)
        default: return false
        }
        return true
    }

    /// The settings read from a structure's JSON object (its preset already known).
    init(_ preset: Preset, from decoder: any Decoder) throws {
        switch preset {
        case .bone: self = .bone(try Bone(from: decoder))
        case .skin: self = .skin(try Skin(from: decoder))
        case .vessels: self = .vessels(try Vessels(from: decoder))
        case .tumor: self = .tumor(try Tumor(from: decoder))
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .bone(let s): try s.encode(to: encoder)
        case .skin(let s): try s.encode(to: encoder)
        case .vessels(let s): try s.encode(to: encoder)
        case .tumor(let s): try s.encode(to: encoder)
        }
    }
}
