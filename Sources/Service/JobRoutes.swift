import Foundation
import Hummingbird

/// Jobs: the submitter's (or, for an admin, everyone's), one job, cancelling one.
func addJobRoutes(_ router: Router<BasicRequestContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    router.get("/v1/jobs") { request, _ -> Response in
        let caller = try authorize(request, store, roles: [.submitter, .admin])
        let jobs = try store.jobs(owner: Access.listedOwner(caller))
        return try encodedJSON(JobList(jobs: jobs.map(JobView.init)))
    }

    router.get("/v1/jobs/:id") { request, context -> Response in
        let caller = try authorize(request, store, roles: [.submitter, .admin])
        let id = try context.parameters.require("id")
        return try encodedJSON(JobView(try Access.job(id, for: caller, store)))
    }

    router.delete("/v1/jobs/:id") { request, context -> Response in
        let caller = try authorize(request, store, roles: [.submitter, .admin])
        let id = try context.parameters.require("id")
        let job = try Access.job(id, for: caller, store)
        guard try store.cancel(job: id) else { throw HTTPError(.conflict, message: "job \(id) is \(job.state): nothing to cancel") }
        // A queued job never reaches a runner: its upload goes now (a running one's, when its process ends).
        if job.state == .queued { settings.retention.jobEnded(id, folders: store.folders) }
        return try json(["id": id, "state": ServiceStore.JobState.cancelled.rawValue])
    }
}
