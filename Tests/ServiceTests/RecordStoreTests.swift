import Foundation
@testable import Service
import Testing
import TestSupport

/// One store, two databases: the same calls on SQLite (one machine) and on a real PostgreSQL
/// (several), started by the test (Debian's `postgresql`: `initdb` into a temporary folder, a
/// loopback port, stopped at the end), give the same records; and on PostgreSQL two workers that
/// claim at once never take the same job.
@Suite struct RecordStoreTests {
    @Test func theSameCallsKeepTheSameRecordsInSQLiteAndInPostgreSQL() throws {
        let folder = try Fixtures.temporaryFolder("records-sqlite")
        defer { try? FileManager.default.removeItem(at: folder) }
        try exercise(try ServiceStore(data: folder))

        let server = try TestPostgres()
        defer { server.stop() }
        let url = try server.newDatabase()
        let blobs = try Fixtures.temporaryFolder("records-postgres")
        defer { try? FileManager.default.removeItem(at: blobs) }
        try exercise(ServiceStore(database: try PostgresRecordDatabase(url: url), folders: BlobFolders(root: blobs)))
        // A second node starting on the same database finds the tables made and changes nothing.
        let again = ServiceStore(database: try PostgresRecordDatabase(url: url), folders: BlobFolders(root: blobs))
        #expect(try again.jobs(owner: nil).count == 4)
    }

    /// A node that stops renewing its lease (its machine died) loses the job to another, which
    /// finishes it; the first, finishing late, changes nothing. A node that renews keeps its job.
    @Test func aJobWhoseLeaseRunsOutGoesToAnotherNodeAndTheLateOneChangesNothing() throws {
        let folder = try Fixtures.temporaryFolder("records-leases")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = SQLiteRecordDatabase.self
        try leases(ServiceStore(database: try file.init(path: folder.appendingPathComponent("vrprep.sqlite").path), folders: BlobFolders(root: folder),
                                leaseSeconds: 0.5),
                   ServiceStore(database: try file.init(path: folder.appendingPathComponent("vrprep.sqlite").path), folders: BlobFolders(root: folder),
                                leaseSeconds: 0.5))
        let server = try TestPostgres()
        defer { server.stop() }
        let url = try server.newDatabase()
        try leases(ServiceStore(database: try PostgresRecordDatabase(url: url), folders: BlobFolders(root: folder), leaseSeconds: 0.5),
                   ServiceStore(database: try PostgresRecordDatabase(url: url), folders: BlobFolders(root: folder), leaseSeconds: 0.5))
    }

    func leases(_ a: ServiceStore, _ b: ServiceStore) throws {
        try a.createJob(id: "lost", owner: "o")
        #expect(try a.claimJob()?.id == "lost")
        #expect(try b.requeueExpiredLeases() == 0 && b.claimJob() == nil)
        Thread.sleep(forTimeInterval: 0.7)
        #expect(try b.requeueExpiredLeases() == 1)
        let retaken = try #require(try b.claimJob())
        #expect(retaken.id == "lost" && retaken.attempts == 2)
        try a.progress(job: "lost", stage: "late", percent: 99)
        try a.finish(job: "lost", packageID: "from-a", error: nil)
        try a.release(job: "lost")
        #expect(try b.job("lost")?.state == .running && b.job("lost")?.stage == "starting" && b.job("lost")?.packageID == nil)
        try b.finish(job: "lost", packageID: "from-b", error: nil)
        #expect(try a.job("lost")?.state == .done && a.job("lost")?.packageID == "from-b")

        try a.createJob(id: "kept", owner: "o")
        #expect(try a.claimJob()?.id == "kept")
        for _ in 0..<3 {
            Thread.sleep(forTimeInterval: 0.3)
            #expect(try a.renewLeases() == 1)
            #expect(try b.requeueExpiredLeases() == 0)
        }
        #expect(try b.job("kept")?.state == .running)
    }

    @Test func twoWorkersClaimingAtOnceNeverTakeTheSameJob() throws {
        let server = try TestPostgres()
        defer { server.stop() }
        let url = try server.newDatabase()
        let blobs = try Fixtures.temporaryFolder("records-claims")
        defer { try? FileManager.default.removeItem(at: blobs) }
        let store = ServiceStore(database: try PostgresRecordDatabase(url: url, connections: 4), folders: BlobFolders(root: blobs))
        let jobs = 60
        for n in 0..<jobs { try store.createJob(id: String(format: "job-%03d", n), owner: "o") }
        // Four workers, each with its own connections (as on four machines), claim until the queue is empty.
        let workers = try (0..<4).map { _ in ServiceStore(database: try PostgresRecordDatabase(url: url, connections: 1), folders: BlobFolders(root: blobs)) }
        let taken = Taken()
        DispatchQueue.concurrentPerform(iterations: workers.count) { w in
            while let job = try? workers[w].claimJob() { taken.add(job.id) }
        }
        #expect(taken.ids.count == jobs)
        // A worker waiting for jobs is woken by one queued on another node (LISTEN/NOTIFY), not by its timeout.
        store.waitForJobs(timeout: 0.5)
        let queued = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { try? workers[0].createJob(id: "woken", owner: "o") }
        store.waitForJobs(timeout: 20)
        let waited = Date().timeIntervalSince(queued)
        #expect(waited >= 0.4 && waited < 5, "woken after \(waited) s")
        #expect(try store.claimJob()?.id == "woken")
        #expect(Set(taken.ids).count == jobs, "a job was claimed twice")
        #expect(try store.jobs(owner: nil).count == jobs + 1 && store.jobs(owner: nil).allSatisfy { $0.state == .running && $0.attempts == 1 })
        // Unreachable or malformed: a message that names the database, never a crash.
        #expect(throws: RecordDatabaseError.self) { try PostgresRecordDatabase(url: "postgres://nobody:secret@127.0.0.1:1/none") }
        do {
            _ = try PostgresRecordDatabase(url: "postgres://nobody:secret@127.0.0.1:1/none")
        } catch {
            #expect("\(error)".contains("127.0.0.1:1") && !"\(error)".contains("secret"), "\(error)")
        }
    }

    final class Taken: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var ids: [String] = []
        func add(_ id: String) { lock.lock(); ids.append(id); lock.unlock() }
    }

    /// Every kind of record, written and read back through the store's calls.
    func exercise(_ store: ServiceStore) throws {
        // Tokens.
        let token = try store.createToken(role: .trainer, name: "course")
        let caller = try #require(try store.caller(token: token))
        #expect(try caller.role == .trainer && store.tokenName(id: caller.id) == "course")
        #expect(try store.caller(token: "vrp_unknown") == nil)

        // Studies.
        let created = Date(timeIntervalSince1970: 1_765_000_000.25)
        try store.createStudy(ServiceStore.Study(id: "st1", owner: "alice", created: created))
        try store.saveSummary(study: "st1", .init(modality: "CT", dimensions: [2, 3, 4], spacing: [0.5, 0.5, 1.25]))
        let study = try #require(try store.study("st1"))
        #expect(study.created == created && study.summary?.spacing == [0.5, 0.5, 1.25] && study.owner == "alice")
        #expect(try store.studies(owner: "bob").isEmpty && store.studies(owner: nil).map(\.id) == ["st1"])
        #expect(try store.removeStudy("st1") && !store.removeStudy("st1"))

        // Jobs: the oldest is claimed first, and each change of state as the queue expects.
        for id in ["j1", "j2", "j3"] {
            try store.createJob(id: id, owner: "alice", study: nil, recipe: #"{"structures":["bone"]}"#, profile: "phone")
            Thread.sleep(forTimeInterval: 0.002)
        }
        let first = try #require(try store.claimJob())
        #expect(first.id == "j1" && first.state == .running && first.attempts == 1 && first.profile == "phone")
        try store.progress(job: "j1", stage: "meshing", percent: 40)
        #expect(try store.job("j1")?.stage == "meshing" && store.job("j1")?.percent == 40)
        try store.finish(job: "j1", packageID: "p1", error: nil)
        #expect(try store.job("j1")?.state == .done && store.job("j1")?.packageID == "p1")
        #expect(try store.cancel(job: "j3") && !store.cancel(job: "j1"))
        _ = try store.claimJob()  // j2
        try store.release(job: "j2")
        #expect(try store.job("j2")?.state == .queued && store.job("j2")?.attempts == 0)
        _ = try store.claimJob()
        #expect(try store.requeueInterrupted() == (store.database.dialect == .sqlite ? 1 : 0))
        if store.database.dialect == .sqlite { _ = try store.claimJob() }
        try store.finish(job: "j2", packageID: nil, error: "it broke")
        #expect(try store.job("j2")?.error == "it broke")
        #expect(try store.claimJob() == nil)
        let counts = try store.counts()
        #expect(counts.jobs == ["done": 1, "cancelled": 1, "failed": 1])

        // Packages with two owners, and their removal one owner at a time.
        try store.addPackage(id: "p1", owner: "alice", job: "j1")
        try store.addPackage(id: "p1", owner: "bob", job: "j9")
        try store.addPackage(id: "p1", owner: "bob", job: "j9")
        #expect(try store.packageOwners("p1") == ["alice", "bob"] && store.packages(owner: "bob") == ["p1"])

        // Share links: opened, counted, listed, revoked.
        let share = try store.share(package: "p1", hours: 1, by: "alice")
        #expect(try store.shareOpens(token: share.token, package: "p1") && !store.shareOpens(token: share.token, package: "p2"))
        try store.recordShareUse(token: share.token, counted: true)
        try store.recordShareUse(token: share.token, counted: false)
        let listed = try #require(try store.shares(package: "p1").first)
        #expect(listed.id == share.id && listed.uses == 1 && !listed.revoked && listed.lastUsed != nil)
        #expect(try store.revokeShare(package: "p1", share: share.id) && !store.shareOpens(token: share.token, package: "p1"))

        // Collections open their packages through their own link.
        let course = try store.createCollection(owner: "trainer", name: "Week 1",
                                                items: [.init(packageID: "p1", notes: "look at the arch", recording: nil)], hours: 2)
        let collection = try #require(try store.collection(course.id))
        #expect(collection.items.map(\.notes) == ["look at the arch"] && collection.name == "Week 1")
        #expect(try store.sharedCollection(token: course.token)?.valid == true && store.shareOpens(token: course.token, package: "p1"))
        #expect(try store.removePackage("p1", owner: "alice") == .released && store.removePackage("p1", owner: "bob") == .removed)
        #expect(try store.collection(course.id)?.items.isEmpty == true)

        // DICOM peers (saved again: changed, not doubled) and a study received from one.
        try store.saveDicomPeer(.init(aeTitle: "CT1", host: "10.0.0.1"))
        try store.saveDicomPeer(.init(aeTitle: "CT1", host: "10.0.0.2", completion: .release, returnTo: .init(ae: "PACS", host: "pacs", port: 104, tls: true)))
        #expect(try store.dicomPeers().map(\.host) == ["10.0.0.2"] && store.dicomPeer("CT1")?.returnTo?.tls == true)
        let received = ServiceStore.DicomStudy(id: "d1", callingAE: "CT1", studyUID: "1.2.3", peer: "10.0.0.2")
        try store.beginDicomStudy(received)
        try store.beginDicomStudy(received)
        #expect(try store.dicomStudiesBeingReceived() == [received])
        #expect(try store.queueDicomStudy(received, instances: 12, recipe: nil, failure: nil) == "d1")
        #expect(try store.dicomStudiesBeingReceived().isEmpty && store.job("d1")?.instances == 12 && store.study("d1")?.sourceKind == "dicom")
        #expect(try store.removeDicomPeer("CT1") && !store.removeDicomPeer("CT1"))

        // Live sessions and their recording.
        let now = Date(timeIntervalSince1970: 1_765_000_100)
        try store.openSession(.init(id: "ses1", packageID: "p1", owner: "host", title: "Case", created: now,
                                    expires: now.addingTimeInterval(3600), shareHash: "h"))
        try store.appendSessionEvents(id: "ses1", lines: ["a", "b"])
        try store.appendSessionEvents(id: "ses1", lines: ["c"])
        #expect(try store.sessionEvents("ses1") == ["a", "b", "c"])
        try store.endSession(id: "ses1", reason: "ended by its host", at: now.addingTimeInterval(60))
        #expect(try store.sessionRecord("ses1")?.endReason == "ended by its host" && store.endInterruptedSessions(reason: "x") == 0)

        // Results going back to the hospital.
        try store.scheduleReturn(job: "d1", to: .init(ae: "PACS", host: "pacs", port: 104))
        try store.scheduleReturn(job: "d1", to: .init(ae: "PACS2", host: "pacs", port: 11112, tls: false))
        let due = try store.claimDueReturns(at: Date().addingTimeInterval(1))
        #expect(due.count == 1 && due.first?.target.ae == "PACS2" && due.first?.state == .sending && due.first?.attempts == 1)
        try store.recordReturn(job: "d1", state: .done, instances: 3, error: nil, next: nil)
        #expect(try store.jobReturn("d1")?.instances == 3 && store.requeueInterruptedReturns() == 0)

        // The audit trail: appended, read in order, and never changed.
        for status in [200, 403] {
            try store.appendAudit(.init(actorKind: .token, actorID: caller.id, action: "study.read", method: "GET", path: "/v1/studies/st1",
                                        study: "st1", status: status))
        }
        let events = try store.auditEvents(since: nil, study: "st1", package: nil, after: nil, limit: 10)
        #expect(events.map(\.status) == [200, 403] && events[0].seq < events[1].seq)
        #expect(throws: (any Error).self) { try store.tamperWithAudit(sql: "UPDATE audit SET status = 200") }
        #expect(throws: (any Error).self) { try store.tamperWithAudit(sql: "DELETE FROM audit") }
        #expect(try store.auditEvents(since: nil, study: nil, package: nil, after: events[0].seq, limit: 10).map(\.status) == [403])
    }
}

/// A PostgreSQL server of this machine's (Debian's `postgresql`), in a temporary folder, on a
/// loopback port, for one test; `stop()` ends it and removes the folder. As root (CI), the
/// server runs as the `postgres` user, since `initdb` refuses root.
final class TestPostgres: @unchecked Sendable {
    let folder: URL
    let port: Int
    private var databases = 0

    init() throws {
        guard let bin = Self.binaries() else {
            throw TestPostgresError("PostgreSQL's initdb and pg_ctl were not found (install Debian's postgresql)")
        }
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vrprep-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot { try Self.run("/bin/chown", ["postgres", folder.path], asPostgres: false) }
        let data = folder.appendingPathComponent("data").path
        try Self.run(bin + "/initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"], asPostgres: asRoot)
        var lastError: (any Error)?
        for _ in 0..<5 {
            let candidate = Int.random(in: 20_000..<60_000)
            do {
                try Self.run(bin + "/pg_ctl", ["-D", data, "-l", folder.appendingPathComponent("log").path, "-w", "-t", "30", "-o",
                                               "-p \(candidate) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                                               "start"], asPostgres: asRoot)
                port = candidate
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestPostgresError("PostgreSQL did not start")
    }

    /// A new, empty database on the server: its URL.
    func newDatabase() throws -> String {
        databases += 1
        let name = "vrprep_test_\(databases)"
        let admin = try PostgresRecordDatabase(url: "postgres://postgres@127.0.0.1:\(port)/postgres", connections: 1)
        try admin.read { db in try db.execute(sql: "CREATE DATABASE \(name)") }
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    func stop() {
        if let bin = Self.binaries() {
            try? Self.run(bin + "/pg_ctl", ["-D", folder.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"], asPostgres: getuid() == 0)
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// The folder of initdb and pg_ctl: Debian's versioned one (newest first), else the PATH's.
    static func binaries() -> String? {
        let debian = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debian)) ?? []).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(debian)/\(version)/bin/initdb") {
            return "\(debian)/\(version)/bin"
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(folder)/initdb") && FileManager.default.isExecutableFile(atPath: "\(folder)/pg_ctl") {
            return String(folder)
        }
        return nil
    }

    /// Runs a tool (as `postgres` through runuser when asked) and waits for it. Spawned and
    /// reaped here, not by Foundation's Process: the server pg_ctl starts inherits the
    /// descriptor Process watches for its child's end, and that end would never come.
    static func run(_ tool: String, _ arguments: [String], asPostgres: Bool) throws {
        let command = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        let log = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vrprep-pg-tool-\(UUID().uuidString.prefix(8)).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestPostgresError("cannot run \(command[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw TestPostgresError("\(tool) \(arguments.joined(separator: " ")) failed (status \(status)): \(text)")
        }
    }
}

struct TestPostgresError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
