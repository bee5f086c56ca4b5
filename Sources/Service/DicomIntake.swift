import DICOM
import Foundation

/// Studies pushed by a PACS or a modality (C-STORE): instances are received into an incoming
/// folder, filed per calling AE and study as they arrive, and a study that has received nothing
/// for `idleSeconds` becomes a job (owner "dicom:<AE>") exactly as an upload would.
public final class DicomIntake: @unchecked Sendable {
    public struct Settings: Sendable {
        public var port: Int
        public var aeTitle = "VRPREP"
        public var allowedCallingAEs: [String] = []
        public var idleSeconds = 10.0

        public init(port: Int) {
            self.port = port
        }
    }

    private struct Pending {
        var folder: URL
        var callingAE: String
        var peer: String
        var instances: Int
        var last: Date
    }

    let store: any ServiceRecords
    let settings: Settings
    let receiver: DicomReceiver
    private let lock = NSLock()
    private var pending: [String: Pending] = [:]  // key: AE + study UID
    private var timer: (any DispatchSourceTimer)?

    public init(store: any ServiceRecords, settings: Settings) throws {
        self.store = store
        self.settings = settings
        let incoming = store.folders.root.appendingPathComponent("dicom-incoming")
        receiver = try DicomReceiver(port: settings.port, aeTitle: settings.aeTitle, folder: incoming,
                                     allowedCallingAEs: settings.allowedCallingAEs)
    }

    public func start() {
        receiver.start { [weak self] instance in self?.file(instance) }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [weak self] in self?.queueIdleStudies() }
        timer.resume()
        self.timer = timer
    }

    public func stop() {
        timer?.cancel()
        receiver.stop()
        queueIdleStudies(all: true)
    }

    /// Moves a received instance into its study's folder (one folder per calling AE and study).
    private func file(_ instance: DicomReceiver.Instance) {
        let source = URL(fileURLWithPath: instance.path)
        let study = (try? DicomFile(path: instance.path).string(.studyInstanceUID)) ?? "unknown"
        let key = instance.callingAE + "|" + study
        lock.lock()
        defer { lock.unlock() }
        var entry = pending[key] ?? Pending(
            folder: store.folders.uploads.appendingPathComponent(".dicom-\(UUID().uuidString.lowercased())"),
            callingAE: instance.callingAE, peer: instance.peer, instances: 0, last: Date())
        try? FileManager.default.createDirectory(at: entry.folder, withIntermediateDirectories: true)
        let target = entry.folder.appendingPathComponent(source.lastPathComponent)
        try? FileManager.default.removeItem(at: target)
        if (try? FileManager.default.moveItem(at: source, to: target)) != nil { entry.instances += 1 }
        entry.last = Date()
        pending[key] = entry
    }

    /// Studies idle for `idleSeconds` (or all, when stopping) become jobs.
    private func queueIdleStudies(all: Bool = false) {
        lock.lock()
        let ready = pending.filter { all || Date().timeIntervalSince($0.value.last) >= settings.idleSeconds }
        for key in ready.keys { pending[key] = nil }
        lock.unlock()
        for (_, study) in ready {
            let id = UUID().uuidString.lowercased()
            do {
                try FileManager.default.moveItem(at: study.folder, to: store.folders.uploads.appendingPathComponent(id))
                try store.createDicomJob(id: id, callingAE: study.callingAE, peer: study.peer, instances: study.instances)
            } catch {
                try? FileManager.default.removeItem(at: study.folder)
            }
        }
    }
}
