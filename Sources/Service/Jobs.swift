import Foundation
import Pipeline
import ScenePackage
import Segmentation
import VolumeCore
import ZIPFoundation

/// Checks an uploaded study archive before it is queued: a readable zip, no entry that would land
/// outside (absolute paths, `..`), not more than `maxUncompressed` bytes once inflated (zip bombs),
/// and at least one DICOM file ("DICM" at byte 128) among its first entries.
public enum UploadCheck {
    public static func check(_ zip: URL, maxUncompressed: Int64) -> String? {
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
            if entry.type == .file { entries += 1 }
        }
        guard entries > 0 else { return "the archive holds no file" }
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

/// N worker threads that take queued jobs, run the pipeline off the event loops, and publish
/// each package into the content-addressed folder only once it is complete.
public final class JobRunner: @unchecked Sendable {
    let store: any ServiceRecords
    let options: Pipeline.Options
    let workers: Int
    private let lock = NSCondition()
    private var stopping = false
    private var running = 0

    public init(store: any ServiceRecords, options: Pipeline.Options, workers: Int) {
        self.store = store
        self.options = options
        self.workers = max(1, workers)
    }

    public func start() {
        for n in 0..<workers {
            let thread = Thread { [self] in self.loop() }
            thread.name = "vrprep.worker.\(n)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Asks the workers to stop after their current job and waits for them.
    public func stop() {
        lock.lock()
        stopping = true
        while running > 0 { lock.wait() }
        lock.unlock()
    }

    private func loop() {
        lock.lock()
        running += 1
        lock.unlock()
        defer {
            lock.lock()
            running -= 1
            lock.broadcast()
            lock.unlock()
        }
        while true {
            lock.lock()
            let stop = stopping
            lock.unlock()
            if stop { return }
            guard let job = try? store.claimJob() else {
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            run(job)
            MemoryPolicy.releaseFreeMemory()
        }
    }

    func run(_ job: ServiceStore.Job) {
        let folders = store.folders
        let staging = folders.staging.appendingPathComponent(job.id)
        try? FileManager.default.removeItem(at: staging)
        let store = self.store
        let last = LastProgress()
        do {
            // An upload is a zip; a study received by DICOM is a folder of its instances.
            let folder = folders.uploads.appendingPathComponent(job.id)
            let input = FileManager.default.fileExists(atPath: folder.path) ? folder : folders.upload(job.id)
            var options = self.options
            if let recipe = job.recipe {
                options.recipe = try Recipe.parse(Data(recipe.utf8), source: "the recipe of DICOM peer \(job.callingAE ?? "?")")
            }
            let result = try Pipeline(options: options).run(study: [input.path], out: staging) { p in
                let percent = Int(p.fraction * 100)
                if last.changed(p.stage, percent) { try? store.progress(job: job.id, stage: p.stage, percent: percent) }
            }
            if try store.job(job.id)?.state == "cancelled" {
                try? FileManager.default.removeItem(at: staging)
                return
            }
            let id = result.manifest.packageID ?? ""
            let target = folders.package(id)
            if FileManager.default.fileExists(atPath: target.path) {
                try? FileManager.default.removeItem(at: staging)  // the same package exists already
            } else {
                try FileManager.default.moveItem(at: staging, to: target)
            }
            if !FileManager.default.fileExists(atPath: folders.archive(id).path) {
                try PackageStore.writeArchive(of: target)
            }
            try store.addPackage(id: id, owner: job.owner, job: job.id)
            try store.finish(job: job.id, packageID: id, error: nil)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            try? store.finish(job: job.id, packageID: nil, error: "\(error)")
        }
    }
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
