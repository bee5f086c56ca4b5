import Foundation
import Pipeline
import struct VolumeCore.Notice

/// A study opened for the workstation lives in a process of its own (`vrprep study-worker`): it
/// loads the series once and answers slices, values and previews, one request at a time, as JSON
/// lines on its standard input and output. Whatever a preview meets (a trap, the memory killer)
/// ends that process alone: the request is told so and the next one starts a fresh process.
struct WorkerRequest: Codable, Sendable {
    enum Kind: String, Codable, Sendable {
        case slice, voxel, preview, labels, values
    }

    var kind: Kind
    var orientation: OpenStudy.Orientation?
    var index: Int?
    /// Width and level.
    var window: [Double]?
    var preview: String?
    /// A slice's image format (default PNG).
    var format: OpenStudy.SliceFormat?
    var mm: [Double]?
    /// Two corners of a rectangle on a slice (image pixels: x0, y0, x1, y1).
    var rectangle: [Int]?
    /// The recipe as its JSON text (read by `Pipeline.recipe(parsing:)`, which names what is wrong).
    var recipe: String?
}

struct WorkerAnswer: Codable, Sendable {
    /// The first line: the study is open (or `error`).
    var ready: Bool?
    /// A slice's image, in the format asked for.
    var image: Data?
    var spacingMM: [Double]?
    var index: [Int]?
    var value: Double?
    /// A preview, as its JSON (encoded by the child, passed on as it is).
    var preview: Data?
    var nifti: Data?
    var values: OpenStudy.RegionValues?
    var error: String?
    /// With an error: the HTTP status it stands for.
    var status: Int?
    /// With an error: what it says as a notice (for the reader's language).
    var notice: Notice?
}

/// The child's side: opens the study, then answers each request line until its input ends.
public enum StudyWorkerChild {
    public static func run(study: String, threads: Int?) -> Int32 {
        let output = FileHandle.standardOutput
        func say(_ answer: WorkerAnswer) {
            guard let data = try? JSONEncoder().encode(answer) else { return }
            output.write(data + Data("\n".utf8))
        }
        let open: OpenStudy
        do {
            open = try OpenStudy([study], threads: threads)
        } catch {
            say(WorkerAnswer(error: error.description, status: 422))
            return 1
        }
        say(WorkerAnswer(ready: true))
        while let line = readLine(strippingNewline: true) {
            guard let request = try? JSONDecoder().decode(WorkerRequest.self, from: Data(line.utf8)) else {
                say(WorkerAnswer(error: "not a request", status: 400))
                continue
            }
            say(answer(request, open))
        }
        return 0
    }

    static func answer(_ request: WorkerRequest, _ open: OpenStudy) -> WorkerAnswer {
        do {
            switch request.kind {
            case .slice:
                guard let orientation = request.orientation, let index = request.index else { return WorkerAnswer(error: "which slice?", status: 400) }
                let window = request.window.flatMap { $0.count == 2 ? (width: $0[0], level: $0[1]) : nil }
                do {
                    let (image, spacing) = try open.slice(orientation, index: index, window: window, preview: request.preview,
                                                          format: request.format ?? .png)
                    return WorkerAnswer(image: image, spacingMM: spacing)
                } catch {
                    return WorkerAnswer(error: error.description, status: 404)
                }
            case .voxel:
                guard let mm = request.mm, mm.count == 3 else { return WorkerAnswer(error: "mm must be x,y,z", status: 400) }
                guard let found = open.voxel(mm: SIMD3(mm[0], mm[1], mm[2])) else {
                    return WorkerAnswer(error: "\(mm.map(plainNumber).joined(separator: ", ")) mm lies outside the volume", status: 404)
                }
                return WorkerAnswer(index: found.index, value: found.value)
            case .preview:
                let recipe: Recipe
                do {
                    recipe = try Pipeline.recipe(parsing: Data((request.recipe ?? "").utf8))
                } catch {
                    return WorkerAnswer(error: "\(error)", status: 400)
                }
                let preview = try open.preview(recipe)
                return WorkerAnswer(preview: try JSONEncoder().encode(preview))
            case .values:
                guard let orientation = request.orientation, let index = request.index, let r = request.rectangle, r.count == 4 else {
                    return WorkerAnswer(error: "which slice and rectangle?", status: 400)
                }
                do {
                    return WorkerAnswer(values: try open.values(orientation, index: index, from: (r[0], r[1]), to: (r[2], r[3])))
                } catch {
                    return WorkerAnswer(error: error.description, status: 404)
                }
            case .labels:
                do {
                    return WorkerAnswer(nifti: try open.previewLabels(request.preview ?? ""))
                } catch {
                    return WorkerAnswer(error: error.description, status: 404)
                }
            }
        } catch {
            // A preset that cannot segment what it was given (a seed in air, no boundary): the caller's to change.
            return WorkerAnswer(error: "\(error)", status: 422, notice: (error as? UseCaseFailure)?.notice)
        }
    }
}

/// The parent's side: one worker process per open study (at most `maxWorkers`, the least
/// recently used closed first; one idle for `idleSeconds` closes at the next request).
final class StudyWorkers: @unchecked Sendable {
    let executable: URL
    let maxWorkers: Int
    let idleSeconds: Double
    private let lock = NSLock()
    private var workers: [String: Worker] = [:]

    init(executable: URL, maxWorkers: Int = 4, idleSeconds: Double = 600) {
        (self.executable, self.maxWorkers, self.idleSeconds) = (executable, maxWorkers, idleSeconds)
    }

    /// Asks the study's worker (starting it when needed); a worker that died is told as an error
    /// and forgotten, so that the next request starts a fresh one.
    func ask(study id: String, files: URL, _ request: WorkerRequest) async -> WorkerAnswer {
        let worker = lock.withLock { () -> Worker in
            let now = Date()
            for (key, idle) in workers where now.timeIntervalSince(idle.lastUsed) > idleSeconds {
                idle.stop()
                workers[key] = nil
            }
            if let running = workers[id] { return running }
            if workers.count >= maxWorkers, let oldest = workers.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                oldest.value.stop()
                workers[oldest.key] = nil
            }
            let started = Worker(executable: executable, study: files)
            workers[id] = started
            return started
        }
        let answer = await offLoop { worker.ask(request) }
        if answer.status == 500 { forget(id, worker) }
        return answer
    }

    /// Closes a study's worker (the study was deleted).
    func close(study id: String) {
        lock.withLock { workers.removeValue(forKey: id) }?.stop()
    }

    func closeAll() {
        lock.withLock { () -> [Worker] in
            defer { workers.removeAll() }
            return Array(workers.values)
        }.forEach { $0.stop() }
    }

    private func forget(_ id: String, _ worker: Worker) {
        lock.withLock { if workers[id] === worker { workers[id] = nil } }
        worker.stop()
    }

    /// One worker process: requests go one at a time (a lock held from writing the request to
    /// reading its answer).
    final class Worker: @unchecked Sendable {
        private let process = Process()
        private let input = Pipe(), output = Pipe()
        private let lock = NSLock()
        private var pending = Data()
        private var opened: WorkerAnswer?
        private var started = false
        private(set) var lastUsed = Date()
        let study: URL

        init(executable: URL, study: URL) {
            self.study = study
            process.executableURL = executable
            process.arguments = ["study-worker", "--study", study.path, "--threads", "2"]
            // Each preview allocates and frees grids of the volume's size. Kept in the worker's heap
            // (glibc: never mapped and unmapped, never trimmed), they are reused instead of being
            // zeroed again by the kernel at every preview; the worker holds its peak memory until it closes.
            var environment = ProcessInfo.processInfo.environment
            environment["MALLOC_MMAP_MAX_"] = "0"
            environment["MALLOC_TRIM_THRESHOLD_"] = String(Int.max / 2)
            process.environment = environment
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
        }

        func ask(_ request: WorkerRequest) -> WorkerAnswer {
            lock.lock()
            defer { lock.unlock() }
            lastUsed = Date()
            if !started {
                started = true
                do {
                    try process.run()
                } catch {
                    return WorkerAnswer(error: "the study's reader could not start: \(error.localizedDescription)", status: 500)
                }
                opened = readAnswer()
            }
            guard let opened, opened.ready == true else {
                let reason = opened?.error ?? "its process stopped (\(stopReason()))"
                return WorkerAnswer(error: "the study cannot be opened: \(reason)", status: opened?.status ?? 500)
            }
            guard let line = try? JSONEncoder().encode(request), (try? input.fileHandleForWriting.write(contentsOf: line + Data("\n".utf8))) != nil else {
                return WorkerAnswer(error: "the study's reader stopped (\(stopReason())): try again", status: 500)
            }
            // A request that runs past its time ends the process (and so the wait).
            let process = self.process
            let timer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.requestSeconds, execute: timer)
            defer { timer.cancel() }
            guard let answer = readAnswer() else {
                return WorkerAnswer(error: "the study's reader stopped (\(stopReason())): try again", status: 500)
            }
            lastUsed = Date()
            return answer
        }

        /// The longest a request may take (a preview of a large study takes seconds).
        static let requestSeconds = 300.0

        /// The next answer line; nil when the process's output ended.
        private func readAnswer() -> WorkerAnswer? {
            while true {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    guard let answer = try? JSONDecoder().decode(WorkerAnswer.self, from: line) else {
                        stop()
                        return WorkerAnswer(error: "the study's reader answered something unreadable", status: 500)
                    }
                    return answer
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                pending.append(chunk)
            }
        }

        private func stopReason() -> String {
            guard started else { return "not started" }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            if started && process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }
}
