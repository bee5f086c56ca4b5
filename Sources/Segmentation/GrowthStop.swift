import VolumeCore


/// Why a preset's growth ended before the structure's own edge.
public enum GrowthStop: Sendable, Equatable {
    /// The region reached the volume limit (mL).
    case volumeLimit(ml: Double)
    /// The growth front widened from about `from` to `to` voxels, `steps` steps from the seeds
    /// (a vessel opening into tissue of the same intensity).
    case widenedFront(from: Int, to: Int, steps: Int)

    /// The warning shown for it.
    public var message: String { notice.text }

    /// The warning shown for it, as a notice.
    public var notice: Notice {
        switch self {
        case .volumeLimit(let ml):
            Notice(.volumeLimit, ["limitML": format(ml)], text: "the region reached the volume limit of \(format(ml)) mL; growth stopped there")
        case .widenedFront(let from, let to, let steps):
            Notice(.widenedFront, ["from": String(from), "to": String(to), "steps": String(steps)],
                   text: "leak guard: the growth front widened from about \(from) to \(to) voxels \(steps) steps from the seeds " +
                       "(a vessel opening into tissue of the same intensity); growth stopped before it")
        }
    }
}
