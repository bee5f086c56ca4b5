import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ScenePackage
@testable import Service
import Testing
import TestSupport

/// Studies pushed to the service by DICOM C-STORE from real peers: DCMTK's storescu/echoscu and
/// Orthanc (Debian packages dcmtk and orthanc), all on loopback.
@Suite(.serialized) struct DicomServiceTests {
    typealias Running = ServiceTests.Running

    static func settings(allowed: [String] = [], idle: Double = 2, completion: ServiceStore.Completion = .idle) -> DicomIntake.Settings {
        var settings = DicomIntake.Settings(port: 20000 + Int.random(in: 0..<25000))
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

    /// Runs one of dcmtk's tools; its exit status and what it printed.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(name)")
        process.arguments = arguments
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vrprep-\(name)-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    static func echo(_ ae: String, _ port: Int) throws -> Int32 {
        try tool("echoscu", ["-aet", ae, "-aec", "VRPREP", "127.0.0.1", String(port)]).status
    }

    static func send(_ ae: String, _ port: Int, _ files: [URL]) throws -> Int32 {
        try tool("storescu", ["-aet", ae, "-aec", "VRPREP", "127.0.0.1", String(port)] + files.map(\.path)).status
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
        let result = try tool("dcmodify", ["-nb", "-gin", "-m", "(0020,000d)=\(root).1", "-m", "(0020,000e)=\(root).2"] + files.map(\.path))
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
        }
    }
}
