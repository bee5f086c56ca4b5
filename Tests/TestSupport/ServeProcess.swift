import Foundation

/// `vrprep serve` as an operator runs it: a process on a free port over a data folder, which a
/// test may kill with SIGKILL and start again.
public final class ServeProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int

    public convenience init(data: URL, arguments: [String] = []) throws {
        try self.init(records: ["--data", data.path], arguments: arguments)
    }

    /// `records`: where the records are (`--data DIR`, or `--database URL --storage DIR`).
    public init(records: [String], arguments: [String] = []) throws {
        process.executableURL = CommandLineTool.executable
        process.arguments = ["serve"] + records + ["--port", "0",
                             "--shaders", Fixtures.root.appendingPathComponent("Shaders").path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // "vrprep service listening on http://127.0.0.1:PORT (data …)"
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "127.0.0.1:"), let value = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "vrprep serve did not start: '\(text)'"])
        }
        port = value
        // Keep reading, so that the service never blocks on a full pipe.
        Thread.detachNewThread { while !output.fileHandleForReading.availableData.isEmpty {} }
    }

    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    public func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// The process ids of `vrprep run-job --job ID` (a job's own process).
    public static func jobProcesses(_ id: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            guard let line = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            let words = line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains("run-job") && words.contains(id)
        }
    }

    /// Waits up to `seconds` for the job's process and freezes it (SIGSTOP) as soon as it appears,
    /// so that it cannot finish before the caller acts on it; nil if it never appeared. The watch
    /// runs on a thread of its own: under load Swift's task pool (two threads on two cores) can be
    /// busy for longer than a job lasts, and a job polled from a task could start and end unseen.
    /// Continue the process with `SIGCONT` once it should go on (or notice its parent is gone).
    public static func freezeJobProcess(_ id: String, seconds: Double = 120) async -> Int32? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let end = Date().addingTimeInterval(seconds)
                while Date() < end {
                    if let pid = jobProcesses(id).first {
                        Foundation.kill(pid, SIGSTOP)
                        continuation.resume(returning: pid)
                        return
                    }
                    usleep(5_000)
                }
                continuation.resume(returning: nil)
            }
        }
    }
}

extension ZipMaker {
    /// The bytes of a zip holding `files` as study/<name>.
    public static func study(_ files: [URL]) throws -> Data {
        let folder = try Fixtures.temporaryFolder("study-zip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let zip = folder.appendingPathComponent("study.zip")
        try make(zip, entries: try files.map { ("study/\($0.lastPathComponent)", try Data(contentsOf: $0)) })
        return try Data(contentsOf: zip)
    }
}
