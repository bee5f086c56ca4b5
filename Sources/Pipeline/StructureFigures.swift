/// What a preset measured, by name: the `figures` of a structure in `vrprep segment --json`
/// (written flat, the preset's own fields only). The skin and an expert region have none.
public enum StructureFigures: Sendable, Equatable, Encodable {
    case bone(Bone)
    case vessels(Vessels)
    case tumor(Tumor)

    public struct Bone: Sendable, Equatable, Encodable {
        /// Voxels at or above the seed level that started growth, and that level (HU).
        public var automaticSeedVoxels: Int
        public var seedLevelHU: Double
        /// Metal above the metal level (an implant), and contrast-filled blood left out (mL).
        public var metalML: Double?
        public var contrastExcludedML: Double?
    }

    public struct Vessels: Sendable, Equatable, Encodable {
        /// Growth waves, voxels left out next to brighter voxels and as bone, heart chambers cut (mL).
        public var waves: Int
        public var edgeVoxelsExcluded: Int
        public var boneVoxelsExcluded: Int
        public var chambersRemovedML: Double
        /// The blood's median around the seeds.
        public var seedMedian: Double?
    }

    public struct Tumor: Sendable, Equatable, Encodable {
        public var maximalDiameterMM: Double
        /// The seeds' neighbourhood: mean, σ and voxels; the lesion's mean; the surroundings' median.
        public var seedMean: Double
        public var seedSigma: Double
        public var seedVoxels: Int
        public var lesionMean: Double
        public var surroundingMedian: Double
        /// The growth limit (mm from a seed) and whether the region reached it.
        public var limitMM: Double
        public var reachedLimit: Bool
        /// The rays' edge: its radius and extent (mm), and how many of the rays found one.
        public var edgeRadiusMM: Double
        public var edgeExtentMM: Double
        public var raysWithEdge: Int
        public var rays: Int
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .bone(let figures): try figures.encode(to: encoder)
        case .vessels(let figures): try figures.encode(to: encoder)
        case .tumor(let figures): try figures.encode(to: encoder)
        }
    }

    public var bone: Bone? { if case .bone(let figures) = self { figures } else { nil } }
    public var tumor: Tumor? { if case .tumor(let figures) = self { figures } else { nil } }
}
