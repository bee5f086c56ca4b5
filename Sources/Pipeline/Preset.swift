import Segmentation
import VolumeCore

/// The structures VRPrep segments, one preset each. The raw value is the name used in recipes,
/// on the command line, in label maps and in JSON; nothing else spells it.
public enum Preset: String, CaseIterable, Codable, Sendable, Comparable, CustomStringConvertible {
    case bone, skin, vessels, tumor

    /// The label the structure gets in a label map.
    public var label: LabelInfo {
        switch self {
        case .bone: BonePreset.label
        case .skin: SkinPreset.label
        case .vessels: VesselPreset.label
        case .tumor: TumorPreset.label
        }
    }

    /// Where structures overlap, the later one in this order keeps the voxel (tumor, then
    /// vessels, then bone, then skin).
    public static let paintingOrder: [Preset] = [.skin, .bone, .vessels, .tumor]

    /// Presets that need a CT (values in HU).
    public var needsCT: Bool { self == .bone }

    /// Presets grown from seeds the user gives (inside the vessel or the lesion).
    public var needsSeeds: Bool { self == .vessels || self == .tumor }

    /// "bone, skin, vessels, tumor", for messages.
    public static var listed: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// "skin, vessels or tumor", for messages.
    public static func either(_ presets: [Preset]) -> String {
        presets.count < 2 ? presets.map(\.rawValue).joined()
            : presets.dropLast().map(\.rawValue).joined(separator: ", ") + " or " + presets.last!.rawValue
    }

    public var description: String { rawValue }

    public static func < (a: Preset, b: Preset) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
