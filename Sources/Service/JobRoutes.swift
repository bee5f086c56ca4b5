import Foundation
import DICOM
import Hummingbird
import Pipeline
import ZIPFoundation

/// Jobs: the submitter's (or, for an admin, everyone's), one job, cancelling one.
func addJobRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    let jobs = router.group("/v1/jobs", for: [.submitter, .admin], store)

    jobs.get { _, context -> Response in
        let jobs = try store.jobs(owner: Access.listedOwner(try context.requireCaller()))
        return try encodedJSON(JobList(jobs: try jobs.map { JobView($0, returned: try store.jobReturn($0.id)) }))
    }

    jobs.get(":id") { _, context -> Response in
        let id = try context.parameters.require("id")
        return try encodedJSON(JobView(try Access.job(id, for: try context.requireCaller(), store), returned: try store.jobReturn(id)))
    }

    // The job's results as DICOM objects of its identified study (what `vrprep export-dicom`
    // writes), as a zip: for its owner or an admin, never through a share link (these objects
    // carry the patient's identity and go back to the hospital).
    jobs.get(":id/dicom") { request, context -> Response in
        let id = try context.parameters.require("id")
        let job = try Access.job(id, for: try context.requireCaller(), store)
        guard job.state == .done, let package = job.packageID else {
            throw HTTPError(.conflict, message: "job \(id) is \(job.state): only a finished job's results are written as DICOM")
        }
        var formats: [ExportDicom.Format] = []
        for name in (request.uri.queryParameters["formats"].map(String.init) ?? "seg,stl").split(separator: ",", omittingEmptySubsequences: false) {
            guard let format = ExportDicom.Format(rawValue: String(name)) else {
                throw HTTPError(.badRequest, message: "formats: '\(name)' is not one of \(ExportDicom.Format.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            formats.append(format)
        }
        let study = store.folders.study(job.studyID ?? job.id)
        guard FileManager.default.fileExists(atPath: study.path) else {
            throw HTTPError(.gone, message: "job \(id)'s study is no longer kept: its DICOM objects cannot be made")
        }
        let folders = store.folders, version = settings.pipeline.softwareVersion
        // Written and zipped off the event loops.
        let zip = try await Task.detached { () throws -> Data in
            let out = folders.staging.appendingPathComponent("dicom-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let report = try ExportDicom.run(study: [study.path], source: .package(folders.package(package)), out: out, formats: formats,
                                             softwareVersion: version, threads: 1)
            let archive = try Archive(accessMode: .create)
            for file in report.files {
                let url = URL(fileURLWithPath: file.path)
                try archive.addEntry(with: url.lastPathComponent, relativeTo: url.deletingLastPathComponent(), compressionMethod: .deflate)
            }
            return archive.data ?? Data()
        }.value
        return Response(status: .ok, headers: [.contentType: "application/zip",
                                               .contentDisposition: "attachment; filename=\"\(id)-dicom.zip\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: zip)))
    }

    // Sends a job's results back again (to where they went, or to its DICOM peer's returnTo).
    jobs.post(":id/return") { _, context -> Response in
        let id = try context.parameters.require("id")
        let job = try Access.job(id, for: try context.requireCaller(), store)
        guard job.state == .done, job.packageID != nil else {
            throw HTTPError(.conflict, message: "job \(id) is \(job.state): only a finished job's results go back")
        }
        guard let target = try store.jobReturn(id)?.target ?? job.callingAE.flatMap({ try? store.dicomPeer($0)?.returnTo }) else {
            throw HTTPError(.conflict, message: "job \(id) has nowhere to go back to: its study came from no DICOM peer with a returnTo")
        }
        try store.scheduleReturn(job: id, to: target)
        return try encodedJSON(JobView(job, returned: try store.jobReturn(id)), status: .accepted)
    }

    jobs.delete(":id") { _, context -> Response in
        let id = try context.parameters.require("id")
        let job = try Access.job(id, for: try context.requireCaller(), store)
        guard try store.cancel(job: id) else { throw HTTPError(.conflict, message: "job \(id) is \(job.state): nothing to cancel") }
        // A queued job never reaches a runner: its upload goes now (a running one's, when its process ends).
        if job.state == .queued { settings.retention.jobEnded(job, folders: store.folders) }
        return try encodedJSON(JobCancelled(id: id, state: ServiceStore.JobState.cancelled.rawValue))
    }
}

/// Where a study came from: "upload", or "dicom" with the calling AE title and the peer.
struct SourceView: Encodable {
    var kind: String
    var callingAE: String?
    var peer: String?
}

/// The answer to cancelling a job.
struct JobCancelled: Encodable {
    var id: String
    var state: ServiceStore.JobState.RawValue
}

/// A job as the API shows it (with its source for studies received by DICOM).
struct JobView: Encodable {
    var id: String
    var state: ServiceStore.JobState.RawValue
    var stage: String
    var percent: Int
    var error: String?
    var packageId: String?
    /// The study it makes a package of.
    var studyId: String?
    var source: SourceView
    var instances: Int?
    /// What loading the study found (empty until it is loaded): the series' warnings, and every
    /// file not used with the reason, named inside the study.
    var warnings: [String]
    var rejected: [Rejection]
    /// Its results going back to the hospital (a study from a DICOM peer with a returnTo).
    var returned: ReturnView?
    /// What its scene is made for (desktop unless asked).
    var profile: String

    init(_ job: ServiceStore.Job, returned: ServiceStore.JobReturn? = nil) {
        self.returned = returned.map(ReturnView.init)
        (id, state, stage, percent, error, packageId) = (job.id, job.state.rawValue, job.stage, job.percent, job.error, job.packageID)
        (warnings, rejected, studyId) = (job.notes?.warnings ?? [], job.notes?.rejected ?? [], job.studyID)
        profile = job.profile ?? SceneProfile.desktop.rawValue
        if job.sourceKind == "dicom" {
            source = SourceView(kind: "dicom", callingAE: job.callingAE ?? "", peer: job.peer ?? "")
            instances = job.instances ?? 0
        } else {
            source = SourceView(kind: "upload")
        }
    }
}

/// A return: its state (pending, sending, done, failed), where to, the instances sent, the last
/// error, the attempts and the next one.
struct ReturnView: Encodable {
    var state: String
    var to: ServiceStore.ReturnTarget
    var instances: Int?
    var error: String?
    var attempts: Int
    var nextAttemptAt: String?

    init(_ taken: ServiceStore.JobReturn) {
        (state, to, instances, error, attempts) = (taken.state.rawValue, taken.target, taken.instances, taken.error, taken.attempts)
        nextAttemptAt = taken.state == .pending ? taken.next.map { ISO8601DateFormatter().string(from: $0) } : nil
    }
}

/// The jobs of `GET /v1/jobs`.
struct JobList: Encodable {
    var jobs: [JobView]
}
