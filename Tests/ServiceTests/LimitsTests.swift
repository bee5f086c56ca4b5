import Foundation
@testable import Service
import Testing
import TestSupport
import ZIPFoundation

/// What one sender can hold of the service: connections, parsing time, disk.
extension ServiceTests {
    /// A raw TCP connection to the service's port.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    /// Seconds until the service closes `fd` (reads return 0), at most `limit`.
    static func secondsUntilClosed(_ fd: Int32, limit: Double) -> Double {
        let start = Date()
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var byte: UInt8 = 0
        while Date().timeIntervalSince(start) < limit {
            if poll(&pollfd, 1, 100) > 0, recv(fd, &byte, 1, 0) <= 0 { return Date().timeIntervalSince(start) }
        }
        return .infinity
    }

    @Test func silentAndSlowConnectionsAreClosedAfterTheIdleTime() async throws {
        let service = try await Running { $0.idleTimeoutSeconds = 1 }
        let port = service.base.port!
        let silent = try Self.connect(port), slow = try Self.connect(port)
        defer { close(silent); close(slow) }
        _ = "GET /healthz HTTP/1.1\r\nHost: x\r\n".withCString { send(slow, $0, strlen($0), 0) }  // never ends its head
        let (a, b) = (Self.secondsUntilClosed(silent, limit: 10), Self.secondsUntilClosed(slow, limit: 10))
        #expect(a < 5 && b < 5, "closed after \(a) s and \(b) s")
        #expect(try await service.request("GET", "/healthz").0 == 200)
        await service.stop()
    }

    @Test func aFormOfTooManyPartsIsRefusedWithoutStallingTheService() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let boundary = "----vrprep-many"
        var body = Data()
        let part = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.dcm\"\r\n\r\nabc\r\n".utf8)
        for _ in 0..<20_000 { body += part }
        body += Data("--\(boundary)--\r\n".utf8)
        let upload = Task { try await service.request("POST", "/v1/studies", token: submitter, body: body, type: "multipart/form-data; boundary=\(boundary)") }
        // Health answers quickly while the form is being read.
        var slowest = 0.0
        for _ in 0..<10 {
            let start = Date()
            #expect(try await service.request("GET", "/healthz").0 == 200)
            slowest = max(slowest, Date().timeIntervalSince(start))
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let (status, answer, _) = try await upload.value
        #expect(status == 400 && String(decoding: answer, as: UTF8.self).contains("more than 10000 parts"), "\(status)")
        #expect(slowest < 1, "/healthz took \(slowest) s")
        let left = try FileManager.default.contentsOfDirectory(atPath: service.store.folders.uploads.path)
        #expect(left.isEmpty, "\(left)")
        await service.stop()
    }

    @Test func aZipThatInflatesFarBeyondItsSizeIsRefused() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let folder = try Fixtures.temporaryFolder("bomb")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bomb = folder.appendingPathComponent("bomb.zip")
        // The sample's first slice, then 200 MiB of zeros: a few hundred kB on the wire.
        let zeros = Data(count: 200 << 20)
        try ZipMaker.make(bomb, entries: [("study/a.dcm", try Data(contentsOf: Fixtures.sampleCTFiles[0])), ("study/b.dcm", zeros)])
        let (status, answer, _) = try await service.request("POST", "/v1/studies", token: submitter, body: try Data(contentsOf: bomb),
                                                            type: "application/zip")
        #expect(status == 422 && String(decoding: answer, as: UTF8.self).contains("100×"), "\(status) \(String(decoding: answer, as: UTF8.self))")
        await service.stop()
    }

    /// A study stays when its job ends (for its owner to use again), goes when deleted or past
    /// the service's --keep-studies-days; uploads are refused while the disk is nearly full.
    @Test func studiesStayAfterTheirJobGoWhenDeletedAndUploadsAreRefusedWhenTheDiskIsFull() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let (status, answer, _) = try await service.request("POST", "/v1/studies", token: submitter, body: try Self.sampleZip(),
                                                                type: "application/zip")
            let accepted = service.json(answer)
            let (job, study) = (try #require(accepted["jobId"] as? String), try #require(accepted["studyId"] as? String))
            #expect(status == 202 && job != study)
            #expect(try await service.wait(job: job, token: submitter)["state"] as? String == "done")
            #expect(FileManager.default.fileExists(atPath: service.store.folders.study(study).path), "the study stays after its job")
            let admin = try service.store.createToken(role: .admin, name: "monitoring")
            let metrics = String(decoding: try await service.request("GET", "/metrics", token: admin).1, as: UTF8.self)
            #expect(metrics.contains("vrprep_data_bytes ") && metrics.contains("vrprep_disk_free_bytes "), "\(metrics)")
            #expect(try await service.request("DELETE", "/v1/studies/\(study)", token: submitter).0 == 204)
            let left = try FileManager.default.contentsOfDirectory(atPath: service.store.folders.uploads.path)
            #expect(left.isEmpty, "files left: \(left)")
            #expect(try await service.request("GET", "/v1/studies/\(study)", token: submitter).0 == 404)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
        let full = try await Running { $0.minFreeBytes = .max }
        let token = try full.store.createToken(role: .submitter, name: "surgeon")
        let (status, answer, _) = try await full.request("POST", "/v1/studies", token: token, body: Data("x".utf8), type: "application/zip")
        #expect(status == 507 && String(decoding: answer, as: UTF8.self).contains("nearly full"))
        await full.stop()
    }

    @Test func studiesPastTheirKeepingGoUnlessAJobIsWorkingOnThem() throws {
        let data = try Fixtures.temporaryFolder("study-retention")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = try ServiceStore(data: data)
        for id in ["old", "busy"] {
            try Data("zip".utf8).write(to: store.folders.upload(id))
            try store.createStudy(ServiceStore.Study(id: id, owner: "o", created: Date()))
        }
        try store.createJob(id: "j", owner: "o", study: "busy", recipe: nil)
        let later = Date().addingTimeInterval(31 * 86400)
        #expect(Retention(keepStudiesDays: 30).sweepStudies(store) == 0)
        #expect(Retention(keepStudiesDays: nil).sweepStudies(store, now: later) == 0, "kept until deleted")
        #expect(Retention(keepStudiesDays: 30).sweepStudies(store, now: later) == 1)
        #expect(try store.study("old") == nil && !FileManager.default.fileExists(atPath: store.folders.upload("old").path))
        #expect(try store.study("busy") != nil, "a queued job's study stays")
    }

    @Test func packagesPastTheirRetentionGoWithTheirFilesAndShares() throws {
        let data = try Fixtures.temporaryFolder("retention")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = try ServiceStore(data: data)
        try FileManager.default.createDirectory(at: store.folders.package("p"), withIntermediateDirectories: true)
        try Data("zip".utf8).write(to: store.folders.archive("p"))
        try store.addPackage(id: "p", owner: "o", job: "j")
        let share = try store.share(package: "p", hours: 24, by: "test")
        #expect(Retention(retainDays: 30).sweep(store) == 0)
        #expect(Retention(retainDays: 30).sweep(store, now: Date().addingTimeInterval(31 * 86400)) == 1)
        #expect(try store.packageOwners("p").isEmpty && !(try store.shareOpens(token: share.token, package: "p")))
        #expect(!FileManager.default.fileExists(atPath: store.folders.package("p").path))
        #expect(!FileManager.default.fileExists(atPath: store.folders.archive("p").path))
    }
}
