import DICOM
import Foundation
import Logging

/// Studies pushed by a PACS, a modality or another DICOM node (C-STORE). Instances are written
/// by the receiver, then filed into one folder per calling AE and study (`uploads/<id>`, `id`
/// becoming the job's); the study is recorded in the database from its first instance, so that a
/// restart goes on receiving it. A study is complete when nothing has arrived for `idleSeconds`
/// and no association is sending it, or, for a peer whose rule is `release`, as soon as the
/// association that sent it is released normally; then it becomes a job owned by "dicom:<AE>",
/// with the peer's recipe (or the default), exactly as an upload would.
///
/// Segmentations (SEG, RT Structure Set) are filed beside their study's images
/// (`uploads/<id>.segmentations`) and each becomes a job that makes the study's scene from it
/// (as `POST /v1/studies/{id}/jobs?labels=…` would): of the study received with it, or, pushed
/// on their own after their study, of the newest study that AE sent with the same StudyInstanceUID.
public final class DicomIntake: @unchecked Sendable {
    /// A calling AE allowed on the command line: `NAME` (from any host) or `NAME@HOST`.
    public struct AllowedPeer: Sendable, Equatable, CustomStringConvertible {
        public var aeTitle: String
        public var host: String?

        public init(aeTitle: String, host: String? = nil) {
            self.aeTitle = aeTitle
            self.host = host
        }

        /// Parses "NAME" or "NAME@HOST"; nil when the AE title is not valid.
        public init?(parsing text: String) {
            let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard DicomReceiver.isValidAETitle(parts[0]), parts.count == 1 || !parts[1].isEmpty else { return nil }
            self.init(aeTitle: parts[0], host: parts.count == 2 ? parts[1] : nil)
        }

        public var description: String { host.map { "\(aeTitle)@\($0)" } ?? aeTitle }
    }

    public struct Settings: Sendable {
        public var port: Int
        public var aeTitle = "VRPREP"
        /// Calling AEs allowed besides those stored in the database (`/v1/dicom/peers`).
        public var allowed: [AllowedPeer] = []
        public var idleSeconds = 10.0
        /// The completion rule for peers allowed on the command line (database peers have their own).
        public var completion = ServiceStore.Completion.idle
        public var maxAssociations = 8
        /// Seconds a connection may take to ask for an association (its A-ASSOCIATE-RQ); one that
        /// stays silent or sends slowly is closed after this, and delays no other sender meanwhile.
        public var acseTimeoutSeconds = 10
        /// Seconds an association may stay silent while a command or the rest of an instance is
        /// awaited; then it is dropped.
        public var dimseTimeoutSeconds = 60
        /// Connections from one IP address that may wait to associate at once; more are closed at once.
        public var maxPendingPerAddress = 16
        /// The most one study may take on disk; instances beyond are refused (0xA700) and the
        /// study ends as a failed job that says so.
        public var maxStudyBytes: Int64 = 16 << 30
        /// Instances are refused (0xA700) while the data folder's disk has less free space than this.
        public var minFreeBytes: Int64 = 512 << 20
        /// DICOM TLS on the port (it then takes TLS only), with peers' certificates checked
        /// against a CA when one is given.
        public var tls: DicomTLS?

        public init(port: Int) {
            self.port = port
        }
    }

    /// A study being received: its record, when it last got an instance, which associations are sending it.
    private struct Receiving {
        var study: ServiceStore.DicomStudy
        var last: Date
        var sending: Set<UInt64> = []
        /// Bytes filed, and instances refused for want of room (the study then fails).
        var bytes: Int64 = 0
        var refused = 0
    }

    let store: any ServiceRecords
    let settings: Settings
    let receiver: DicomReceiver
    private let logger = {
        var logger = Logger(label: "vrprep.dicom")
        logger.logLevel = .notice
        return logger
    }()
    private let lock = NSLock()
    private var receiving: [String: Receiving] = [:]  // key: calling AE + "|" + study UID
    private var timer: (any DispatchSourceTimer)?

    public init(store: any ServiceRecords, settings: Settings) throws {
        self.store = store
        self.settings = settings
        let incoming = store.folders.root.appendingPathComponent("dicom-incoming")
        // Files a stop left half written; the peer was not told they were stored.
        try? FileManager.default.removeItem(at: incoming)
        if let tls = settings.tls { _ = try ServiceTLS.checkDicom(certificate: tls.certificate) }
        receiver = try DicomReceiver(port: settings.port, aeTitle: settings.aeTitle, folder: incoming,
                                     maxAssociations: settings.maxAssociations, acseTimeout: settings.acseTimeoutSeconds,
                                     dimseTimeout: settings.dimseTimeoutSeconds, maxPendingPerAddress: settings.maxPendingPerAddress,
                                     tls: settings.tls)
        // Studies being received when the service stopped: their idle time starts again.
        for study in try store.dicomStudiesBeingReceived() {
            let bytes = [folder(of: study), segmentationFolder(of: study)].reduce(Int64(0)) { sum, folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).reduce(sum) { sum, name in
                    sum + Int64((try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path))?[.size] as? Int ?? 0)
                }
            }
            keep(Receiving(study: study, last: Date(), bytes: bytes))
        }
    }

    public func start() {
        receiver.start(DicomReceiver.Handlers(
            accept: { [weak self] ae, ip in self?.accepts(callingAE: ae, peerIP: ip) ?? false },
            stored: { [weak self] instance in self?.file(instance) ?? false },
            ended: { [weak self] association, ae, released in self?.ended(association, callingAE: ae, released: released) }))
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
        timer.setEventHandler { [weak self] in self?.queueIdleStudies() }
        timer.resume()
        self.timer = timer
    }

    /// Stops taking associations (those running end first). Studies still incomplete stay
    /// recorded and go on at the next start.
    public func stop() {
        timer?.cancel()
        receiver.stop()
    }

    /// Why the receiver stopped, if it failed (a port in use).
    public var error: String? { receiver.error }

    private static func key(_ callingAE: String, _ studyUID: String) -> String { callingAE + "|" + studyUID }

    /// Where a study being received is filed (its id becomes its job's, whose input this folder is).
    private func folder(of study: ServiceStore.DicomStudy) -> URL { store.folders.uploads.appendingPathComponent(study.id) }

    /// Where the segmentations received with a study wait until it is complete.
    private func segmentationFolder(of study: ServiceStore.DicomStudy) -> URL {
        store.folders.uploads.appendingPathComponent(study.id + ".segmentations")
    }

    /// Keeps a study that is not the one new instances of its AE and UID go to (one restored at
    /// start, or one whose queueing failed) under a key of its own if that one is taken, so that
    /// neither is lost; both become jobs. Call with the lock held (or before the receiver starts).
    private func keep(_ entry: Receiving) {
        let key = Self.key(entry.study.callingAE, entry.study.studyUID)
        receiving[receiving[key] == nil ? key : key + "#" + entry.study.id] = entry
    }

    // MARK: Who may send

    func accepts(callingAE: String, peerIP: String) -> Bool {
        if settings.allowed.contains(where: { $0.aeTitle == callingAE && Self.host($0.host, matches: peerIP) }) { return true }
        guard let peer = try? store.dicomPeer(callingAE) else { return false }
        return Self.host(peer.host, matches: peerIP)
    }

    /// A host given by address or name (resolved now) against the peer's address; nil: any host.
    static func host(_ host: String?, matches peerIP: String) -> Bool {
        guard let host, !host.isEmpty else { return true }
        let peer = peerIP.hasPrefix("::ffff:") ? String(peerIP.dropFirst(7)) : peerIP
        if host == peer { return true }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(list) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST) == 0,
               String(cString: name) == peer {
                return true
            }
            node = entry.pointee.ai_next
        }
        return false
    }

    private func completion(of callingAE: String) -> ServiceStore.Completion {
        (try? store.dicomPeer(callingAE))?.completion ?? settings.completion
    }

    // MARK: Receiving

    /// Files an instance into its study's folder; false when it could not be kept.
    private func file(_ instance: DicomReceiver.Instance) -> Bool {
        let source = URL(fileURLWithPath: instance.path)
        let key = Self.key(instance.callingAE, instance.studyInstanceUID)
        lock.lock()
        defer { lock.unlock() }
        var entry = receiving[key]
        if entry == nil {
            let study = ServiceStore.DicomStudy(id: UUID().uuidString.lowercased(), callingAE: instance.callingAE,
                                                studyUID: instance.studyInstanceUID, peer: instance.peer)
            do {
                try store.beginDicomStudy(study)
            } catch {
                logger.error("cannot record study \(instance.studyInstanceUID) from \(instance.callingAE): \(error)")
                try? FileManager.default.removeItem(at: source)
                return false
            }
            entry = Receiving(study: study, last: Date())
        }
        guard var entry else { return false }
        entry.last = Date()
        entry.sending.insert(instance.association)
        // Room: the study's own limit, and free space left for the database and the packages.
        let size = Int64((try? FileManager.default.attributesOfItem(atPath: source.path))?[.size] as? Int ?? 0)
        let free = store.folders.freeBytes() ?? .max
        if entry.bytes + size > settings.maxStudyBytes || free < settings.minFreeBytes {
            if entry.refused == 0 {
                logger.error("""
                    study \(instance.studyInstanceUID) from \(instance.callingAE): refusing instances \
                    (\(free < settings.minFreeBytes ? "the disk is nearly full" : "over \(settings.maxStudyBytes >> 20) MB"))
                    """)
            }
            entry.refused += 1
            receiving[key] = entry
            try? FileManager.default.removeItem(at: source)
            return false
        }
        let folder = instance.isSegmentation ? segmentationFolder(of: entry.study) : self.folder(of: entry.study)
        // Named by SOP instance UID (a resent instance replaces itself); a UID unfit for a file name is not used.
        let uid = instance.sopInstanceUID
        let name = !uid.isEmpty && uid.count <= 64 && uid.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }) && !uid.hasPrefix(".")
            ? uid : "instance-\(UUID().uuidString.lowercased())"
        let target = folder.appendingPathComponent(name + ".dcm")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(at: source, to: target)
        } catch {
            logger.error("cannot file \(source.path) into \(folder.path): \(error)")
            try? FileManager.default.removeItem(at: source)
            receiving[key] = entry
            return false
        }
        entry.bytes += size
        receiving[key] = entry
        return true
    }

    /// Free bytes on the disk holding `folder` (for an unprivileged process); Int64.max if unknown.
    private func ended(_ association: UInt64, callingAE: String, released: Bool) {
        // The rule matters only for a release (a database read otherwise spared, C-ECHO included).
        let rule = released ? completion(of: callingAE) : .idle
        var complete: [Receiving] = []
        lock.lock()
        for (key, var entry) in receiving where entry.sending.contains(association) {
            entry.sending.remove(association)
            entry.last = Date()
            if released && rule == .release && entry.sending.isEmpty {
                receiving[key] = nil
                complete.append(entry)
            } else {
                receiving[key] = entry
            }
        }
        lock.unlock()
        complete.forEach(queue)
    }

    /// Studies no association is sending and idle for `idleSeconds` become jobs.
    private func queueIdleStudies() {
        let now = Date()
        lock.lock()
        let ready = receiving.filter { $0.value.sending.isEmpty && now.timeIntervalSince($0.value.last) >= settings.idleSeconds }
        for key in ready.keys { receiving[key] = nil }
        lock.unlock()
        ready.values.forEach(queue)
    }

    private func queue(_ entry: Receiving) {
        let study = entry.study
        let folder = self.folder(of: study), segmentationFolder = self.segmentationFolder(of: study)
        let instances = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".dcm") }.count
        let received = ((try? FileManager.default.contentsOfDirectory(atPath: segmentationFolder.path)) ?? []).filter { $0.hasSuffix(".dcm") }.sorted()
        // A study that did not fit is not made into a model from its part: the job fails and says why.
        let failure = entry.refused == 0 ? nil : """
            \(entry.refused) instance(s) of this study were refused for want of room (a study may take at most \
            \(settings.maxStudyBytes >> 20) MB, --dicom-max-study-mb, and \(settings.minFreeBytes >> 20) MB of disk must stay \
            free); nothing was made from the \(instances + received.count) received: make room and send the study again
            """
        // Each segmentation goes to the folder of the job it becomes before that job is recorded
        // (a runner may take it at once); back again if recording fails.
        var segmentations: [ServiceStore.ReceivedSegmentation] = []
        for name in received {
            let job = UUID().uuidString.lowercased()
            let target = store.folders.segmentation(job)
            do {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                try FileManager.default.moveItem(at: segmentationFolder.appendingPathComponent(name), to: target.appendingPathComponent(name))
                segmentations.append(ServiceStore.ReceivedSegmentation(job: job, file: name))
            } catch {
                logger.error("cannot file segmentation \(name) of study \(study.studyUID) from \(study.callingAE): \(error)")
            }
        }
        do {
            let recipe = try store.dicomPeer(study.callingAE)?.recipe
            let target = try store.queueDicomStudy(study, instances: instances, recipe: recipe, failure: failure, segmentations: segmentations)
            if failure != nil { try? FileManager.default.removeItem(at: folder) }
            if failure != nil || target == nil { segmentations.forEach { try? FileManager.default.removeItem(at: store.folders.segmentation($0.job)) } }
            try? FileManager.default.removeItem(at: segmentationFolder)
            if instances > 0 {
                try? store.appendAudit(ServiceStore.AuditEvent(
                    actorKind: .dicomPeer, actorID: study.callingAE, address: study.peer, action: Audit.dicomImport.name, method: "C-STORE",
                    path: "dicom:\(study.studyUID)", study: study.id,
                    status: failure == nil ? 200 : 422, detail: "\(instances) instances" + (failure.map { ": \($0)" } ?? "")))
            }
            if instances > 0 || segmentations.isEmpty {
                logger.notice("study from \(study.callingAE) (\(instances) instances) \(failure == nil ? "queued" : "failed") as job \(study.id)")
            }
            for segmentation in segmentations {
                let outcome = target.map { "queued as job \(segmentation.job) of study \($0)" }
                    ?? "failed as job \(segmentation.job): no study \(study.studyUID) from that AE is kept"
                logger.notice("segmentation \(segmentation.file) from \(study.callingAE) \(outcome)")
            }
        } catch {
            // Tried again at the next tick.
            logger.error("cannot queue the study received from \(study.callingAE): \(error)")
            for segmentation in segmentations {
                try? FileManager.default.moveItem(at: store.folders.segmentation(segmentation.job).appendingPathComponent(segmentation.file),
                                                  to: segmentationFolder.appendingPathComponent(segmentation.file))
                try? FileManager.default.removeItem(at: store.folders.segmentation(segmentation.job))
            }
            lock.lock()
            var again = entry
            again.last = Date()
            keep(again)
            lock.unlock()
        }
    }
}
