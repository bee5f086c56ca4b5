import Foundation
import ScenePackage
@testable import Service
import Testing
import TestSupport

/// The service on several machines, as processes of this one: a real PostgreSQL (started by the
/// test), an API node that runs no jobs (`serve --database … --storage … --workers 0`) and
/// `vrprep worker` processes sharing its queue and its blob folder. A worker killed with SIGKILL
/// in the middle of a job (its machine dying) loses the job to another worker once its lease runs
/// out, and the job ends done with one package that verifies.
@Suite struct SeveralNodesTests {
    @Test func aJobOfAWorkerThatDiesIsFinishedByAnotherWithinItsLease() async throws {
        let server = try TestPostgres()
        defer { server.stop() }
        let url = try server.newDatabase()
        let storage = try Fixtures.temporaryFolder("several-nodes")
        defer { try? FileManager.default.removeItem(at: storage) }
        let records = ["--database", url, "--storage", storage.path]
        let made = try CommandLineTool.run(["token", "create", "--role", "submitter", "--name", "surgeon"] + records)
        #expect(made.status == 0, "\(made.standardError)")
        let token = try #require(made.standardOutput.split(separator: "\n").last?.split(separator: " ").last.map(String.init))
        let admin = try ServiceStore(postgres: url, storage: storage).createToken(role: .admin, name: "operator")

        let api = try ServeProcess(records: records, arguments: ["--workers", "0"])
        defer { api.kill() }
        let client = APIClient(port: api.port, token: token)
        func call(_ method: String, _ path: String, body: Data? = nil, as bearer: String? = nil) async throws -> (Int, [String: Any], Data) {
            try await client.call(method, path, body: body, as: bearer)
        }
        let (accepted, created, _) = try await call("POST", "/v1/studies", body: try ServiceTests.sampleZip())
        #expect(accepted == 202)
        let job = try #require(created["jobId"] as? String)
        // The API node runs no jobs: the job waits for a worker.
        try await Task.sleep(nanoseconds: 1_500_000_000)
        #expect(try await call("GET", "/v1/jobs/\(job)").1["state"] as? String == "queued")

        let lease = 4.0
        let first = try WorkerProcess(records: records, leaseSeconds: lease)
        var seen = ""
        for _ in 0..<1200 {
            let state = try await call("GET", "/v1/jobs/\(job)").1
            seen = "\(state["state"] ?? "")/\(state["stage"] ?? "")"
            if state["state"] as? String == "running", (state["percent"] as? Int ?? 0) >= 20 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        // The lease shows in the metrics, under the worker's name.
        let metrics = String(decoding: try await call("GET", "/metrics", as: admin).2, as: UTF8.self)
        #expect(metrics.contains("vrprep_leases{node=") && metrics.contains("vrprep_jobs{state=\"running\"} 1"), "\(metrics)")
        // Its machine dies: the worker and the job's own process, at once.
        let children = ServeProcess.jobProcesses(job)
        first.kill()
        for pid in children { kill(pid, SIGKILL) }
        let died = Date()
        #expect(seen.hasPrefix("running"), "killed at \(seen)")

        // When another worker claims it (its second attempt, in the records): watched on a thread
        // of its own every 20 ms, so that a busy machine delays the watch as little as it can.
        let store = try ServiceStore(postgres: url, storage: storage)
        let claimed = RecordStoreTests.Taken()
        Thread.detachNewThread {
            for _ in 0..<6000 {
                if let attempts = try? store.job(job)?.attempts, attempts >= 2 {
                    claimed.add("\(Date().timeIntervalSince(died))")
                    return
                }
                usleep(20_000)
            }
        }
        let second = try WorkerProcess(records: records, leaseSeconds: lease)
        defer { second.stop() }
        var final: [String: Any] = [:]
        for _ in 0..<1800 {
            final = try await call("GET", "/v1/jobs/\(job)").1
            if ["done", "failed"].contains(final["state"] as? String ?? "") { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(final["state"] as? String == "done", "\(final)")
        // Taken again within its lease plus a few seconds (the lease was last renewed before the kill).
        let wait = try #require(claimed.ids.first.flatMap(Double.init))
        #expect(wait <= lease + 4, "the lost job waited \(wait) s")
        print("several nodes: the killed worker's job was claimed by another after \(String(format: "%.1f", wait)) s (lease \(lease) s)")
        #expect(try store.job(job)?.attempts == 2)
        let package = try #require(final["packageId"] as? String)
        let (status, _, archive) = try await call("GET", "/v1/packages/\(package)/archive")
        #expect(status == 200)
        let file = storage.appendingPathComponent("check.zip")
        try archive.write(to: file)
        #expect(Verification.verify(file).ok)
        #expect(try await call("GET", "/v1/packages").1["packages"] as? [String] == [package])
        #expect(try store.jobs(owner: nil).allSatisfy { $0.state == .done }, "a job was left running")

        // A worker stopped by SIGTERM exits 0.
        second.stop()
        #expect(second.process.terminationStatus == 0)

        // Healthy while the database answers; 503 naming it once it is gone.
        #expect(try await call("GET", "/healthz").0 == 200)
        server.stop()
        let (down, said, _) = try await call("GET", "/healthz")
        #expect(down == 503 && "\(said["reason"] ?? "")".contains("PostgreSQL"), "\(down) \(said)")
    }
}

/// `vrprep worker` as an operator runs it.
final class WorkerProcess: @unchecked Sendable {
    let process = Process()

    init(records: [String], leaseSeconds: Double) throws {
        process.executableURL = CommandLineTool.executable
        process.arguments = ["worker"] + records + ["--lease-seconds", String(leaseSeconds),
                                                    "--shaders", Fixtures.root.appendingPathComponent("Shaders").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
