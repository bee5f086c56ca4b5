import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Pipeline
import Rendering
import ScenePackage
@testable import Service
import Testing
import TestSupport

/// The service on loopback: a real HTTP server, real uploads, real downloads.
@Suite(.serialized) struct ServiceTests {
    /// A running service on a free port, with its data folder; stopped by `stop()`.
    final class Running: @unchecked Sendable {
        let data: URL
        let base: URL
        let task: Task<Void, any Error>
        let store: any ServiceRecords
        let stopper = ServiceServer.Stopper()
        /// The live sessions of the server.
        let sessions: SessionHub

        let dicomPort: Int

        /// `dicom`: a receiver on `dicom.port`; `data`: the folder of a service that ran before;
        /// `postgres`: the records in this PostgreSQL database (the blobs in `data`), not SQLite.
        init(maxUploadBytes: Int64 = 1 << 30, dicom: DicomIntake.Settings? = nil, data: URL? = nil, workers: Int = 1,
             jobLimits: JobLimits = JobLimits(), postgres: String? = nil,
             configure: (inout ServiceServer.Settings) -> Void = { _ in }) async throws {
            self.data = try data ?? Fixtures.temporaryFolder("service")
            var settings = ServiceServer.Settings(data: self.data)
            settings.port = 0
            settings.workers = workers
            settings.maxUploadBytes = maxUploadBytes
            settings.maxUncompressedBytes = 256 << 20
            settings.pipeline.renderSize = 128
            settings.pipeline.maxTriangles = 20_000
            settings.pipeline.shaders = Fixtures.root.appendingPathComponent("Shaders")
            settings.jobExecutable = CommandLineTool.executable
            settings.jobLimits = jobLimits
            configure(&settings)
            dicomPort = dicom?.port ?? 0
            settings.dicom = dicom
            let folder = self.data
            let server = try postgres.map { ServiceServer(settings: settings, store: try ServiceStore(postgres: $0, storage: folder)) }
                ?? ServiceServer(settings: settings)
            store = server.store
            sessions = server.sessions
            let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
            let stopper = self.stopper
            task = Task {
                defer { continuation.finish() }
                try await server.run(stopper: stopper) { port in continuation.yield(port) }
            }
            var port = 0
            for await value in stream {
                port = value
                break
            }
            if port == 0, case .failure(let error) = await task.result { throw error }
            base = URL(string: "http://127.0.0.1:\(port)")!
        }

        func stop(keepData: Bool = false) async {
            await stopper.stop()
            _ = await task.result
            if !keepData { try? FileManager.default.removeItem(at: data) }
        }

        func request(_ method: String, _ path: String, token: String? = nil, body: Data? = nil, type: String? = nil,
                     headers: [String: String] = [:]) async throws -> (Int, Data, HTTPURLResponse) {
            var request = URLRequest(url: URL(string: base.absoluteString + path)!)
            request.httpMethod = method
            request.timeoutInterval = 120
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if let type { request.setValue(type, forHTTPHeaderField: "Content-Type") }
            for (key, value) in headers { request.setValue(value, forHTTPHeaderField: key) }
            request.httpBody = body
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            return (http.statusCode, data, http)
        }

        func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }

        /// Uploads the sample as a study that is kept without a job; its id.
        func keptSample(token: String) async throws -> String {
            let (status, answer, _) = try await request("POST", "/v1/studies?process=false", token: token, body: try ServiceTests.sampleZip(),
                                                        type: "application/zip")
            #expect(status == 201, "\(String(decoding: answer, as: UTF8.self))")
            return try #require(json(answer)["studyId"] as? String)
        }

        /// Polls a job until it ends.
        func wait(job id: String, token: String) async throws -> [String: Any] {
            for _ in 0..<240 {
                let (_, data, _) = try await request("GET", "/v1/jobs/\(id)", token: token)
                let job = json(data)
                if let state = job["state"] as? String, ["done", "failed", "cancelled"].contains(state) { return job }
                try await Task.sleep(nanoseconds: 250_000_000)
            }
            Issue.record("job \(id) did not end")
            return [:]
        }
    }

    static func sampleZip() throws -> Data {
        try ZipMaker.study(Fixtures.sampleCTFiles)
    }

    /// The main scenario, with the records in SQLite (one machine) and in PostgreSQL (several).
    @Test(arguments: [false, true])
    func aStudyUploadedBecomesAPackageThatDownloadsResumesVerifiesAndShares(onPostgreSQL: Bool) async throws {
        let database = onPostgreSQL ? try TestPostgres() : nil
        defer { database?.stop() }
        let service = try await Running(postgres: try database?.newDatabase())
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let other = try service.store.createToken(role: .submitter, name: "someone else")
        let host = try service.store.createToken(role: .host, name: "conference")
        do {
            let (status, body, _) = try await service.request("POST", "/v1/studies", token: submitter, body: try Self.sampleZip(), type: "application/zip")
            #expect(status == 202, "\(String(decoding: body, as: UTF8.self))")
            let jobID = try #require(service.json(body)["jobId"] as? String)
            let job = try await service.wait(job: jobID, token: submitter)
            #expect(job["state"] as? String == "done", "\(job)")
            let packageID = try #require(job["packageId"] as? String)
            // The archive, whole and resumed from the middle, verifies.
            let (ok, archive, response) = try await service.request("GET", "/v1/packages/\(packageID)/archive", token: submitter)
            #expect(ok == 200 && response.value(forHTTPHeaderField: "ETag") == "\"\(packageID)\"")
            let half = archive.count / 2
            let (partial, rest, _) = try await service.request("GET", "/v1/packages/\(packageID)/archive", token: submitter,
                                                               headers: ["Range": "bytes=\(half)-"])
            #expect(partial == 206 && archive.prefix(half) + rest == archive)
            let folder = try Fixtures.temporaryFolder("download")
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = folder.appendingPathComponent("scene.zip")
            try (archive.prefix(half) + rest).write(to: file)
            let check = Verification.verify(file)
            #expect(check.ok, "\(check.problems)")
            let (notModified, _, _) = try await service.request("GET", "/v1/packages/\(packageID)/archive", token: submitter,
                                                                headers: ["If-None-Match": "\"\(packageID)\""])
            #expect(notModified == 304)
            // One file and the manifest.
            let (fileStatus, png, _) = try await service.request("GET", "/v1/packages/\(packageID)/files/renders/anterior-thumbnail.png", token: submitter)
            #expect(fileStatus == 200 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
            let (manifestStatus, manifest, _) = try await service.request("GET", "/v1/packages/\(packageID)", token: submitter)
            #expect(manifestStatus == 200 && service.json(manifest)["package_id"] as? String == packageID)
            // Access: no token, someone else's token, a host without a share, a share link.
            #expect(try await service.request("GET", "/v1/packages/\(packageID)/archive").0 == 401)
            #expect(try await service.request("GET", "/v1/packages/\(packageID)/archive", token: other).0 == 403)
            #expect(try await service.request("GET", "/v1/packages/\(packageID)/archive", token: host).0 == 403)
            #expect(try await service.request("GET", "/v1/jobs/\(jobID)", token: other).0 == 404)
            let (created, share, _) = try await service.request("POST", "/v1/packages/\(packageID)/shares", token: submitter,
                                                                body: Data(#"{"expiresInHours": 2}"#.utf8), type: "application/json")
            #expect(created == 201)
            let shareToken = try #require(service.json(share)["token"] as? String)
            let url = try #require(service.json(share)["url"] as? String)
            let (shared, sharedArchive, _) = try await service.request("GET", url)
            #expect(shared == 200 && sharedArchive == archive)
            #expect(try await service.request("GET", "/v1/packages/\(packageID)", token: shareToken).0 == 200)
            // A trainer with the share link gathers the package into a course; without it, refused.
            let trainer = try service.store.createToken(role: .trainer, name: "course")
            let course = Data(#"{"name": "Skull base", "items": [{"package": "\#(packageID)", "share": "\#(shareToken)", "notes": "fracture"}]}"#.utf8)
            let (made, collection, _) = try await service.request("POST", "/v1/collections", token: trainer, body: course, type: "application/json")
            #expect(made == 201, "\(String(decoding: collection, as: UTF8.self))")
            let items = try #require(service.json(collection)["items"] as? [[String: Any]])
            #expect(items.first?["notes"] as? String == "fracture")
            let itemURL = try #require(items.first?["url"] as? String)
            #expect(try await service.request("GET", itemURL).1 == archive)
            let noShare = Data(#"{"name": "x", "items": [{"package": "\#(packageID)"}]}"#.utf8)
            #expect(try await service.request("POST", "/v1/collections", token: trainer, body: noShare, type: "application/json").0 == 403)
            #expect(try await service.request("POST", "/v1/collections", token: submitter, body: course, type: "application/json").0 == 403)
            let badKey = Data(#"{"name": "x", "colour": 1, "items": []}"#.utf8)
            #expect(try await service.request("POST", "/v1/collections", token: trainer, body: badKey, type: "application/json").0 == 400)
            let collectionID = try #require(service.json(collection)["id"] as? String)
            #expect(try await service.request("GET", "/v1/collections/\(collectionID)", token: trainer).0 == 200)
            try await Self.checkViewer(service.base.absoluteString + "/view/\(packageID)?share=\(shareToken)")
            try service.store.revokeShare(token: shareToken)
            #expect(try await service.request("GET", url).0 == 403)
            #expect(try await service.request("GET", "/metrics").0 == 401)
            let admin = try service.store.createToken(role: .admin, name: "monitoring")
            let (metricsStatus, metrics, _) = try await service.request("GET", "/metrics", token: admin)
            let text = String(decoding: metrics, as: UTF8.self)
            #expect(metricsStatus == 200 && text.contains("vrprep_jobs{state=\"done\"} 1") && text.contains("vrprep_packages 1"), "\(text)")
            let (listed, list, _) = try await service.request("GET", "/v1/packages", token: submitter)
            #expect(listed == 200 && (service.json(list)["packages"] as? [String]) == [packageID])
            #expect((service.json(try await service.request("GET", "/v1/packages", token: other).1)["packages"] as? [String]) == [])
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    @Test func badUploadsAreRefusedWithAClearBodyAndTheServiceGoesOn() async throws {
        let service = try await Running(maxUploadBytes: 40 << 20)
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let folder = try Fixtures.temporaryFolder("bad-uploads")
        defer { try? FileManager.default.removeItem(at: folder) }
        func zip(_ name: String, _ entries: [(String, Data)]) throws -> Data {
            let url = folder.appendingPathComponent(name)
            try ZipMaker.make(url, entries: entries)
            return try Data(contentsOf: url)
        }
        let dicom = try Data(contentsOf: Fixtures.sampleCTFiles[0])
        let cases: [(String, Data, String?, Int, String)] = [
            ("traversal", try zip("a.zip", [("../../escape.dcm", dicom)]), "application/zip", 422, "outside"),
            ("bomb", try zip("b.zip", [("zeros.dcm", Data(count: 300 << 20))]), "application/zip", 422, "inflates past"),
            ("not DICOM", try zip("c.zip", [("notes.txt", Data("hello".utf8))]), "application/zip", 422, "no DICOM file"),
            ("not a zip", Data("plain text".utf8), "application/zip", 422, "not a readable zip"),
            ("too large", Data(count: 41 << 20), "application/zip", 413, "limit"),
            ("wrong type", dicom, "application/octet-stream", 415, "one zip archive"),
        ]
        do {
            for (name, body, type, expected, words) in cases {
                let (status, answer, _) = try await service.request("POST", "/v1/studies", token: submitter, body: body, type: type)
                let text = String(decoding: answer, as: UTF8.self)
                #expect(status == expected && text.contains(words), "\(name): \(status) \(text)")
                #expect(try await service.request("GET", "/healthz").0 == 200, "\(name): the service must go on")
            }
            // A form without a file part, and a broken form.
            let boundary = "vrprep-test-boundary"
            let field = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--\(boundary)--\r\n".utf8)
            let (noFile, noFileBody, _) = try await service.request("POST", "/v1/studies", token: submitter, body: field,
                                                                    type: "multipart/form-data; boundary=\(boundary)")
            #expect(noFile == 400 && String(decoding: noFileBody, as: UTF8.self).contains("no file part"))
            #expect(try await service.request("POST", "/v1/studies", token: submitter, body: Data("garbage".utf8),
                                              type: "multipart/form-data; boundary=\(boundary)").0 == 400)
            #expect(try await service.request("POST", "/v1/studies", body: dicom, type: "application/zip").0 == 401)
            let host = try service.store.createToken(role: .host, name: "conference")
            #expect(try await service.request("POST", "/v1/studies", token: host, body: dicom, type: "application/zip").0 == 403)
            #expect((try FileManager.default.contentsOfDirectory(atPath: service.data.appendingPathComponent("uploads").path)).isEmpty)
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }
}

extension ServiceTests {
    /// One good CT slice and three broken files (a header claiming 65535 × 65535 pixels, a
    /// truncated file, BitsAllocated 7): the job fails saying the series is too thin for a scene,
    /// and its JSON names every file that was not used, with why, inside the study.
    @Test func aStudyOfOneSliceAndBrokenFilesFailsSayingSoAndNamesEveryRefusedFile() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let good = try Data(contentsOf: Fixtures.sampleCTFiles[40])
        var huge = DicomWriter.ctSlice(series: "1.2.3.66", instance: 1, rows: 4, columns: 4, pixels: [Int16](repeating: 0, count: 16), position: .zero)
        huge.set(0x0028, 0x0010, us: 65535)
        huge.set(0x0028, 0x0011, us: 65535)
        var seven = DicomWriter.ctSlice(series: "1.2.3.67", instance: 1, rows: 4, columns: 4, pixels: [Int16](repeating: 0, count: 16), position: .zero)
        seven.set(0x0028, 0x0100, us: 7)
        let folder = try Fixtures.temporaryFolder("thin")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("study.zip")
        try ZipMaker.make(url, entries: [("CT/good.dcm", good), ("CT/huge.dcm", huge.fileData(sopInstanceUID: "1.2.3.66.1")),
                                         ("CT/truncated.dcm", good.prefix(good.count / 2)),
                                         ("CT/seven.dcm", seven.fileData(sopInstanceUID: "1.2.3.67.1"))])
        do {
            let (status, answer, _) = try await service.request("POST", "/v1/studies", token: submitter, body: try Data(contentsOf: url),
                                                                type: "application/zip")
            #expect(status == 202)
            let id = try #require(service.json(answer)["jobId"] as? String)
            let job = try await service.wait(job: id, token: submitter)
            #expect(job["state"] as? String == "failed")
            let error = job["error"] as? String ?? ""
            #expect(error.contains("too thin for a 3D scene") && error.contains("3 files were not used"), "\(error)")
            let rejected = (job["rejected"] as? [[String: String]]) ?? []
            #expect(Set(rejected.compactMap { $0["path"] }) == ["CT/huge.dcm", "CT/truncated.dcm", "CT/seven.dcm"], "\(rejected)")
            #expect(rejected.allSatisfy { !($0["reason"] ?? "").isEmpty })
            #expect(!String(decoding: answer + (try JSONSerialization.data(withJSONObject: job)), as: UTF8.self).contains(service.data.path),
                    "no server path in what the sender sees")
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    /// A study kept without a job: listed for its owner (what it holds once inspected), its series
    /// as `vrprep inspect --json` gives them, invisible to another submitter, seen by an admin.
    @Test func aStudyIsKeptWithoutAJobAndOnlyItsOwnerAndAdminsSeeIt() async throws {
        let service = try await Running()
        let (owner, other) = (try service.store.createToken(role: .submitter, name: "a"), try service.store.createToken(role: .submitter, name: "b"))
        let admin = try service.store.createToken(role: .admin, name: "admin")
        do {
            let (status, answer, _) = try await service.request("POST", "/v1/studies?process=false", token: owner, body: try Self.sampleZip(),
                                                                type: "application/zip")
            #expect(status == 201 && service.json(answer)["jobId"] == nil, "\(status) \(String(decoding: answer, as: UTF8.self))")
            let id = try #require(service.json(answer)["studyId"] as? String)
            #expect((service.json(try await service.request("GET", "/v1/jobs", token: owner).1)["jobs"] as? [Any])?.isEmpty == true)
            let (one, body, _) = try await service.request("GET", "/v1/studies/\(id)", token: owner)
            let detail = service.json(body)
            let series = (detail["series"] as? [[String: Any]]) ?? []
            #expect(one == 200 && series.count == 1 && series.first?["dimensions"] as? [Int] == [256, 256, 108], "\(detail)")
            #expect(series.first?["modality"] as? String == "CT" && detail["source"] as? [String: String] == ["kind": "upload"])
            let listed = (service.json(try await service.request("GET", "/v1/studies", token: owner).1)["studies"] as? [[String: Any]]) ?? []
            #expect(listed.count == 1 && listed.first?["id"] as? String == id && listed.first?["modality"] as? String == "CT", "\(listed)")
            // Another user's study: forbidden (its id is random, so saying it exists tells nothing).
            #expect(try await service.request("GET", "/v1/studies/\(id)", token: other).0 == 403)
            #expect(try await service.request("DELETE", "/v1/studies/\(id)", token: other).0 == 403)
            #expect((service.json(try await service.request("GET", "/v1/studies", token: other).1)["studies"] as? [Any])?.isEmpty == true)
            #expect(try await service.request("GET", "/v1/studies/\(id)", token: admin).0 == 200)
            #expect(try await service.request("GET", "/v1/studies/\(id)?share=vrs_anything").0 == 401, "a share link never opens a study")
            // What the study holds is read once and kept: the kept copy answers (a mark put into it
            // shows) while the study's files are unchanged; once they change, the study is read again.
            let kept = service.store.folders.inspection(id)
            var copy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: kept)) as? [String: Any])
            var inspection = copy["inspection"] as? [String: Any] ?? [:]
            var keptSeries = inspection["series"] as? [[String: Any]] ?? []
            keptSeries[0]["description"] = "read from the kept copy"
            inspection["series"] = keptSeries; copy["inspection"] = inspection
            try JSONSerialization.data(withJSONObject: copy).write(to: kept)
            let marked = String(decoding: try await service.request("GET", "/v1/studies/\(id)", token: owner).1, as: UTF8.self)
            #expect(marked.contains("read from the kept copy"))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: service.store.folders.study(id).path)
            let reread = String(decoding: try await service.request("GET", "/v1/studies/\(id)", token: owner).1, as: UTF8.self)
            #expect(!reread.contains("read from the kept copy") && reread.contains("\"dimensions\""), "\(reread)")
            // A package of it, with a recipe: refused when the recipe is wrong, made as asked when right.
            let wrong = try await service.request("POST", "/v1/studies/\(id)/jobs", token: owner,
                                                  body: Data(#"{"structures": [{"preset": "bone", "radiusMM": 3}]}"#.utf8), type: "application/json")
            #expect(wrong.0 == 400 && String(decoding: wrong.1, as: UTF8.self).contains("radiusMM is for the tumor preset"))
            #expect(try await service.request("POST", "/v1/studies/\(id)/jobs", token: other, body: Data("{}".utf8)).0 == 403)
            // A scene for a headset: an unknown profile is refused naming the known ones.
            let tablet = try await service.request("POST", "/v1/studies/\(id)/jobs?profile=tablet", token: owner,
                                                   body: Data(#"{"structures": [{"preset": "bone"}]}"#.utf8), type: "application/json")
            #expect(tablet.0 == 400 && String(decoding: tablet.1, as: UTF8.self).contains("desktop, headset, phone, print"))
            let (made, madeBody, _) = try await service.request("POST", "/v1/studies/\(id)/jobs?profile=headset", token: owner,
                                                                body: Data(#"{"structures": [{"preset": "bone"}]}"#.utf8), type: "application/json")
            #expect(made == 202)
            let job = try await service.wait(job: try #require(service.json(madeBody)["jobId"] as? String), token: owner)
            #expect(job["state"] as? String == "done" && job["studyId"] as? String == id && job["profile"] as? String == "headset", "\(job)")
            let package = try #require(job["packageId"] as? String)
            let manifest = service.json(try await service.request("GET", "/v1/packages/\(package)", token: owner).1)
            #expect((manifest["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["bone"], "\(manifest)")
            #expect((manifest["profile"] as? [String: Any])?["name"] as? String == "headset")
            let levels = (manifest["levels"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(levels == ["preview", "full"], "\(manifest["levels"] ?? "none")")
            // The USDZ goes as AR Quick Look wants it.
            let (usdzStatus, _, usdz) = try await service.request("GET", "/v1/packages/\(package)/files/scene.usdz", token: owner)
            #expect(usdzStatus == 200 && usdz.value(forHTTPHeaderField: "Content-Type") == "model/vnd.usdz+zip", "\(usdzStatus) \(usdz)")
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    @Test func filesSentAsAFormBecomeAJob() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            // The sample's slices as form files (what a browser or `curl -F` sends).
            let boundary = "----vrprep\(UUID().uuidString)"
            var body = Data()
            for url in Fixtures.sampleCTFiles {
                body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\(url.lastPathComponent)\"\r\nContent-Type: application/dicom\r\n\r\n".utf8)
                body += try Data(contentsOf: url) + Data("\r\n".utf8)
            }
            body += Data("--\(boundary)--\r\n".utf8)
            let (status, answer, _) = try await service.request("POST", "/v1/studies", token: submitter, body: body,
                                                                type: "multipart/form-data; boundary=\(boundary)")
            #expect(status == 202, "\(String(decoding: answer, as: UTF8.self))")
            let job = try await service.wait(job: try #require(service.json(answer)["jobId"] as? String), token: submitter)
            #expect(job["state"] as? String == "done", "\(job)")
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    @Test func aJobInterruptedByAKillFinishesAfterARestart() async throws {
        let data = try Fixtures.temporaryFolder("service-kill")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = try ServiceStore(data: data)
        let token = try store.createToken(role: .submitter, name: "surgeon")
        func call(_ port: Int, _ method: String, _ path: String, body: Data? = nil) async throws -> (Int, [String: Any], Data) {
            try await APIClient(port: port, token: token).call(method, path, body: body)
        }
        let first = try ServeProcess(data: data)
        let (accepted, created, _) = try await call(first.port, "POST", "/v1/studies", body: try Self.sampleZip())
        #expect(accepted == 202)
        let job = try #require(created["jobId"] as? String)
        // Kill it while the pipeline runs (past loading).
        var seen = ""
        for _ in 0..<400 {
            let state = try await call(first.port, "GET", "/v1/jobs/\(job)").1
            seen = "\(state["state"] ?? "")/\(state["stage"] ?? "")"
            if state["state"] as? String == "running", (state["percent"] as? Int ?? 0) >= 20 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        first.kill()
        #expect(seen.hasPrefix("running"), "killed at \(seen)")
        let second = try ServeProcess(data: data)
        defer { second.kill() }
        var final: [String: Any] = [:]
        for _ in 0..<600 {
            final = try await call(second.port, "GET", "/v1/jobs/\(job)").1
            if ["done", "failed"].contains(final["state"] as? String ?? "") { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(final["state"] as? String == "done", "\(final)")
        let package = try #require(final["packageId"] as? String)
        let (status, _, archive) = try await call(second.port, "GET", "/v1/packages/\(package)/archive")
        #expect(status == 200)
        let file = data.appendingPathComponent("check.zip")
        try archive.write(to: file)
        #expect(Verification.verify(file).ok)
        // Nothing half-written is listed: one package, its archive, empty staging.
        let published = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("packages").path).sorted()
        #expect(published == [package, package + ".zip"], "\(published)")
        #expect(try await call(second.port, "GET", "/v1/packages").1["packages"] as? [String] == [package])
    }
}

extension ServiceTests {
    @Test func theOpenAPIDescriptionListsExactlyTheRoutes() async throws {
        let data = try Fixtures.temporaryFolder("openapi")
        defer { try? FileManager.default.removeItem(at: data) }
        let server = try ServiceServer(settings: ServiceServer.Settings(data: data))
        let routes = server.routeList()
        let documented = OpenAPI.operations
        #expect(routes == documented, "undocumented: \(routes.subtracting(documented).sorted()); not routed: \(documented.subtracting(routes).sorted())")
        #expect(routes.count >= 14)
    }
}

extension ServiceTests {
    /// Opens the viewer in headless chromium (Debian's package, software WebGL): the page says
    /// "ready" once the scene is loaded, no script error reaches the console, and the screenshot
    /// shows the model (pixels in the canvas that are not its background).
    static func checkViewer(_ url: String) async throws {
        let folder = try Fixtures.temporaryFolder("viewer")
        defer { try? FileManager.default.removeItem(at: folder) }
        func chromium(_ extra: [String], url: String = url) throws -> (String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
            process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                                 "--window-size=800,600", "--virtual-time-budget=20000", "--enable-logging=stderr", "--v=0",
                                 "--user-data-dir=\(folder.appendingPathComponent("profile").path)"] + extra + [url]
            let (out, err) = (Pipe(), Pipe())
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
        }
        let (dom, log) = try chromium(["--dump-dom"])
        #expect(dom.contains("<div id=\"status\">ready</div>"), "the viewer did not finish loading: \(dom.suffix(400))")
        // The preview came first and the full level replaced it; a headset stops at its own level.
        #expect(dom.contains("data-level=\"full\""), "the full level is not the one shown: \(dom.prefix(600))")
        let (headset, _) = try chromium(["--dump-dom"], url: url + "&level=headset")
        #expect(headset.contains("data-level=\"headset\"") && headset.contains("<div id=\"status\">ready</div>"),
                "the headset level: \(headset.prefix(600))")
        // The same scene for a reader in Japan: every word of the page in Japanese, the structures' names too.
        let (japanese, _) = try chromium(["--dump-dom", "--lang=ja"], url: url + "&lang=ja")
        #expect(japanese.contains("<div id=\"status\">準備完了</div>") && japanese.contains("構造") && japanese.contains(" 骨 "),
                "the Japanese viewer: \(japanese.suffix(600))")
        let console = log.split(separator: "\n").filter { $0.contains(":CONSOLE:") && !$0.contains("GL Driver Message")
            && !$0.contains("OVR_multiview2") }
        #expect(console.isEmpty, "console: \(console.joined(separator: "\n"))")
        let screenshot = folder.appendingPathComponent("view.png")
        _ = try chromium(["--screenshot=\(screenshot.path)"])
        let image = try RGBAImage.readPNG(from: screenshot)
        var model = 0
        for y in stride(from: 100, to: 400, by: 4) {
            for x in stride(from: 250, to: 550, by: 4) {
                let p = image.pixel(x, y)
                if abs(Int(p.x) - 0x11) > 24 || abs(Int(p.y) - 0x11) > 24 { model += 1 }
            }
        }
        #expect(model > 500, "the model does not show: \(model) pixels differ from the background")
        // The translucent skin looks the same whatever the order of its triangles (its depth is
        // drawn first); without that depth pass, reversing the order changes what shows.
        let shots = Fixtures.root.appendingPathComponent(".build/test-artefacts/viewer")
        let run = try Self.python([Fixtures.root.appendingPathComponent("Tests/Browser/translucency_check.py").path,
                                   "--url", url, "--shots", shots.path])
        #expect(run.status == 0, "the translucency check stopped: \(run.errors.suffix(2000))")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.output)")
        let with = result["withDepthPass"] as? [String: Double] ?? [:], without = result["withoutDepthPass"] as? [String: Double] ?? [:]
        #expect(result["structure"] as? String == "skin" && (result["modelPixels"] as? Int ?? 0) > 5000, "\(result)")
        #expect((with["changedPixels"] ?? 1) < 0.002 && (with["meanDifference"] ?? 99) < 0.5, "with the depth pass: \(with)")
        #expect((without["changedPixels"] ?? 0) > 0.01, "the check tells the two apart: without the depth pass \(without)")
        #expect((result["console"] as? [String])?.isEmpty == true, "\(result["console"] ?? "")")
    }
}
