import Foundation
import Pipeline

/// A use case's steps on standard error: one line redrawn in place on a terminal (a bar, the
/// percent of the whole, the stage and its counted work); elsewhere, when `lines`, one line per
/// stage ("[45%] meshing bone"), else nothing.
final class TerminalProgress: UseCaseObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let terminal = isatty(STDERR_FILENO) != 0
    private let lines: Bool
    private var lastDraw = Date.distantPast
    private var lastStage = ""
    private var drawn = false

    init(lines: Bool = false) {
        self.lines = lines
    }

    func step(_ step: UseCaseStep) {
        lock.lock()
        defer { lock.unlock() }
        let percent = Int((step.fraction * 100).rounded(.down))
        if terminal {
            let now = Date()
            guard step.stage != lastStage || step.done == step.total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 30, filled = width * percent / 100
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let counted = step.done.flatMap { done in step.total.map { " (\(done)/\($0))" } } ?? ""
            FileHandle.standardError.write(Data("\r\(bar) \(percent)% \(step.stage)\(counted)\u{1B}[K".utf8))
            drawn = true
        } else if lines && step.stage != lastStage {
            FileHandle.standardError.write(Data("[\(percent)%] \(step.stage)\n".utf8))
        }
        lastStage = step.stage
    }

    /// Clears the line before the command prints its result.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }
}

/// Runs a use case with its steps on the terminal; a failure ends the command with its message
/// (exit status 1).
func withProgress<T>(lines: Bool = false, quiet: Bool = false, _ useCase: (TerminalProgress?) throws -> T) -> T {
    let progress = quiet ? nil : TerminalProgress(lines: lines)
    do {
        let result = try useCase(progress)
        progress?.finish()
        return result
    } catch {
        progress?.finish()
        fail("\(error)")
    }
}
