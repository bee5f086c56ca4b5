import DICOM
import Foundation
import Pipeline
import ScenePackage
import VolumeCore
import ZIPFoundation

/// Checks an uploaded study archive before it is queued: a readable zip, no entry that would land
/// outside (absolute paths, `..`), not more than `maxUncompressed` bytes once inflated nor more
/// than `maxRatio` times its own size (zip bombs; the loader checks again while it inflates), and
/// at least one DICOM file ("DICM" at byte 128) among its first entries.
public enum UploadCheck {
    /// Archives below this size once inflated are never refused for their ratio (a small study of
    /// blank slices compresses well).
    static let ratioFloor: Int64 = 64 << 20

    public static func check(_ zip: URL, maxUncompressed: Int64, maxRatio: Double = 100) -> String? {
        let size = (try? FileManager.default.attributesOfItem(atPath: zip.path)[.size] as? Int64) ?? 0
        let archive: Archive
        do {
            archive = try Archive(url: zip, accessMode: .read)
        } catch {
            return "not a readable zip archive (send the study as application/zip)"
        }
        var total: Int64 = 0, entries = 0
        for entry in archive {
            let path = entry.path
            if path.hasPrefix("/") || path.split(separator: "/").contains("..") || path.contains("\\") {
                return "entry '\(path)' would be written outside the study folder"
            }
            guard entry.type != .symlink else { return "entry '\(path)' is a symbolic link" }
            total += Int64(entry.uncompressedSize)
            if total > maxUncompressed {
                return "the archive inflates past \(maxUncompressed / (1 << 20)) MiB (a zip bomb?)"
            }
            if total > ratioFloor, Double(total) > maxRatio * Double(max(size, 1)) {
                return "the archive of \(size >> 20) MiB inflates to more than \(Int(maxRatio))× its size (a zip bomb?)"
            }
            if entry.type == .file { entries += 1 }
        }
        guard entries > 0 else { return "the archive holds no file" }
        return firstDICOM(archive)
    }

    /// A folder of files (a form's parts): nil when a DICOM file is among its first 64 files.
    public static func check(folder: URL) -> String? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted().prefix(64)
        for name in names {
            guard let handle = FileHandle(forReadingAtPath: folder.appendingPathComponent(name).path) else { continue }
            defer { try? handle.close() }
            if let head = try? handle.read(upToCount: 132), head.count == 132, head[128..<132] == Data("DICM".utf8) { return nil }
        }
        return "no DICOM file found (no 'DICM' marker in the first \(names.count) files)"
    }

    private static func firstDICOM(_ archive: Archive) -> String? {
        // Look for a DICOM file among the first entries (reading at most 132 bytes of each).
        struct Found: Error {}
        var looked = 0
        for entry in archive where entry.type == .file && looked < 64 {
            looked += 1
            var head = Data()
            do {
                _ = try archive.extract(entry, bufferSize: 4096, skipCRC32: true) { chunk in
                    head.append(chunk)
                    if head.count >= 132 { throw Found() }
                }
            } catch is Found {
            } catch {
                return "entry '\(entry.path)' cannot be read (\(error))"
            }
            if head.count >= 132, head[128..<132] == Data("DICM".utf8) { return nil }
        }
        return "no DICOM file found (no 'DICM' marker in the first \(looked) files)"
    }
}

/// N worker threads that take queued jobs, run each in a child process (`JobProcess`), and
/// publish its package into the content-addressed folder only once it is complete.
public final class JobRunner: @unchecked Sendable {
    let store: any ServiceRecords
    let options: Pipeline.Options
    let workers: Int
    let process: JobProcess
    let retention: Retention
    private let lock = NSCondition()
    private var stopping = false
    private var running = 0

    /// `executable`: the `vrprep` binary whose `run-job` command runs one job.
    public init(store: any ServiceRecords, options: Pipeline.Options, workers: Int, executable: URL, limits: JobLimits,
                retention: Retention = Retention()) {
        self.store = store
        self.options = options
        self.workers = max(0, workers)
        self.process = JobProcess(executable: executable, limits: limits)
        self.retention = retention
    }

    /// Starts the workers (none: only the retention sweeps, on an API node whose jobs other
    /// nodes run).
    public func start() {
        for n in 0..<max(workers, 1) {
            spawn("vrprep.worker.\(n)") { [self] in loop(sweeps: n == 0, claims: workers > 0) }
        }
        spawn("vrprep.leases") { [self] in keepLeases() }
    }

    /// A thread that `stop` waits for: counted as running before it starts, so a stop that
    /// comes at once still waits for it.
    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        lock.lock()
        running += 1
        lock.unlock()
        let thread = Thread { [self] in
            body()
            lock.lock()
            running -= 1
            lock.broadcast()
            lock.unlock()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// While the workers run: renews this node's leases (a third of their time apart) and puts
    /// back in the queue the jobs of nodes that stopped renewing theirs (their machine died).
    private func keepLeases() {
        let interval = max(0.2, store.leaseSeconds / 3)
        var last = Date.distantPast
        while !isStopping {
            if Date().timeIntervalSince(last) >= interval {
                _ = try? store.renewLeases()
                _ = try? store.requeueExpiredLeases()
                last = Date()
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Stops the workers: a running job's process is ended and the job goes back to the queue
    /// (this stop does not count as one of its attempts).
    public func stop() {
        lock.lock()
        stopping = true
        while running > 0 { lock.wait() }
        lock.unlock()
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Takes and runs jobs until stopped (when it `claims`); the first worker also applies
    /// retention every ten minutes.
    private func loop(sweeps: Bool, claims: Bool) {
        var lastSweep = Date.distantPast
        while !isStopping {
            if sweeps, Date().timeIntervalSince(lastSweep) > 600 {
                retention.sweep(store)
                retention.sweepStudies(store)
                lastSweep = Date()
            }
            guard claims else {
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            guard let job = try? store.claimJob() else {
                // Until a job is queued (PostgreSQL tells every node at once; SQLite: 0.2 s).
                store.waitForJobs(timeout: 1)
                continue
            }
            run(job)
            if let ended = try? store.job(job.id), ended.state != .queued { retention.jobEnded(ended, folders: store.folders) }
        }
    }

    func run(_ job: ServiceStore.Job) {
        let folders = store.folders
        let staging = folders.staging.appendingPathComponent(job.id)
        try? FileManager.default.removeItem(at: staging)
        defer { try? FileManager.default.removeItem(at: staging) }
        let store = self.store
        let last = LastProgress()
        // A study is a zip (an upload) or a folder (instances received by DICOM, files of a form).
        let input = folders.study(job.studyID ?? job.id)
        guard FileManager.default.fileExists(atPath: input.path) else {
            try? store.finish(job: job.id, packageID: nil, error: "its study was deleted before the job ran")
            return
        }
        var options = self.options
        // A segmentation sent with the job: the scene is made from it.
        if let labels = job.labels {
            options.labels = folders.segmentation(job.id).appendingPathComponent(labels).path
            options.labelNames = job.labelNames.flatMap { try? JSONDecoder().decode([Int: String].self, from: Data($0.utf8)) }
            options.recipe = nil
        }
        if let name = job.profile, let profile = SceneProfile(rawValue: name) {
            options.profile = profile
        }
        do {
            if let recipe = job.recipe {
                options.recipe = try Recipe.parse(Data(recipe.utf8), source: job.callingAE.map { "the recipe of DICOM peer \($0)" } ?? "the job's recipe")
            }
        } catch {
            try? store.finish(job: job.id, packageID: nil, error: "\(error)")
            return
        }
        let spec = JobSpec(job: job.id, input: input.path, out: staging.path, options: options)
        let outcome = process.run(spec, progress: { stage, percent in
            if last.changed(stage, percent) { try? store.progress(job: job.id, stage: stage, percent: percent) }
        }, noted: { notes in
            try? store.note(job: job.id, notes: Self.scrubbed(notes, input: input, folders: folders))
        }, shouldCancel: { (try? store.job(job.id))?.state == .cancelled }, stopping: { isStopping })
        // A segmentation sent with the job goes once the job has ended (kept when a stop interrupts it).
        if outcome != .interrupted { try? FileManager.default.removeItem(at: folders.segmentation(job.id)) }
        switch outcome {
        case .cancelled:
            return
        case .interrupted:
            try? store.release(job: job.id)
        case .failed(let message):
            // (A segmentation sent with the job is named by its file name, not the server's path.)
            let named = message.replacingOccurrences(of: folders.segmentation(job.id).path + "/", with: "")
            try? store.finish(job: job.id, packageID: nil, error: Self.scrubbed(named, input: input, folders: folders))
        case .done:
            do {
                // The package id is the manifest's, read here rather than taken on the child's word.
                guard let id = try PackageStore.read(staging).packageID else {
                    throw ServiceFailure("the job's package has no id")
                }
                let target = folders.package(id)
                if !FileManager.default.fileExists(atPath: target.path) {
                    try FileManager.default.moveItem(at: staging, to: target)
                }
                if !FileManager.default.fileExists(atPath: folders.archive(id).path) {
                    try PackageStore.writeArchive(of: target)
                }
                try store.addPackage(id: id, owner: job.owner, job: job.id)
                try store.finish(job: job.id, packageID: id, error: nil)
                // A study from a DICOM peer that names where its results go: they go back.
                if job.sourceKind == "dicom", let ae = job.callingAE, let target = try? store.dicomPeer(ae)?.returnTo {
                    try? store.scheduleReturn(job: job.id, to: target)
                }
            } catch {
                try? store.finish(job: job.id, packageID: nil,
                                  error: Self.scrubbed("publishing the package: \(error)", input: input, folders: folders))
            }
        }
    }

    /// A job's notes as its sender sees them: files named inside the study, not on the server.
    static func scrubbed(_ notes: LoadNotes, input: URL, folders: BlobFolders) -> LoadNotes {
        var notes = notes
        notes.rejected = notes.rejected.map { rejection in
            var path = rejection.path
            for prefix in [input.path + ":", input.path + "/", input.path] where path.hasPrefix(prefix) {
                path = String(path.dropFirst(prefix.count))
                break
            }
            return Rejection(path: path.isEmpty ? "the study" : scrubbed(path, input: input, folders: folders),
                             reason: scrubbed(rejection.reason, input: input, folders: folders))
        }
        notes.warnings = notes.warnings.map { scrubbed($0, input: input, folders: folders) }
        return notes
    }

    /// A job's error as its sender sees it: the server's own paths replaced by what they are.
    static func scrubbed(_ message: String, input: URL, folders: BlobFolders) -> String {
        message.replacingOccurrences(of: input.path, with: "the study")
            .replacingOccurrences(of: folders.root.path, with: "[service data]")
    }
}

struct ServiceFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Progress lines are written to the database only when the stage or the percent changes.
final class LastProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var stage = "", percent = -1

    func changed(_ newStage: String, _ newPercent: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard newStage != stage || newPercent != percent else { return false }
        (stage, percent) = (newStage, newPercent)
        return true
    }
}
