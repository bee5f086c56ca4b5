import Foundation
@testable import Service
import Testing
import TestSupport

/// Jobs run in processes of their own: whatever ends one (its study, a signal, a limit) ends that
/// job alone, with a reason a person understands, and the service goes on.
extension ServiceTests {
    static func zip(_ folder: URL) throws -> Data {
        try ZipMaker.study(try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".dcm") }.sorted()
            .map { folder.appendingPathComponent($0) })
    }

    /// Uploads `body` as a study; the job's id.
    func upload(_ service: Running, _ body: Data, token: String) async throws -> String {
        let (status, answer, _) = try await service.request("POST", "/v1/studies", token: token, body: body, type: "application/zip")
        #expect(status == 202, "\(String(decoding: answer, as: UTF8.self))")
        return try #require(service.json(answer)["jobId"] as? String)
    }

    @Test func aStudyWithImpossibleGeometryFailsItsJobAloneNamingTheTag() async throws {
        let folder = try DcmtkTool.modifiedSample([#"(0028,0030)=1e-30\1e-30"#], label: "bad-spacing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let bad = try await upload(service, try Self.zip(folder), token: submitter)
            let job = try await service.wait(job: bad, token: submitter)
            #expect(job["state"] as? String == "failed")
            let error = job["error"] as? String ?? ""
            #expect(error.contains("PixelSpacing (0028,0030)") && error.contains("1e-30"), "\(error)")
            // The sender sees no path of the server's.
            #expect(!error.contains(service.data.path), "\(error)")
            #expect(try await service.request("GET", "/healthz").0 == 200)
            // The next study runs.
            let good = try await upload(service, try Self.sampleZip(), token: submitter)
            #expect(try await service.wait(job: good, token: submitter)["state"] as? String == "done")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func killingAJobsProcessFailsThatJobNamingTheSignalAndTheNextJobRuns() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let id = try await upload(service, try Self.sampleZip(), token: submitter)
            // Frozen when seen, so that a busy test pool cannot let the job end before the kill.
            let pid = try #require(await ServeProcess.freezeJobProcess(id, seconds: 60), "no process runs job \(id)")
            #expect(kill(pid, SIGKILL) == 0)
            #expect(try await service.request("GET", "/healthz").0 == 200)
            let job = try await service.wait(job: id, token: submitter)
            #expect(job["state"] as? String == "failed")
            let error = job["error"] as? String ?? ""
            #expect(error.contains("signal 9") && error.contains("not retried"), "\(error)")
            #expect(try await service.request("GET", "/healthz").0 == 200)
            let next = try await upload(service, try Self.sampleZip(), token: submitter)
            #expect(try await service.wait(job: next, token: submitter)["state"] as? String == "done")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test(arguments: [(JobLimits(memoryBytes: 64 << 20), "memory limit of 64 MB"), (JobLimits(seconds: 0.5), "time limit of 1 s")])
    func aJobPastItsLimitsIsStoppedAndSaysWhich(limits: JobLimits, message: String) async throws {
        let service = try await Running(jobLimits: limits)
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let id = try await upload(service, try Self.sampleZip(), token: submitter)
            let job = try await service.wait(job: id, token: submitter)
            #expect(job["state"] as? String == "failed")
            #expect((job["error"] as? String ?? "").contains(message), "\(job)")
            #expect(ServeProcess.jobProcesses(id).isEmpty)
            #expect(try await service.request("GET", "/healthz").0 == 200)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func aJobRunningWhenItsServiceStoppedTwiceIsFailedNotQueuedAgain() throws {
        let data = try Fixtures.temporaryFolder("attempts")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = try ServiceStore(data: data)
        try store.createJob(id: "j", owner: "o")
        // Taken, then the service dies; at its next start the job is queued again once…
        #expect(try store.claimJob()?.attempts == 1)
        #expect(try store.requeueInterrupted() == 1)
        #expect(try store.job("j")?.state == .queued)
        // …taken again and the service dies again: failed at start, never queued.
        #expect(try store.claimJob()?.attempts == 2)
        #expect(try store.requeueInterrupted() == 0)
        let job = try #require(try store.job("j"))
        #expect(job.state == .failed && (job.error ?? "").contains("not retried"), "\(job)")
        #expect(try store.claimJob() == nil)
        // A job given back by a stopping runner does not use up an attempt.
        try store.createJob(id: "k", owner: "o")
        #expect(try store.claimJob()?.attempts == 1)
        try store.release(job: "k")
        #expect(try store.claimJob()?.attempts == 1)
    }
}
