/// A note to the reader about a result (a preset's warning) or a refusal (a seed in air): what it
/// is, as a code and named values, so that a page can say it in the reader's language, and its
/// English text.
public struct Notice: Sendable, Hashable, Codable, CustomStringConvertible {
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

    public enum Code: String, Sendable, CaseIterable, Codable {
        // Tumor.
        case lowContrast, leakGuardLimit, lesionFades
        // Region growing.
        case volumeLimitWaves
        // Bone.
        case tableOnly, tableLeftOut, metal, contrastLeftOut
        // Vessels.
        case windowRaised, volumeLimit, widenedFront, seedInBone, chambersCut, fewVoxels
        // Refusals: any preset.
        case noSeeds, seedOutsideVolume, seedOutsideInterval, emptyInterval, wrongModality
        // Refusals: bone and skin.
        case seedInContrast, noBoneSeed, noBone, noBodyOutline, noBody
        // Refusals: tumor.
        case radiusNotPositive, seedInAir, seedInCalcification, tooFaint, raysMetBone, seedOnSurroundings, unbounded
        // Refusals: vessels.
        case seedBelowWindow, seedOutsideWindow, seedNearBright, notContrastBlood
        // Defacing.
        case faceRemoved, noFace, seedInFace

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
            case .noSeeds: []
            case .seedOutsideVolume: ["seed", "dimensions"]
            case .seedOutsideInterval: ["seed", "value", "lower", "upper"]
            case .emptyInterval: ["lower", "upper"]
            case .wrongModality: ["structure", "expected", "found"]
            case .seedInContrast: ["seed"]
            case .noBoneSeed: ["level"]
            case .noBone: ["lower", "upper"]
            case .noBodyOutline, .noBody: ["threshold"]
            case .radiusNotPositive: ["radius"]
            case .seedInAir, .seedInCalcification: ["seed", "mean"]
            case .tooFaint: ["seed", "inside", "outside", "noise", "ratio", "needed", "edges", "rays"]
            case .raysMetBone: ["seed", "hu", "distanceMM"]
            case .seedOnSurroundings: ["seed", "value", "lower", "upper"]
            case .unbounded: ["seed", "ml", "outlinedML"]
            case .seedBelowWindow, .seedOutsideWindow: ["seed", "value", "low", "high"]
            case .seedNearBright: ["seed", "marginMM", "upper"]
            case .notContrastBlood: ["seed", "mean"]
            case .faceRemoved: ["ml"]
            case .noFace: ["prominenceMM"]
            case .seedInFace: ["seed"]
            }
        }
    }
}
