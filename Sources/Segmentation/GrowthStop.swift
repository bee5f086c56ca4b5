
/// Why a preset's growth ended before the structure's own edge.
public enum GrowthStop: Sendable, Equatable {
    /// The region reached the volume limit (mL).
    case volumeLimit(ml: Double)
    /// The growth front widened from about `from` to `to` voxels, `steps` steps from the seeds
    /// (a vessel opening into tissue of the same intensity).
    case widenedFront(from: Int, to: Int, steps: Int)

    /// The warning shown for it.
    public var message: String {
        switch self {
        case .volumeLimit(let ml):
            "the region reached the volume limit of \(format(ml)) mL; growth stopped there"
        case .widenedFront(let from, let to, let steps):
            "leak guard: the growth front widened from about \(from) to \(to) voxels \(steps) steps from the seeds " +
                "(a vessel opening into tissue of the same intensity); growth stopped before it"
        }
    }
}
