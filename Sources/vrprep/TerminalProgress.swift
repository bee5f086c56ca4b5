import DICOM
import Foundation

/// A one-line progress display on standard error, shown only when it is a terminal.
final class TerminalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var lastText = ""

    /// nil when standard error is not a terminal (no progress is drawn then).
    init?() {
        guard isatty(STDERR_FILENO) != 0 else { return nil }
    }

    func update(_ progress: LoadProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard progress.done == progress.total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let percent = progress.total > 0 ? progress.done * 100 / progress.total : 100
        let width = 30, filled = width * percent / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        lastText = "\(progress.stage.rawValue) \(bar) \(percent)% (\(progress.done)/\(progress.total))"
        FileHandle.standardError.write(Data(("\r" + lastText + "\u{1B}[K").utf8))
    }

    /// A status line (replaces the bar).
    func say(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        lastText = text
        FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if !lastText.isEmpty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
