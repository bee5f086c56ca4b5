import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// `vrprep serve` as an operator runs it, killed with SIGKILL and started again: a study that
/// cannot be processed never puts the service in a crash loop.
@Suite(.serialized) struct ServiceRestartTests {
    /// `vrprep serve` with the calls this test makes to it.
    final class Serve: @unchecked Sendable {
        let serve: ServeProcess
        var port: Int { serve.port }

        init(data: URL) throws {
            serve = try ServeProcess(data: data, arguments: ["--job-timeout-minutes", "5"])
        }

        func kill9() { serve.kill() }
        func stop() { serve.stop() }

        func request(_ method: String, _ path: String, token: String? = nil, body: Data? = nil) async throws -> (Int, [String: Any]) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.timeoutInterval = 30
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if body != nil { request.setValue("application/zip", forHTTPHeaderField: "Content-Type") }
            request.httpBody = body
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
        }

        func job(_ id: String, token: String) async throws -> [String: Any] {
            try await request("GET", "/v1/jobs/\(id)", token: token).1
        }

        /// Polls until the job's state is one of `states`.
        func wait(_ id: String, token: String, for states: Set<String>, seconds: Double = 120) async throws -> [String: Any] {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                let job = try await job(id, token: token)
                if let state = job["state"] as? String, states.contains(state) { return job }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            Issue.record("job \(id) never reached \(states)")
            return [:]
        }
    }

    @Test func aStudyThatCannotBeProcessedNeverPutsTheServiceInACrashLoop() async throws {
        let data = try Fixtures.temporaryFolder("restart")
        defer { try? FileManager.default.removeItem(at: data) }
        let created = try CommandLineTool.run(["token", "create", "--role", "submitter", "--data", data.path])
        let token = try #require(created.standardOutput.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let bad = try DcmtkTool.modifiedSample([#"(0028,0030)=1e-30\1e-30"#], label: "restart-bad")
        defer { try? FileManager.default.removeItem(at: bad) }
        let badFiles = try FileManager.default.contentsOfDirectory(atPath: bad.path).filter { $0.hasSuffix(".dcm") }
            .map { bad.appendingPathComponent($0) }

        // 1. The study with impossible geometry: its job fails with its reason, the service lives.
        var serve = try Serve(data: data)
        let (accepted, answer) = try await serve.request("POST", "/v1/studies", token: token, body: try ZipMaker.study(badFiles))
        #expect(accepted == 202)
        let badJob = try #require(answer["jobId"] as? String)
        let failed = try await serve.wait(badJob, token: token, for: ["done", "failed"])
        #expect(failed["state"] as? String == "failed" && (failed["error"] as? String ?? "").contains("PixelSpacing"), "\(failed)")
        #expect(try await serve.request("GET", "/healthz").0 == 200)

        // 2. A good study is running when the service is killed: its process goes with it (it is
        // frozen when seen, so that it cannot end first; woken after the kill, it finds its parent
        // gone)…
        let (_, goodAnswer) = try await serve.request("POST", "/v1/studies", token: token, body: try ZipMaker.study(Fixtures.sampleCTFiles))
        let goodJob = try #require(goodAnswer["jobId"] as? String)
        let first = try #require(await ServeProcess.freezeJobProcess(goodJob), "the sample's job never ran")
        serve.kill9()
        kill(first, SIGCONT)
        for _ in 0..<50 where !ServeProcess.jobProcesses(goodJob).isEmpty { try await Task.sleep(nanoseconds: 100_000_000) }
        #expect(ServeProcess.jobProcesses(goodJob).isEmpty, "the job's process outlived its service")

        // …and after a restart the good one runs again (the service being up and the bad job still
        // failed are checked after the next restart).
        serve = try Serve(data: data)
        let second = try #require(await ServeProcess.freezeJobProcess(goodJob), "the sample's job should run again")

        // 3. Killed again while that job runs (as a job that crashed its runner would): at the
        // next start it is failed, not queued a third time, and the service stays up.
        serve.kill9()
        kill(second, SIGCONT)
        serve = try Serve(data: data)
        let job = try await serve.job(goodJob, token: token)
        #expect(job["state"] as? String == "failed" && (job["error"] as? String ?? "").contains("stopped twice"), "\(job)")
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(try await serve.request("GET", "/healthz").0 == 200)
        #expect(try await serve.job(badJob, token: token)["state"] as? String == "failed")
        serve.stop()
    }
}
