import Foundation
import Pipeline
import ScenePackage
import VolumeCore

/// A job runs in a child process (`vrprep run-job`), so that whatever it meets (a trap on an
/// absurd number, a signal, the kernel's out-of-memory killer, an endless loop) ends that job
/// alone: the HTTP server, the DICOM receiver and the other jobs never notice.
///
/// The parent writes one `JobSpec` line to the child's standard input and keeps that pipe open;
/// the child answers with `JobEvent` lines on its standard output (progress, then the package or
/// the error). When the parent dies, the pipe closes and the child stops at once (no orphans
/// writing into a folder that a restarted service is using again).
public struct JobSpec: Codable, Sendable {
    /// The job's id, for messages only.
    public var job: String
    /// The study: an uploaded zip or a folder of received instances.
    public var input: String
    /// The staging folder to write the package to.
    public var out: String
    public var options: Pipeline.Options

    public init(job: String, input: String, out: String, options: Pipeline.Options) {
        self.job = job
        self.input = input
        self.out = out
        self.options = options
    }
}

/// One line of a job's child process: a progress step, the package written, or why it failed.
public struct JobEvent: Codable, Sendable, Equatable {
    public var stage: String?
    public var percent: Int?
    /// What loading the study found: its warnings and the files not used.
    public var notes: LoadNotes?
    public var packageID: String?
    public var error: String?

    public init(stage: String? = nil, percent: Int? = nil, notes: LoadNotes? = nil, packageID: String? = nil, error: String? = nil) {
        (self.stage, self.percent, self.notes, self.packageID, self.error) = (stage, percent, notes, packageID, error)
    }
}

/// Limits on one job's child process.
public struct JobLimits: Sendable {
    /// Resident memory the child may use (bytes); beyond, it is killed. Default: 75 % of the machine.
    public var memoryBytes: Int
    /// Wall-clock time (seconds); beyond, it is killed. Default: 30 minutes.
    public var seconds: Double

    public init(memoryBytes: Int? = nil, seconds: Double = 1800) {
        self.memoryBytes = memoryBytes ?? Int(clamping: ProcessInfo.processInfo.physicalMemory / 4 * 3)
        self.seconds = seconds
    }
}

/// The child's side: reads the spec, runs the pipeline, says what happened. Returns the exit status.
public enum JobChild {
    public static func run() -> Int32 {
        let output = FileHandle.standardOutput
        let lock = NSLock()
        @Sendable func say(_ event: JobEvent) {
            guard let data = try? JSONEncoder().encode(event) else { return }
            lock.lock()
            output.write(data + Data("\n".utf8))
            lock.unlock()
        }
        guard let line = readLine(strippingNewline: true),
              let spec = try? JSONDecoder().decode(JobSpec.self, from: Data(line.utf8)) else {
            say(JobEvent(error: "the job's description could not be read"))
            return 2
        }
        // The parent keeps standard input open while it lives: end of input means it is gone.
        let watcher = Thread {
            while readLine() != nil {}
            _exit(3)
        }
        watcher.start()
        do {
            let result = try Pipeline(options: spec.options).run(study: [spec.input], out: URL(fileURLWithPath: spec.out),
                                                                 observer: JobEvents(say: say))
            say(JobEvent(packageID: result.manifest.packageID ?? ""))
            return 0
        } catch {
            say(JobEvent(error: error.description))
            return 1
        }
    }
}

/// The child's steps, told to the parent as `JobEvent` lines.
private struct JobEvents: UseCaseObserver {
    let say: @Sendable (JobEvent) -> Void

    func step(_ step: UseCaseStep) {
        say(JobEvent(stage: step.stage, percent: Int(step.fraction * 100)))
    }

    func loaded(_ notes: LoadNotes) {
        say(JobEvent(notes: notes))
    }
}

/// The parent's side: starts `executable run-job`, follows its events, enforces the limits and
/// cancellation, and says how it ended.
struct JobProcess {
    enum Outcome: Equatable {
        case done(packageID: String)
        case failed(String)
        /// Cancelled by its owner, or stopped because the service is stopping.
        case cancelled
        case interrupted
    }

    var executable: URL
    var limits: JobLimits

    /// Runs `spec`; `progress(stage, percent)` for each step, `noted` once the study is loaded;
    /// `shouldCancel` is asked about once a second, `stopping` every tenth of one.
    func run(_ spec: JobSpec, progress: @escaping @Sendable (String, Int) -> Void, noted: @escaping @Sendable (LoadNotes) -> Void = { _ in },
             shouldCancel: () -> Bool, stopping: () -> Bool) -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["run-job", "--job", spec.job]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return .failed("the job could not be started (\(executable.path): \(error.localizedDescription))")
        }
        let events = EventReader()
        let readers = DispatchGroup()
        readers.enter()
        Thread.detachNewThread {
            events.read(output.fileHandleForReading, progress: progress, noted: noted)
            readers.leave()
        }
        readers.enter()
        Thread.detachNewThread {
            events.readErrors(errors.fileHandleForReading)
            readers.leave()
        }
        if let data = try? JSONEncoder().encode(spec) {
            try? input.fileHandleForWriting.write(contentsOf: data + Data("\n".utf8))
        }

        let start = DispatchTime.now().uptimeNanoseconds
        var killedFor: String?
        var ended: Outcome?
        var tick = 0
        while process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
            tick += 1
            guard killedFor == nil, ended == nil else { continue }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds > limits.seconds {
                killedFor = "it ran past the time limit of \(Self.duration(limits.seconds))"
                kill(process.processIdentifier, SIGKILL)
            } else if let resident = Self.residentBytes(of: String(process.processIdentifier)), resident > limits.memoryBytes {
                killedFor = "it used more than the memory limit of \(limits.memoryBytes >> 20) MB"
                kill(process.processIdentifier, SIGKILL)
            } else if stopping() {
                ended = .interrupted
                kill(process.processIdentifier, SIGKILL)
            } else if tick % 10 == 0, shouldCancel() {
                ended = .cancelled
                kill(process.processIdentifier, SIGKILL)
            }
        }
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        readers.wait()
        if let ended { return ended }

        let stage = events.lastStage.map { " while \($0)" } ?? ""
        if let killedFor { return .failed("the job was stopped\(stage): \(killedFor); not retried") }
        if process.terminationReason == .uncaughtSignal {
            let signal = process.terminationStatus
            return .failed("the job stopped with signal \(signal) (\(Self.signalName(signal)))\(stage); not retried")
        }
        if let error = events.error { return .failed(error) }
        if process.terminationStatus == 0, let id = events.packageID { return .done(packageID: id) }
        let detail = events.lastErrorLine.map { ": \($0)" } ?? ""
        return .failed("the job's process ended with status \(process.terminationStatus)\(stage)\(detail); not retried")
    }

    static func duration(_ seconds: Double) -> String {
        seconds >= 120 ? "\(Int(saturating: (seconds / 60).rounded())) min" : "\(Int(saturating: seconds.rounded())) s"
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGKILL: "SIGKILL, killed, perhaps for lack of memory", SIGTRAP: "SIGTRAP, a trap in the program",
                                      SIGILL: "SIGILL, a trap in the program", SIGSEGV: "SIGSEGV, a memory fault",
                                      SIGBUS: "SIGBUS, a memory fault", SIGABRT: "SIGABRT, aborted", SIGTERM: "SIGTERM, terminated",
                                      SIGFPE: "SIGFPE, an arithmetic fault"]
        return names[signal] ?? "a signal"
    }

    /// Resident memory of a process ("self" or a pid), from /proc/PID/statm.
    static func residentBytes(of pid: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// What the child said, read on a thread of its own.
private final class EventReader: @unchecked Sendable {
    private let lock = NSLock()
    private var stage: String?
    private var package: String?
    private var failure: String?
    private var errorTail = Data()

    var lastStage: String? { lock.withLock { stage } }
    var packageID: String? { lock.withLock { package } }
    var error: String? { lock.withLock { failure } }
    /// The last line the child wrote on standard error (a trap's message, for instance).
    var lastErrorLine: String? {
        lock.withLock {
            String(decoding: errorTail, as: UTF8.self).split(separator: "\n").last.map { String($0.prefix(300)) }
        }
    }

    func read(_ handle: FileHandle, progress: @Sendable (String, Int) -> Void, noted: @Sendable (LoadNotes) -> Void) {
        var pending = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[pending.index(after: newline)...])
                guard let event = try? JSONDecoder().decode(JobEvent.self, from: line) else { continue }
                lock.withLock {
                    if let s = event.stage { stage = s }
                    if let p = event.packageID { package = p }
                    if let e = event.error { failure = e }
                }
                if let s = event.stage, let p = event.percent { progress(s, p) }
                if let notes = event.notes { noted(notes) }
            }
        }
    }

    func readErrors(_ handle: FileHandle) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            lock.withLock {
                errorTail.append(chunk)
                if errorTail.count > 8192 { errorTail = Data(errorTail.suffix(4096)) }
            }
        }
    }
}
