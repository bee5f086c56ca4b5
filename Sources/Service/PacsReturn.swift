import DICOM
import Foundation
import Logging
import Pipeline

/// Sends finished jobs' results back to the hospital (issue "Back to the hospital"): for each
/// due return, the job's DICOM objects (a segmentation and the models, from the kept study and
/// the published package) are written and sent by C-STORE to the peer's `returnTo` and/or by
/// STOW-RS to its DICOMweb service. A failed
/// send is tried again later (5 s, 30 s, 2 min, 10 min), then marked failed with its reason; the
/// package is never touched. Returns live in the records, so a restart resumes them.
final class PacsReturner: @unchecked Sendable {
    let store: any ServiceRecords
    let callingAE: String
    let softwareVersion: String
    /// The service's DICOM TLS (its certificate and the CA peers are checked against), for
    /// targets that take TLS only.
    let tls: DicomTLS?
    /// Seconds before the next attempt after the first, second, … failure; then it has failed.
    static let delays: [Double] = [5, 30, 120, 600]
    private let lock = NSLock()
    private var stopped = false
    private var thread: Thread?
    private let logger = Logger(label: "vrprep.return")

    init(store: any ServiceRecords, callingAE: String, softwareVersion: String, tls: DicomTLS? = nil) {
        (self.store, self.callingAE, self.softwareVersion, self.tls) = (store, callingAE, softwareVersion, tls)
    }

    func start() {
        _ = try? store.requeueInterruptedReturns()
        let thread = Thread { [self] in
            while !lock.withLock({ stopped }) {
                for due in (try? store.claimDueReturns(at: Date())) ?? [] { send(due) }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.name = "vrprep-return"
        self.thread = thread
        thread.start()
    }

    /// Stops taking returns (one being sent finishes; an interrupted one is due again at the next start).
    func stop() {
        lock.withLock { stopped = true }
    }

    func send(_ due: ServiceStore.JobReturn) {
        let folders = store.folders
        let out = folders.staging.appendingPathComponent("return-\(due.job)")
        try? FileManager.default.removeItem(at: out)
        defer { try? FileManager.default.removeItem(at: out) }
        do {
            guard let job = try store.job(due.job), let package = job.packageID else {
                throw ServiceFailure("job \(due.job) has no package to send")
            }
            let study = folders.study(job.studyID ?? job.id)
            guard FileManager.default.fileExists(atPath: study.path) else {
                throw ServiceFailure("the job's study is no longer kept: its objects cannot be made")
            }
            // A scene made from a DICOM segmentation (a SEG or RT Structure Set the hospital
            // already holds) sends back its models only.
            let fromDicom = job.labels.map { $0.lowercased().hasSuffix(".dcm") } ?? false
            let report = try ExportDicom.run(study: [study.path], source: .package(folders.package(package)), out: out,
                                             formats: fromDicom ? [.stl] : [.seg, .stl], softwareVersion: softwareVersion, threads: 1)
            let files = report.files.map { URL(fileURLWithPath: $0.path) }
            if let scp = due.target.storeSCP {
                var sender = DicomSender(host: scp.host, port: scp.port, callingAE: callingAE, calledAE: scp.ae)
                if due.target.tls == true {
                    guard let tls, tls.ca != nil else {
                        throw ServiceFailure("\(scp.ae) takes DICOM TLS only: start the service with --dicom-tls-cert, --dicom-tls-key and --dicom-tls-ca")
                    }
                    sender.tls = tls
                }
                try sender.send(files)
            }
            if let stow = due.target.stow.flatMap(URL.init(string:)) {
                try StowClient(base: stow).store(files)
            }
            try store.recordReturn(job: due.job, state: .done, instances: report.files.count, error: nil, next: nil)
            audit(due, study: job.studyID, status: 200, detail: "\(report.files.count) objects sent")
        } catch {
            let message = "\(error)"
            let final = due.attempts > Self.delays.count
            let next = final ? nil : Date().addingTimeInterval(Self.delays[due.attempts - 1])
            logger.warning("returning job \(due.job) to \(due.target.ae ?? due.target.stow ?? "?"): \(message)")
            try? store.recordReturn(job: due.job, state: final ? .failed : .pending, instances: nil, error: message, next: next)
            audit(due, study: try? store.job(due.job)?.studyID, status: 502, detail: message)
        }
    }

    /// The return in the audit trail: the service sent (or failed to send) identified objects.
    private func audit(_ due: ServiceStore.JobReturn, study: String?, status: Int, detail: String) {
        let target = [due.target.ae.map { "\($0)@\(due.target.host ?? ""):\(due.target.port ?? 0)" }, due.target.stow].compactMap { $0 }
        try? store.appendAudit(ServiceStore.AuditEvent(
            actorKind: .service, actorID: callingAE, action: Audit.dicomReturn.name, method: due.target.ae == nil ? "STOW-RS" : due.target.tls == true ? "C-STORE over TLS" : "C-STORE",
            path: target.joined(separator: ", "), study: study, status: status, detail: "job \(due.job): \(detail)"))
    }
}
