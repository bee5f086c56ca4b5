import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ScenePackage
@testable import Service
import Testing
import TestSupport
import VolumeIO

/// Studies pushed to the service by DICOM C-STORE from real peers: DCMTK's storescu/echoscu and
/// Orthanc (Debian packages dcmtk and orthanc), all on loopback.
@Suite(.serialized) struct DicomServiceTests {
    typealias Running = ServiceTests.Running

    static func settings(allowed: [String] = [], idle: Double = 2, completion: ServiceStore.Completion = .idle) -> DicomIntake.Settings {
        var settings = DicomIntake.Settings(port: Ports.free())
        settings.allowed = allowed.compactMap(DicomIntake.AllowedPeer.init(parsing:))
        settings.idleSeconds = idle
        settings.completion = completion
        return settings
    }

    /// A service with a DICOM receiver for `body`, stopped afterwards whatever happens.
    static func with(_ dicom: DicomIntake.Settings, workers: Int = 1, data: URL? = nil, keepData: Bool = false,
                     _ body: (Running) async throws -> Void) async throws {
        let service = try await Running(dicom: dicom, data: data, workers: workers)
        do {
            try await body(service)
        } catch {
            await service.stop(keepData: keepData)
            throw error
        }
        await service.stop(keepData: keepData)
    }

    static func echo(_ ae: String, _ port: Int) throws -> Int32 {
        try DcmtkTool.run("echoscu", ["-aet", ae, "-aec", "VRPREP", "127.0.0.1", String(port)]).status
    }

    static func send(_ ae: String, _ port: Int, _ files: [URL]) throws -> Int32 {
        try DcmtkTool.run("storescu", ["-R", "-aet", ae, "-aec", "VRPREP", "127.0.0.1", String(port)] + files.map(\.path)).status
    }

    /// The admin's view of the jobs once there are `count` of them (nil if they do not come).
    static func jobs(_ service: Running, admin: String, count: Int, within seconds: Double) async throws -> [[String: Any]]? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let (_, body, _) = try await service.request("GET", "/v1/jobs", token: admin)
            if let jobs = service.json(body)["jobs"] as? [[String: Any]], jobs.count >= count { return jobs }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return nil
    }

    /// The job's package, downloaded and verified; its manifest.
    static func verifiedManifest(_ service: Running, job: [String: Any], admin: String) async throws -> [String: Any] {
        let done = try await service.wait(job: try #require(job["id"] as? String), token: admin)
        #expect(done["state"] as? String == "done", "\(done)")
        let packageID = try #require(done["packageId"] as? String)
        let (status, archive, _) = try await service.request("GET", "/v1/packages/\(packageID)/archive", token: admin)
        #expect(status == 200)
        let file = service.data.appendingPathComponent("\(packageID).zip")
        try archive.write(to: file)
        #expect(Verification.verify(file).ok)
        return service.json(try await service.request("GET", "/v1/packages/\(packageID)", token: admin).1)
    }

    /// The sample's slices ordered by position along the slice normal (here: by z).
    static func sampleByPosition() throws -> [URL] {
        try Fixtures.sampleCTFiles.map { url in (url, try DicomFile(path: url.path).doubles(.imagePositionPatient)?[2] ?? 0) }
            .sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// A new study made of the sample's `count` lowest slices, with its own study, series and instance UIDs.
    static func derivedStudy(_ n: Int, slices count: Int, in folder: URL) throws -> [URL] {
        let target = folder.appendingPathComponent("study\(n)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let files = try Array(sampleByPosition().prefix(count)).map { source in
            let copy = target.appendingPathComponent(source.lastPathComponent)
            try FileManager.default.copyItem(at: source, to: copy)
            return copy
        }
        let root = "1.2.826.0.1.3680043.10.1199.\(Int.random(in: 1000..<9999)).\(n)"
        let result = try DcmtkTool.run("dcmodify", ["-nb", "-gin", "-m", "(0020,000d)=\(root).1", "-m", "(0020,000e)=\(root).2"] + files.map(\.path))
        #expect(result.status == 0, "\(result.output)")
        return files
    }

    @Test func aStudySentByStorescuBecomesAPackage() async throws {
        try await Self.with(Self.settings(allowed: ["SURGERY"])) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            #expect(try Self.echo("SURGERY", service.dicomPort) == 0)
            #expect(try Self.echo("STRANGER", service.dicomPort) != 0)
            #expect(try Self.send("SURGERY", service.dicomPort, Fixtures.sampleCTFiles) == 0)
            // The study becomes a job once idle, listed with its source.
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 20)?.first)
            let source = try #require(job["source"] as? [String: Any])
            #expect(source["kind"] as? String == "dicom" && source["callingAE"] as? String == "SURGERY")
            #expect((source["peer"] as? String)?.hasPrefix("127.0.0.1") == true)
            #expect(job["instances"] as? Int == 108)
            let manifest = try await Self.verifiedManifest(service, job: job, admin: admin)
            #expect(((manifest["source"] as? [String: Any])?["dimensions"] as? [Int]) == [256, 256, 108])
            // The received study is kept as a study of its sender, shown in its job.
            let study = try #require(job["studyId"] as? String)
            let (status, body, _) = try await service.request("GET", "/v1/studies/\(study)", token: admin)
            let kept = service.json(body)
            #expect(status == 200 && (kept["source"] as? [String: Any])?["callingAE"] as? String == "SURGERY", "\(kept)")
        }
    }

    @Test func peersStoredInTheDatabaseSayWhoSendsWithWhichRecipeAndWhenTheStudyEnds() async throws {
        // Nobody allowed on the command line; an idle time far longer than the test.
        try await Self.with(Self.settings(idle: 600)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
            let port = service.dicomPort
            #expect(try Self.echo("CARDIO", port) != 0)
            func put(_ ae: String, _ body: String, token: String) async throws -> (Int, [String: Any]) {
                let (status, data, _) = try await service.request("PUT", "/v1/dicom/peers/\(ae)", token: token, body: Data(body.utf8),
                                                                  type: "application/json")
                return (status, service.json(data))
            }
            // Refused: not an admin, an unknown key, a recipe that is not one, a rule that does not exist, not an AE title.
            #expect(try await put("CARDIO", "{}", token: submitter).0 == 403)
            #expect(try await put("CARDIO", #"{"colour": "red"}"#, token: admin).0 == 400)
            #expect(try await put("CARDIO", #"{"recipe": {"structures": [{"preset": "liver"}]}}"#, token: admin).0 == 400)
            #expect(try await put("CARDIO", #"{"completion": "sometimes"}"#, token: admin).0 == 400)
            #expect(try await put("MUCH-TOO-LONG-AE-TITLE", "{}", token: admin).0 == 400)
            #expect(try Self.echo("CARDIO", port) != 0)
            // Allowed with a recipe (skin only) and completion on release: no restart needed.
            let (created, peer) = try await put("CARDIO", #"{"completion": "release", "recipe": {"structures": [{"preset": "skin"}]}}"#,
                                                token: admin)
            #expect(created == 201 && peer["completion"] as? String == "release")
            #expect(try Self.echo("CARDIO", port) == 0)
            // A peer bound to another host is refused from here.
            #expect(try await put("REMOTE", #"{"host": "192.0.2.7"}"#, token: admin).0 == 201)
            #expect(try Self.echo("REMOTE", port) != 0)
            #expect(try await put("LOCAL", #"{"host": "localhost"}"#, token: admin).0 == 201)
            #expect(try Self.echo("LOCAL", port) == 0)
            let listed = service.json(try await service.request("GET", "/v1/dicom/peers", token: admin).1)["peers"] as? [[String: Any]]
            #expect(listed?.compactMap { $0["aeTitle"] as? String } == ["CARDIO", "LOCAL", "REMOTE"])

            // The study is a job as soon as its association is released (the idle time is 10 minutes).
            let started = Date()
            #expect(try Self.send("CARDIO", port, Fixtures.sampleCTFiles) == 0)
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 10)?.first)
            #expect(Date().timeIntervalSince(started) < 30)
            #expect(job["instances"] as? Int == 108 && job["state"] as? String != nil)
            let manifest = try await Self.verifiedManifest(service, job: job, admin: admin)
            let structures = (manifest["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(structures == ["skin"], "the peer's recipe was not used: \(structures ?? [])")

            // Removed: refused again.
            #expect(try await service.request("DELETE", "/v1/dicom/peers/CARDIO", token: admin).0 == 204)
            #expect(try await service.request("DELETE", "/v1/dicom/peers/CARDIO", token: admin).0 == 404)
            #expect(try Self.echo("CARDIO", port) != 0)
        }
    }

    @Test func fourAssociationsAtOnceSendingFourStudiesMakeFourPackagesNothingMixed() async throws {
        let folder = try Fixtures.temporaryFolder("four-studies")
        defer { try? FileManager.default.removeItem(at: folder) }
        // Four studies told apart by their slice count (so that a slice filed in the wrong study shows).
        let counts = [108, 100, 92, 84]
        let studies = try counts.enumerated().map { try Self.derivedStudy($0.offset, slices: $0.element, in: folder) }
        try await Self.with(Self.settings(allowed: ["SURGERY"], completion: .release), workers: 2) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let statuses = try DcmtkTool.storeAtOnce(studies.map { $0.map(\.path) }, callingAE: "SURGERY", port: service.dicomPort)
            #expect(statuses == [0, 0, 0, 0])
            let jobs = try #require(try await Self.jobs(service, admin: admin, count: 4, within: 20))
            #expect(jobs.count == 4)
            #expect(jobs.compactMap { $0["instances"] as? Int }.sorted() == counts.sorted())
            var packages = Set<String>()
            for job in jobs {
                let manifest = try await Self.verifiedManifest(service, job: job, admin: admin)
                let dimensions = (manifest["source"] as? [String: Any])?["dimensions"] as? [Int]
                #expect(dimensions == [256, 256, job["instances"] as? Int ?? -1], "a study mixed with another: \(dimensions ?? [])")
                packages.insert(manifest["package_id"] as? String ?? "")
            }
            #expect(packages.count == 4)
        }
    }

    @Test func aStudyBeingReceivedWhenTheServiceStopsGoesOnAfterTheRestart() async throws {
        let data = try Fixtures.temporaryFolder("restart")
        defer { try? FileManager.default.removeItem(at: data) }
        let files = try Self.sampleByPosition()
        let port = Ports.free()
        var first = Self.settings(allowed: ["SURGERY"], idle: 600)
        first.port = port
        // The first half arrives; the service stops before the study is complete.
        try await Self.with(first, data: data, keepData: true) { service in
            let status = try Self.send("SURGERY", port, Array(files.prefix(54)))
            #expect(status == 0)
        }
        let pending = try ServiceStore(data: data).dicomStudiesBeingReceived()
        #expect(pending.count == 1)
        // Started again: the rest arrives and the study ends as one job with every instance.
        var second = Self.settings(allowed: ["SURGERY"], idle: 1)
        second.port = port
        try await Self.with(second, data: data, keepData: true) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            #expect(try Self.send("SURGERY", port, Array(files.dropFirst(54))) == 0)
            let jobs = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 20))
            try await Task.sleep(nanoseconds: 2_000_000_000)
            let all = service.json(try await service.request("GET", "/v1/jobs", token: admin).1)["jobs"] as? [[String: Any]] ?? []
            #expect(all.count == 1)
            #expect(jobs.first?["id"] as? String == pending.first?.id && jobs.first?["instances"] as? Int == 108)
            let manifest = try await Self.verifiedManifest(service, job: try #require(jobs.first), admin: admin)
            #expect(((manifest["source"] as? [String: Any])?["dimensions"] as? [Int]) == [256, 256, 108])
        }
        #expect(try ServiceStore(data: data).dicomStudiesBeingReceived().isEmpty)
    }

    /// Orthanc (Debian's package) on loopback, with the service as a modality named "vrprep".
    final class Orthanc {
        let folder: URL
        let process = Process()
        let http: URL
        /// Its DICOM port (AE title ORTHANC).
        let dicomPort = Ports.free()

        /// `dicomWeb`: with Debian's DICOMweb plugin (orthanc-dicomweb) at /dicom-web/.
        init(servicePort: Int, dicomWeb: Bool = false) throws {
            folder = try Fixtures.temporaryFolder("orthanc")
            let httpPort = Ports.free()
            http = URL(string: "http://127.0.0.1:\(httpPort)")!
            let configuration: [String: Any] = [
                "Name": "VRPrep test", "StorageDirectory": folder.appendingPathComponent("storage").path,
                "IndexDirectory": folder.appendingPathComponent("index").path, "HttpPort": httpPort,
                "DicomPort": dicomPort, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
                "AuthenticationEnabled": false,
                "Plugins": dicomWeb ? ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"] : [String](),
                "DicomWeb": ["Enable": dicomWeb, "Root": "/dicom-web/"],
                "DicomModalities": ["vrprep": ["VRPREP", "127.0.0.1", servicePort]],
            ]
            let file = folder.appendingPathComponent("orthanc.json")
            try JSONSerialization.data(withJSONObject: configuration).write(to: file)
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/Orthanc")
            process.arguments = [file.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func stop() {
            // SIGKILL: the test process blocks SIGTERM and SIGINT (the service's graceful stop
            // listens for them), and a child started from it inherits that mask.
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: folder)
        }

        func request(_ method: String, _ path: String, body: Data? = nil) async throws -> (Int, Data) {
            var request = URLRequest(url: http.appendingPathComponent(path))
            request.httpMethod = method
            request.httpBody = body
            request.timeoutInterval = 120
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        }

        /// Waits until its REST API answers.
        func ready() async -> Bool {
            for _ in 0..<100 {
                if let (status, _) = try? await request("GET", "/system"), status == 200 { return true }
                try? await Task.sleep(nanoseconds: 200_000_000)
            }
            return false
        }
    }

    @Test func orthancToldByItsRestAPIToSendAStudyMakesAPackage() async throws {
        try await Self.with(Self.settings(idle: 600)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            // Orthanc sends as ORTHANC; the service takes it, the study ending when Orthanc releases the association.
            let (status, _, _) = try await service.request("PUT", "/v1/dicom/peers/ORTHANC", token: admin,
                                                           body: Data(#"{"host": "127.0.0.1", "completion": "release"}"#.utf8),
                                                           type: "application/json")
            #expect(status == 201)
            let orthanc = try Orthanc(servicePort: service.dicomPort)
            defer { orthanc.stop() }
            #expect(await orthanc.ready(), "Orthanc did not start")
            for file in Fixtures.sampleCTFiles {
                let (stored, body) = try await orthanc.request("POST", "/instances", body: try Data(contentsOf: file))
                #expect(stored == 200, "\(String(decoding: body, as: UTF8.self))")
            }
            let studies = try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/studies").1) as? [String]
            let study = try #require(studies?.first)
            #expect(studies?.count == 1)
            // The REST call a PACS administrator (or a routing rule) makes: send the study to the modality "vrprep".
            let (sent, answer) = try await orthanc.request("POST", "/modalities/vrprep/store", body: Data(study.utf8))
            #expect(sent == 200, "\(String(decoding: answer, as: UTF8.self))")
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 60)?.first)
            let source = try #require(job["source"] as? [String: Any])
            #expect(source["callingAE"] as? String == "ORTHANC" && job["instances"] as? Int == 108)
            let manifest = try await Self.verifiedManifest(service, job: job, admin: admin)
            #expect(((manifest["source"] as? [String: Any])?["dimensions"] as? [Int]) == [256, 256, 108])
        }
    }
}

extension DicomServiceTests {
    @Test func aStudyTooLargeForItsLimitIsRefusedAndEndsAsAFailedJobThatSaysWhy() async throws {
        var settings = Self.settings(allowed: ["SURGERY"], idle: 1)
        settings.maxStudyBytes = 2 << 20  // about 15 of the sample's 108 slices
        try await Self.with(settings) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let sent = try DcmtkTool.run("storescu", ["-v", "--no-halt", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1",
                                                  String(service.dicomPort)] + Fixtures.sampleCTFiles.map(\.path))
            #expect(sent.output.contains("Refused: OutOfResources") || sent.output.contains("0xa700") || sent.output.contains("0xA700"),
                    "\(sent.output.suffix(800))")
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 20)?.first)
            #expect(job["state"] as? String == "failed")
            let error = job["error"] as? String ?? ""
            #expect(error.contains("--dicom-max-study-mb") && error.contains("refused"), "\(error)")
            let received = job["instances"] as? Int ?? 0
            #expect(received > 0 && received < 108)
            // Nothing kept of the partial study.
            let folder = service.data.appendingPathComponent("uploads").appendingPathComponent(job["id"] as? String ?? "")
            #expect(!FileManager.default.fileExists(atPath: folder.path))
        }
    }

    @Test func allowedPeersParseAndHostsMatchByAddressOrName() {
        #expect(DicomIntake.AllowedPeer(parsing: "PACS") == DicomIntake.AllowedPeer(aeTitle: "PACS"))
        #expect(DicomIntake.AllowedPeer(parsing: "CT 2@10.1.2.3") == DicomIntake.AllowedPeer(aeTitle: "CT 2", host: "10.1.2.3"))
        for bad in ["", "   ", "A\\B", "SEVENTEEN-LETTERS", "PACS@", "@HOST", "ÄRZTE"] {
            #expect(DicomIntake.AllowedPeer(parsing: bad) == nil, "\(bad)")
        }
        #expect(DicomIntake.host(nil, matches: "10.0.0.1"))
        #expect(DicomIntake.host("10.0.0.1", matches: "10.0.0.1"))
        #expect(DicomIntake.host("10.0.0.1", matches: "::ffff:10.0.0.1"))
        #expect(!DicomIntake.host("10.0.0.2", matches: "10.0.0.1"))
        #expect(DicomIntake.host("localhost", matches: "127.0.0.1"))
        #expect(!DicomIntake.host("no-such-host.invalid", matches: "127.0.0.1"))
    }
}

/// The round trip: a PACS sends a study, the service makes its package and sends the results back
/// into the same study of that PACS (issue "Back to the hospital").
extension DicomServiceTests {
    /// Orthanc is given the sample study and told to send it to the service: Orthanc's study id and the job's.
    static func orthancSendsTheSample(_ orthanc: Orthanc, to service: Running, admin: String) async throws -> (study: String, job: String) {
        for file in Fixtures.sampleCTFiles {
            _ = try await orthanc.request("POST", "/instances", body: try Data(contentsOf: file))
        }
        let study = try #require((try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/studies").1) as? [String])?.first)
        #expect(try await orthanc.request("POST", "/modalities/vrprep/store", body: Data(study.utf8)).0 == 200)
        let job = try #require(try await jobs(service, admin: admin, count: 1, within: 60)?.first)
        return (study, try #require(job["id"] as? String))
    }

    /// The series Orthanc holds in a study, as "MODALITY:instances", sorted.
    static func seriesHeld(by orthanc: Orthanc, study: String) async throws -> [String] {
        let series = try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/studies/\(study)/series").1) as? [[String: Any]] ?? []
        return series.map { entry in
            "\((entry["MainDicomTags"] as? [String: Any])?["Modality"] as? String ?? "?"):\((entry["Instances"] as? [Any])?.count ?? 0)"
        }.sorted()
    }

    /// A job's "returned" once `until` holds of it (or after 60 s, as it then is).
    static func returned(_ service: Running, job id: String, admin: String,
                         until: ([String: Any]) -> Bool) async throws -> [String: Any] {
        var returned: [String: Any] = [:]
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            returned = (service.json(try await service.request("GET", "/v1/jobs/\(id)", token: admin).1)["returned"] as? [String: Any]) ?? [:]
            if until(returned) { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        return returned
    }

    @Test func orthancSendsAStudyAndGetsItsSegmentationAndModelsBackInTheSameStudy() async throws {
        try await Self.with(Self.settings(idle: 600)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let orthanc = try Orthanc(servicePort: service.dicomPort)
            defer { orthanc.stop() }
            #expect(await orthanc.ready(), "Orthanc did not start")
            // Orthanc sends as ORTHANC, and its results go back to its own Storage SCP.
            let peer = #"{"host": "127.0.0.1", "completion": "release", "returnTo": {"ae": "ORTHANC", "host": "127.0.0.1", "port": \#(orthanc.dicomPort)}}"#
            let (status, saved, _) = try await service.request("PUT", "/v1/dicom/peers/ORTHANC", token: admin, body: Data(peer.utf8),
                                                               type: "application/json")
            #expect(status == 201 && (service.json(saved)["returnTo"] as? [String: Any])?["port"] as? Int == orthanc.dicomPort)
            let bad = #"{"returnTo": {"ae": "ORTHANC", "host": "127.0.0.1", "port": 70000}}"#
            #expect(try await service.request("PUT", "/v1/dicom/peers/X", token: admin, body: Data(bad.utf8), type: "application/json").0 == 400)
            let (study, id) = try await Self.orthancSendsTheSample(orthanc, to: service, admin: admin)
            let done = try await service.wait(job: id, token: admin)
            #expect(done["state"] as? String == "done", "\(done)")
            // The results go back: the job says so once Orthanc has them.
            let returned = try await Self.returned(service, job: id, admin: admin) { ["done", "failed"].contains($0["state"] as? String ?? "") }
            #expect(returned["state"] as? String == "done" && returned["instances"] as? Int == 3, "\(returned)")
            // Orthanc holds one study: the original CT series, the segmentation and the models.
            let studies = try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/studies").1) as? [String]
            #expect(studies == [study], "\(studies ?? [])")
            let found = try await Self.seriesHeld(by: orthanc, study: study)
            #expect(found == ["CT:108", "M3D:2", "SEG:1"], "\(found)")
            // Sent again on request: the same objects (new instances) arrive again.
            let (again, _, _) = try await service.request("POST", "/v1/jobs/\(id)/return", token: admin)
            #expect(again == 202)
            let end2 = Date().addingTimeInterval(60)
            var count = 0
            while Date() < end2 {
                let instances = try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/instances").1) as? [String] ?? []
                count = instances.count
                if count >= 108 + 6 { break }
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            #expect(count == 108 + 6, "instances in Orthanc after sending twice: \(count)")
            // The PACS forwards a segmentation of the study (here the one it got back): the service
            // makes a scene from it, and sends back its models only, not a copy of the segmentation.
            let series = try JSONSerialization.jsonObject(with: try await orthanc.request("GET", "/studies/\(study)/series").1) as? [[String: Any]] ?? []
            let segInstance = try #require(series.first { ($0["MainDicomTags"] as? [String: Any])?["Modality"] as? String == "SEG" }
                .flatMap { ($0["Instances"] as? [String])?.first })
            #expect(try await orthanc.request("POST", "/modalities/vrprep/store", body: Data(segInstance.utf8)).0 == 200)
            let fromSeg = try #require(try await Self.newJobs(service, admin: admin, besides: [id], count: 1).first)
            let segJob = try #require(fromSeg["id"] as? String)
            #expect(try await service.wait(job: segJob, token: admin)["state"] as? String == "done")
            let segReturned = try await Self.returned(service, job: segJob, admin: admin) { ["done", "failed"].contains($0["state"] as? String ?? "") }
            #expect(segReturned["state"] as? String == "done" && segReturned["instances"] as? Int == 2, "\(segReturned)")
        }
    }

    @Test func aPeerWhoseResultsGoByStowRSGetsThemInTheSameStudy() async throws {
        try await Self.with(Self.settings(idle: 600)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let orthanc = try Orthanc(servicePort: service.dicomPort, dicomWeb: true)
            defer { orthanc.stop() }
            #expect(await orthanc.ready(), "Orthanc did not start")
            // Only a DICOMweb service to go back to: STOW-RS to Orthanc's plugin.
            let peer = #"{"host": "127.0.0.1", "completion": "release", "stow": "\#(orthanc.http.absoluteString)/dicom-web"}"#
            let (status, saved, _) = try await service.request("PUT", "/v1/dicom/peers/ORTHANC", token: admin, body: Data(peer.utf8),
                                                               type: "application/json")
            #expect(status == 201 && (service.json(saved)["returnTo"] as? [String: Any])?["stow"] as? String != nil, "\(service.json(saved))")
            let notURL = #"{"stow": "ftp://somewhere"}"#
            #expect(try await service.request("PUT", "/v1/dicom/peers/X", token: admin, body: Data(notURL.utf8), type: "application/json").0 == 400)
            let (study, id) = try await Self.orthancSendsTheSample(orthanc, to: service, admin: admin)
            #expect(try await service.wait(job: id, token: admin)["state"] as? String == "done")
            let returned = try await Self.returned(service, job: id, admin: admin) { ["done", "failed"].contains($0["state"] as? String ?? "") }
            #expect(returned["state"] as? String == "done" && returned["instances"] as? Int == 3, "\(returned)")
            let found = try await Self.seriesHeld(by: orthanc, study: study)
            #expect(found == ["CT:108", "M3D:2", "SEG:1"], "\(found)")
        }
    }

    @Test func aReturnToAPeerThatIsDownIsTriedAgainAndSaysWhyWithoutLosingThePackage() async throws {
        try await Self.with(Self.settings(allowed: ["SURGERY"], idle: 1)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            // Nobody listens on this port.
            let closed = Ports.free()
            let peer = #"{"returnTo": {"ae": "NOBODY", "host": "127.0.0.1", "port": \#(closed)}}"#
            #expect(try await service.request("PUT", "/v1/dicom/peers/SURGERY", token: admin, body: Data(peer.utf8), type: "application/json").0 == 201)
            let sent = try DcmtkTool.run("storescu", ["--no-halt", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1",
                                                      String(service.dicomPort)] + Fixtures.sampleCTFiles.map(\.path))
            #expect(sent.status == 0, "\(sent.output.suffix(400))")
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 60)?.first)
            let id = try #require(job["id"] as? String)
            let done = try await service.wait(job: id, token: admin)
            #expect(done["state"] as? String == "done" && done["packageId"] is String, "\(done)")
            let returned = try await Self.returned(service, job: id, admin: admin) {
                ($0["attempts"] as? Int ?? 0) >= 1 && $0["state"] as? String == "pending"
            }
            // Pending again with a time for the next try, and the reason; the package is there.
            #expect(returned["state"] as? String == "pending" && returned["nextAttemptAt"] is String, "\(returned)")
            #expect((returned["error"] as? String)?.contains("NOBODY") == true, "\(returned)")
            let package = try #require(done["packageId"] as? String)
            #expect(try await service.request("GET", "/v1/packages/\(package)", token: admin).0 == 200)
        }
    }
}


/// Segmentations made elsewhere, pushed by C-STORE: each becomes a scene of its study (issue
/// "Back to the hospital", import).
extension DicomServiceTests {
    /// A DICOM SEG and an RT Structure Set of the sample (two structures, "label 1" and "label 2",
    /// which a scene names "label_1" and "label_2"),
    /// written by `vrprep export-dicom` into `folder`.
    static func sampleSegmentations(in folder: URL) throws -> (seg: URL, rtstruct: URL) {
        let labels = folder.appendingPathComponent("labels.nii.gz")
        try NIfTI.write(try ServiceTests.sampleLabels(), to: labels)
        let out = folder.appendingPathComponent("dicom")
        let exported = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", labels.path, "--out", out.path,
                                                "--formats", "seg,rtstruct"])
        #expect(exported.status == 0, "\(exported.standardError)")
        return (out.appendingPathComponent("seg.dcm"), out.appendingPathComponent("rtstruct.dcm"))
    }

    /// The jobs the admin sees that are not in `known`, once there are `count` of them.
    static func newJobs(_ service: Running, admin: String, besides known: Set<String>, count: Int) async throws -> [[String: Any]] {
        let all = try await jobs(service, admin: admin, count: known.count + count, within: 60) ?? []
        return all.filter { !known.contains($0["id"] as? String ?? "") }
    }

    /// The names of the structures of a done job's package.
    static func structureNames(_ service: Running, job: [String: Any], admin: String) async throws -> [String] {
        let done = try await service.wait(job: try #require(job["id"] as? String), token: admin)
        #expect(done["state"] as? String == "done", "\(done)")
        let package = try #require(done["packageId"] as? String)
        let manifest = service.json(try await service.request("GET", "/v1/packages/\(package)", token: admin).1)
        return (manifest["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    }

    @Test func segmentationsPushedAfterTheirStudyOrWithItBecomeItsScenes() async throws {
        let folder = try Fixtures.temporaryFolder("pushed-segmentations")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (seg, rtstruct) = try Self.sampleSegmentations(in: folder)
        try await Self.with(Self.settings(allowed: ["SURGERY", "ELSEWHERE"], idle: 1)) { service in
            let admin = try service.store.createToken(role: .admin, name: "admin")
            // 1. The study, then (in another association) its SEG and RT Structure Set from the same AE:
            // each becomes a job of the kept study whose scene is made from it.
            #expect(try Self.send("SURGERY", service.dicomPort, Fixtures.sampleCTFiles) == 0)
            let first = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 30)?.first)
            let study = try #require(first["studyId"] as? String)
            #expect(try await service.wait(job: try #require(first["id"] as? String), token: admin)["state"] as? String == "done")
            #expect(try Self.send("SURGERY", service.dicomPort, [seg, rtstruct]) == 0)
            let pushed = try await Self.newJobs(service, admin: admin, besides: [try #require(first["id"] as? String)], count: 2)
            #expect(pushed.count == 2 && pushed.allSatisfy { $0["studyId"] as? String == study }, "\(pushed)")
            for job in pushed {
                #expect(try await Self.structureNames(service, job: job, admin: admin) == ["label_1", "label_2"])
            }
            // 2. The same SEG from an AE that never sent its study: a failed job that says why.
            let known = Set(try await Self.jobs(service, admin: admin, count: 3, within: 5)?.compactMap { $0["id"] as? String } ?? [])
            #expect(try Self.send("ELSEWHERE", service.dicomPort, [seg]) == 0)
            let orphan = try #require(try await Self.newJobs(service, admin: admin, besides: known, count: 1).first)
            #expect(orphan["state"] as? String == "failed" && (orphan["error"] as? String ?? "").contains("no study with StudyInstanceUID"),
                    "\(orphan)")
            // 3. A study and its SEG in one association (the SEG first): the study's job and the SEG's, both of that study.
            let copy = try Self.derivedStudy(1, slices: 108, in: folder)
            let uid = try #require(try DicomFile(path: copy[0].path).string(.studyInstanceUID))
            let together = folder.appendingPathComponent("together-seg.dcm")
            try FileManager.default.copyItem(at: seg, to: together)
            #expect(try DcmtkTool.run("dcmodify", ["-nb", "-m", "(0020,000d)=\(uid)", together.path]).status == 0)
            let before = Set(try await Self.jobs(service, admin: admin, count: 4, within: 5)?.compactMap { $0["id"] as? String } ?? [])
            #expect(try Self.send("SURGERY", service.dicomPort, [together] + copy) == 0)
            let both = try await Self.newJobs(service, admin: admin, besides: before, count: 2)
            let studies = Set(both.compactMap { $0["studyId"] as? String })
            #expect(both.count == 2 && studies.count == 1 && !studies.contains(study), "\(both)")
            var scenes: [[String]] = []
            for job in both { scenes.append(try await Self.structureNames(service, job: job, admin: admin)) }
            #expect(Set(scenes) == [["label_1", "label_2"], ["bone", "skin"]], "\(scenes)")
        }
    }
}
