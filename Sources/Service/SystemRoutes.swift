import Foundation
import Hummingbird

/// The service itself: health, its OpenAPI description, metrics (admin).
func addSystemRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    // Up when the records answer (a node whose database is gone is taken out of a balancer's pool).
    router.get("/healthz") { _, _ -> Response in
        let failure: String? = await offLoop {
            do { try store.ping() } catch { return "\(error)" }
            return nil
        }
        guard let failure else { return try encodedJSON(["status": "ok"]) }
        return try encodedJSON(["status": "unavailable", "reason": "the records do not answer: \(failure)"], status: .serviceUnavailable)
    }

    // The clinician's workstation (the page signs in with a token it keeps in session storage).
    router.get("/app") { request, _ -> Response in
        let language = Language.of(request)
        return language.htmlResponse(Workstation.page(language: language), cacheControl: "no-store")
    }

    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPI.yaml)))
    }

    // Prometheus text format (scraped with an admin token): counts only, nothing about who or what.
    router.group("/metrics", for: [.admin], store).get { _, _ -> Response in
        let (jobs, packages) = try store.counts()
        var lines = ["# HELP vrprep_jobs Jobs by state.", "# TYPE vrprep_jobs gauge"]
        for state in ServiceStore.JobState.allCases {
            lines.append("vrprep_jobs{state=\"\(state)\"} \(jobs[state.rawValue] ?? 0)")
        }
        lines += ["# HELP vrprep_leases Running jobs by the node holding their lease.", "# TYPE vrprep_leases gauge"]
        for (node, count) in try store.leasesByNode().sorted(by: { $0.key < $1.key }) {
            lines.append("vrprep_leases{node=\"\(node.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"} \(count)")
        }
        lines += ["# HELP vrprep_packages Published scene packages.", "# TYPE vrprep_packages gauge", "vrprep_packages \(packages)",
                  "# HELP vrprep_resident_bytes Resident memory of the service.", "# TYPE vrprep_resident_bytes gauge",
                  "vrprep_resident_bytes \(residentBytes())",
                  "# HELP vrprep_data_bytes Bytes of the files under the data folder.", "# TYPE vrprep_data_bytes gauge",
                  "vrprep_data_bytes \(await offLoop { store.folders.usedBytes() })",
                  "# HELP vrprep_disk_free_bytes Free space on the data folder's disk.", "# TYPE vrprep_disk_free_bytes gauge",
                  "vrprep_disk_free_bytes \(store.folders.freeBytes() ?? -1)"]
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
    }
}
