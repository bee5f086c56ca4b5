/// A note to the reader about a result (a preset's warning): what it is, as a code and named
/// values, so that a page can say it in the reader's language, and its English text.
public struct Notice: Sendable, Hashable, Encodable, CustomStringConvertible {
    public let code: Code
    /// The values the text names, already written as the text writes them.
    public let values: [String: String]
    public let text: String

    public init(_ code: Code, _ values: [String: String] = [:], text: String) {
        assert(Set(values.keys) == Set(code.parameters), "notice \(code.rawValue) takes \(code.parameters), got \(values.keys.sorted())")
        self.code = code
        self.values = values
        self.text = text
    }

    public var description: String { text }

    public enum Code: String, Sendable, CaseIterable, Encodable {
        // Tumor.
        case lowContrast, leakGuardLimit, lesionFades
        // Region growing.
        case volumeLimitWaves
        // Bone.
        case tableOnly, tableLeftOut, metal, contrastLeftOut
        // Vessels.
        case windowRaised, volumeLimit, widenedFront, seedInBone, chambersCut, fewVoxels

        /// The names of the values its text takes.
        public var parameters: [String] {
            switch self {
            case .lowContrast: ["lesion", "surroundings"]
            case .leakGuardLimit: ["limitMM"]
            case .lesionFades: ["level", "edge"]
            case .volumeLimitWaves: ["limitML", "waves", "connectedML"]
            case .tableOnly: []
            case .tableLeftOut: ["count", "voxels"]
            case .metal: ["ml", "metalHU", "position", "upper"]
            case .contrastLeftOut: ["ml", "pools"]
            case .windowRaised: ["low", "floor", "fromML", "toML"]
            case .volumeLimit: ["limitML"]
            case .widenedFront: ["from", "to", "steps"]
            case .seedInBone: ["marginMM"]
            case .chambersCut: ["ml"]
            case .fewVoxels: ["voxels", "low", "high"]
            }
        }
    }
}
