import DICOM
import VolumeCore

/// One step of a use case: its stage in words ("loading", "segmenting bone (1 of 2)", "meshing
/// skin") and how far the whole use case is (0…1), with the stage's counted work when it has some.
public struct UseCaseStep: Sendable, Equatable {
    public var stage: String
    public var fraction: Double
    public var done: Int?
    public var total: Int?

    public init(_ stage: String, fraction: Double, done: Int? = nil, total: Int? = nil) {
        (self.stage, self.fraction, self.done, self.total) = (stage, min(max(fraction, 0), 1), done, total)
    }
}

/// The one protocol between a use case and the door that runs it: the use case reports its steps
/// and, between steps, asks whether it should stop (a preview replaced by a newer one, a job
/// cancelled). The terminal line of `vrprep` and the event stream of a job's process implement it.
public protocol UseCaseObserver: Sendable {
    func step(_ step: UseCaseStep)
    /// What loading the study found that the user must be told (told once, as soon as it is known).
    func loaded(_ notes: LoadNotes)
    /// True once whoever started the use case wants it to stop: it then ends at its next step
    /// with a `UseCaseFailure` that says so, writing nothing more.
    var stopRequested: Bool { get }
}

extension UseCaseObserver {
    public var stopRequested: Bool { false }
    public func loaded(_ notes: LoadNotes) {}
}

/// What loading a study found besides its series: the chosen series' warnings and every file not
/// used, each with the reason (a broken file, a file of another kind, a slice that would not decode).
public struct LoadNotes: Sendable, Equatable, Codable {
    public var warnings: [String]
    public var rejected: [Rejection]

    public init(warnings: [String] = [], rejected: [Rejection] = []) {
        (self.warnings, self.rejected) = (warnings, rejected)
    }

    /// "3 files were not used: a.dcm: reason; …" (the first `limit`), or nil when none was refused.
    public func refusals(limit: Int = 5) -> String? {
        guard !rejected.isEmpty else { return nil }
        let listed = rejected.prefix(limit).map { "\($0.path): \($0.reason)" }.joined(separator: "; ")
        let more = rejected.count > limit ? "; and \(rejected.count - limit) more" : ""
        return "\(rejected.count) file\(rejected.count == 1 ? " was" : "s were") not used: \(listed)\(more)"
    }
}

/// Why a use case did not finish, in words that name the file, the seed, the key or the stage.
public struct UseCaseFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// It stopped because its observer asked.
    public var stopped = false
    /// What went wrong as a notice, where the reader can act on it in their own language (a seed
    /// in air, a study of the wrong kind).
    public var notice: Notice?

    public init(description: String, stopped: Bool = false, notice: Notice? = nil) {
        (self.description, self.stopped, self.notice) = (description, stopped, notice)
    }
}

extension Optional where Wrapped == any UseCaseObserver {
    /// Reports a step; throws when the observer asked the use case to stop.
    func step(_ stage: String, fraction: Double, done: Int? = nil, total: Int? = nil) throws(UseCaseFailure) {
        guard let observer = self else { return }
        if observer.stopRequested { throw UseCaseFailure(description: "stopped as asked, before \(stage)", stopped: true) }
        observer.step(UseCaseStep(stage, fraction: fraction, done: done, total: total))
    }
}

extension LoadProgress {
    /// The loader's progress as a step of a use case whose loading spans `span` of the whole:
    /// reading the files fills its first half, decoding the second.
    func step(within span: ClosedRange<Double>) -> UseCaseStep {
        let half = (span.upperBound - span.lowerBound) / 2
        let start = stage == .reading ? span.lowerBound : span.lowerBound + half
        return UseCaseStep(stage.rawValue, fraction: start + half * Double(done) / Double(max(total, 1)), done: done, total: total)
    }
}
