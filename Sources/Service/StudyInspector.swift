import Foundation
import Pipeline

/// Reads a study in a child process (`vrprep inspect --json`), never in the service's own: an
/// upload is untrusted, and whatever reading it meets (a trap, a runaway allocation) must end
/// that reading alone. Bounded in time; the answer is the inspection, or why there is none.
struct StudyInspector {
    var executable: URL
    var seconds: Double = 120

    /// The study's inspection, read once and kept beside it (`BlobFolders.inspection`): a study of
    /// 432 files takes 2.5 s to read, and the workstation asks for it each time a study is opened.
    /// The kept copy is used while the study's files are as they were (their count, sizes and
    /// latest change); otherwise, or when it is missing or unreadable, the study is read again.
    func inspect(study id: String, folders: BlobFolders) async -> Result<StudyInspection, ServiceFailure> {
        let (files, kept) = (folders.study(id), folders.inspection(id))
        let fingerprint = await offLoop { Self.fingerprint(of: files) }
        if let data = try? Data(contentsOf: kept), let cached = try? JSONDecoder().decode(Kept.self, from: data),
           cached.fingerprint == fingerprint {
            return .success(cached.inspection)
        }
        // One read per study at a time: the read started on upload and a request that comes before
        // it ends share it (two reads would cost twice, and the later one would overwrite the kept
        // copy with what it read when it began).
        return await Self.reads.share(kept.path) {
            let read = await inspect(files)
            // Kept only while the study is (a read that ends after the study was removed keeps nothing).
            if case .success(let inspection) = read, FileManager.default.fileExists(atPath: files.path),
               let data = try? JSONEncoder().encode(Kept(fingerprint: fingerprint, inspection: inspection)) {
                try? FileManager.default.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? data.write(to: kept, options: .atomic)
            }
            return read
        }
    }

    static let reads = SharedReads()

    /// The reads under way, by the kept copy they write: a second asker awaits the first one's.
    actor SharedReads {
        private var underway: [String: Task<Result<StudyInspection, ServiceFailure>, Never>] = [:]

        func share(_ key: String, _ read: @escaping @Sendable () async -> Result<StudyInspection, ServiceFailure>)
            async -> Result<StudyInspection, ServiceFailure> {
            if let running = underway[key] { return await running.value }
            let task = Task { await read() }
            underway[key] = task
            let result = await task.value
            underway[key] = nil
            return result
        }
    }

    /// An inspection as it is kept, with the fingerprint of the files it was read from.
    struct Kept: Codable {
        var fingerprint: [Int64]
        var inspection: StudyInspection
    }

    /// The files' count, their total size and their latest modification (ms), of a zip or a folder.
    static func fingerprint(of url: URL) -> [Int64] {
        var (count, bytes, latest): (Int64, Int64, Int64) = (0, 0, 0)
        func add(_ values: URLResourceValues?) {
            guard let values, values.isRegularFile == true else { return }
            count += 1
            bytes += Int64(values.fileSize ?? 0)
            latest = max(latest, Int64(((values.contentModificationDate ?? .distantPast).timeIntervalSince1970 * 1000).rounded()))
        }
        let keys: Set<URLResourceKey> = [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey]
        if let walk = FileManager.default.enumerator(at: url, includingPropertiesForKeys: Array(keys)) {
            for case let file as URL in walk { add(try? file.resourceValues(forKeys: keys)) }
        }
        add(try? url.resourceValues(forKeys: keys))
        return [count, bytes, latest]
    }

    func inspect(_ study: URL) async -> Result<StudyInspection, ServiceFailure> {
        let (executable, seconds) = (self.executable, self.seconds)
        return await offLoop {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["inspect", "--json", "--threads", "2", study.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                return .failure(ServiceFailure("the study could not be read (\(executable.path): \(error.localizedDescription))"))
            }
            let timer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            timer.cancel()
            if process.terminationReason == .uncaughtSignal {
                return .failure(ServiceFailure("reading the study stopped with signal \(process.terminationStatus)"))
            }
            guard let inspection = try? JSONDecoder().decode(StudyInspection.self, from: data) else {
                return .failure(ServiceFailure("the study could not be read (status \(process.terminationStatus))"))
            }
            return .success(inspection)
        }
    }
}
