import Crypto
import Foundation
import GRDB

/// What the service keeps: access tokens, the job queue, packages, shares and collections. The
/// server and the workers see only this protocol; `ServiceStore` keeps it in SQLite for one
/// machine. A PostgreSQL store for several workers on several machines would implement the same
/// calls, `claimJob` with `SELECT … FOR UPDATE SKIP LOCKED` (here, SQLite's one-writer transaction
/// makes the claim atomic).
public protocol ServiceRecords: Sendable {
    var folders: BlobFolders { get }
    func createToken(role: ServiceStore.Role, name: String) throws -> String
    func caller(token: String) throws -> (id: String, role: ServiceStore.Role)?
    func createJob(id: String, owner: String) throws
    func job(_ id: String) throws -> ServiceStore.Job?
    func jobs(owner: String?) throws -> [ServiceStore.Job]
    func dicomPeers() throws -> [ServiceStore.DicomPeer]
    func dicomPeer(_ aeTitle: String) throws -> ServiceStore.DicomPeer?
    func saveDicomPeer(_ peer: ServiceStore.DicomPeer) throws
    func removeDicomPeer(_ aeTitle: String) throws -> Bool
    func beginDicomStudy(_ study: ServiceStore.DicomStudy) throws
    func dicomStudiesBeingReceived() throws -> [ServiceStore.DicomStudy]
    func queueDicomStudy(_ study: ServiceStore.DicomStudy, instances: Int, recipe: String?, failure: String?) throws
    func claimJob() throws -> ServiceStore.Job?
    func progress(job id: String, stage: String, percent: Int) throws
    func finish(job id: String, packageID: String?, error: String?) throws
    func cancel(job id: String) throws -> Bool
    func requeueInterrupted() throws -> Int
    func release(job id: String) throws
    func counts() throws -> (jobs: [String: Int], packages: Int)
    func addPackage(id: String, owner: String, job: String) throws
    func packages(owner: String?) throws -> [String]
    func packageOwners(_ id: String) throws -> [String]
    func packages(publishedBefore date: Date) throws -> [String]
    func removePackage(_ id: String, owner: String?) throws -> ServiceStore.Removal
    func share(package id: String, hours: Double) throws -> (token: String, expires: Date)
    func shareOpens(token: String, package id: String) throws -> Bool
    func sharedCollection(token: String) throws -> (id: String, expires: Date, valid: Bool)?
    func revokeShare(token: String) throws
    func createCollection(owner: String, name: String, items: [(packageID: String, notes: String)],
                          hours: Double) throws -> (id: String, token: String, expires: Date)
    func collection(_ id: String) throws -> ServiceStore.Collection?
    func collections(owner: String?) throws -> [String]
}

/// The service's records in one SQLite database (GRDB) under the data folder: access tokens
/// (only their hashes), jobs, packages, shares and collections. Blobs live beside it (`BlobFolders`).
public final class ServiceStore: ServiceRecords {
    public enum Role: String, Sendable, CaseIterable {
        case submitter, host, trainer, admin
    }

    /// Where a job is. Its name is how the database and the API spell it.
    public enum JobState: String, Sendable, CaseIterable, CustomStringConvertible {
        case queued, running, done, failed, cancelled

        public var description: String { rawValue }
    }

    public struct Job: Sendable, Equatable {
        public var id: String
        public var owner: String
        public var state: JobState
        public var stage: String
        public var percent: Int
        public var error: String?
        public var packageID: String?
        /// "upload", or "dicom" with the calling AE title, the peer and the instances received.
        public var sourceKind = "upload"
        public var callingAE: String?
        public var peer: String?
        public var instances: Int?
        /// The recipe (JSON) the job runs with; nil: the default one.
        public var recipe: String?
        /// Times a runner took it (counted before it runs).
        public var attempts = 0
    }

    /// How completion of a study received by DICOM is decided.
    public enum Completion: String, Sendable, CaseIterable {
        /// When nothing has arrived for the idle time (and no association is sending).
        case idle
        /// When the association that sent it is released normally (and, as a fallback, idle).
        case release
    }

    /// A calling AE allowed to send studies: from one host (name or address) or any, with the
    /// recipe its studies run with (JSON, nil for the default) and how their end is found.
    public struct DicomPeer: Sendable, Equatable {
        public var aeTitle: String
        public var host: String?
        public var recipe: String?
        public var completion: Completion

        public init(aeTitle: String, host: String? = nil, recipe: String? = nil, completion: Completion = .idle) {
            self.aeTitle = aeTitle
            self.host = host
            self.recipe = recipe
            self.completion = completion
        }
    }

    /// A study being received by DICOM; `id` names its folder under uploads and becomes its job's id.
    public struct DicomStudy: Sendable, Equatable {
        public var id: String
        public var callingAE: String
        public var studyUID: String
        public var peer: String

        public init(id: String, callingAE: String, studyUID: String, peer: String) {
            self.id = id
            self.callingAE = callingAE
            self.studyUID = studyUID
            self.peer = peer
        }
    }

    let database: DatabaseQueue
    public let folders: BlobFolders

    public init(data: URL) throws {
        folders = BlobFolders(root: data)
        try folders.create()
        database = try DatabaseQueue(path: data.appendingPathComponent("vrprep.sqlite").path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "token") { t in
                t.primaryKey("hash", .text)
                t.column("role", .text).notNull()
                t.column("name", .text).notNull()
            }
            try db.create(table: "job") { t in
                t.primaryKey("id", .text)
                t.column("owner", .text).notNull()
                t.column("state", .text).notNull()
                t.column("stage", .text).notNull()
                t.column("percent", .integer).notNull()
                t.column("error", .text)
                t.column("packageId", .text)
                t.column("created", .double).notNull()
            }
            try db.create(table: "package") { t in
                t.primaryKey("id", .text)
                t.column("owner", .text).notNull()
                t.column("jobId", .text).notNull()
                t.column("created", .double).notNull()
            }
            try db.create(table: "share") { t in
                t.primaryKey("hash", .text)
                t.column("packageId", .text).notNull()
                t.column("expires", .double).notNull()
                t.column("revoked", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v2-collections") { db in
            try db.create(table: "collection") { t in
                t.primaryKey("id", .text)
                t.column("owner", .text).notNull()
                t.column("name", .text).notNull()
                t.column("created", .double).notNull()
            }
            try db.create(table: "collectionItem") { t in
                t.column("collectionId", .text).notNull().references("collection", onDelete: .cascade)
                t.column("position", .integer).notNull()
                t.column("packageId", .text).notNull()
                t.column("notes", .text).notNull()
                t.primaryKey(["collectionId", "position"])
            }
        }
        migrator.registerMigration("v3-job-source") { db in
            try db.alter(table: "job") { t in
                t.add(column: "sourceKind", .text).notNull().defaults(to: "upload")
                t.add(column: "callingAE", .text)
                t.add(column: "peer", .text)
                t.add(column: "instances", .integer)
            }
        }
        migrator.registerMigration("v4-dicom-peers") { db in
            try db.create(table: "dicomPeer") { t in
                t.primaryKey("aeTitle", .text)
                t.column("host", .text)
                t.column("recipe", .text)
                t.column("completion", .text).notNull()
            }
            try db.create(table: "dicomStudy") { t in
                t.primaryKey("id", .text)
                t.column("callingAE", .text).notNull()
                t.column("studyUID", .text).notNull()
                t.column("peer", .text).notNull()
                t.column("created", .double).notNull()
            }
            try db.alter(table: "job") { t in t.add(column: "recipe", .text) }
        }
        migrator.registerMigration("v5-job-attempts") { db in
            try db.alter(table: "job") { t in t.add(column: "attempts", .integer).notNull().defaults(to: 0) }
        }
        // A package belongs to everyone who sent its study (deduplicated packages have several owners).
        migrator.registerMigration("v6-package-owners") { db in
            try db.create(table: "packageOwner") { t in
                t.column("packageId", .text).notNull()
                t.column("owner", .text).notNull()
                t.column("jobId", .text).notNull()
                t.column("created", .double).notNull()
                t.primaryKey(["packageId", "owner"])
            }
            try db.execute(sql: "INSERT INTO packageOwner (packageId, owner, jobId, created) SELECT id, owner, jobId, created FROM package")
            try db.create(index: "packageOwnerByOwner", on: "packageOwner", columns: ["owner", "created"])
        }
        // A collection has its own expiry and one share link, made when it is made: reading it writes nothing.
        migrator.registerMigration("v7-collection-shares") { db in
            try db.alter(table: "collection") { t in t.add(column: "expires", .double).notNull().defaults(to: 0) }
            try db.execute(sql: "UPDATE collection SET expires = created + 30 * 86400")
            try db.alter(table: "share") { t in t.add(column: "collectionId", .text) }
        }
        try migrator.migrate(database)
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func newToken(prefix: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 24)
        var random = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = random.next() }
        return prefix + bytes.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Tokens

    /// Creates an access token; only its hash is stored. Returns the token.
    public func createToken(role: Role, name: String) throws -> String {
        let token = Self.newToken(prefix: "vrp_")
        try database.write { db in
            try db.execute(sql: "INSERT INTO token (hash, role, name) VALUES (?, ?, ?)", arguments: [Self.hash(token), role.rawValue, name])
        }
        return token
    }

    /// (hash, role) of an access token, nil when unknown.
    public func caller(token: String) throws -> (id: String, role: Role)? {
        let hash = Self.hash(token)
        return try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT role FROM token WHERE hash = ?", arguments: [hash]),
                  let role = Role(rawValue: row["role"]) else { return nil }
            return (hash, role)
        }
    }

    // MARK: Jobs

    public func createJob(id: String, owner: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO job (id, owner, state, stage, percent, created) VALUES (?, ?, 'queued', 'queued', 0, ?)",
                           arguments: [id, owner, Date().timeIntervalSince1970])
        }
    }

    public func job(_ id: String) throws -> Job? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE id = ?", arguments: [id]).map(Self.job)
        }
    }

    static func job(_ row: Row) -> Job {
        // A state this version does not know (a newer one wrote it) reads as failed, never as runnable.
        Job(id: row["id"], owner: row["owner"], state: JobState(rawValue: row["state"] ?? "") ?? .failed, stage: row["stage"], percent: row["percent"],
            error: row["error"], packageID: row["packageId"], sourceKind: row["sourceKind"] ?? "upload", callingAE: row["callingAE"],
            peer: row["peer"], instances: row["instances"], recipe: row["recipe"], attempts: row["attempts"] ?? 0)
    }

    /// Jobs, newest first; those of `owner` only unless nil.
    public func jobs(owner: String?) throws -> [Job] {
        try database.read { db in
            if let owner {
                return try Row.fetchAll(db, sql: "SELECT * FROM job WHERE owner = ? ORDER BY created DESC", arguments: [owner]).map(Self.job)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM job ORDER BY created DESC").map(Self.job)
        }
    }

    // MARK: DICOM peers and studies being received

    public func dicomPeers() throws -> [DicomPeer] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM dicomPeer ORDER BY aeTitle").map(Self.peer) }
    }

    public func dicomPeer(_ aeTitle: String) throws -> DicomPeer? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM dicomPeer WHERE aeTitle = ?", arguments: [aeTitle]).map(Self.peer) }
    }

    static func peer(_ row: Row) -> DicomPeer {
        DicomPeer(aeTitle: row["aeTitle"], host: row["host"], recipe: row["recipe"], completion: Completion(rawValue: row["completion"]) ?? .idle)
    }

    /// Adds a peer, or replaces the one with the same AE title.
    public func saveDicomPeer(_ peer: DicomPeer) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO dicomPeer (aeTitle, host, recipe, completion) VALUES (?, ?, ?, ?)",
                           arguments: [peer.aeTitle, peer.host, peer.recipe, peer.completion.rawValue])
        }
    }

    public func removeDicomPeer(_ aeTitle: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM dicomPeer WHERE aeTitle = ?", arguments: [aeTitle])
            return db.changesCount > 0
        }
    }

    /// Records a study whose first instance arrived, so that a restart finds it again.
    public func beginDicomStudy(_ study: DicomStudy) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO dicomStudy (id, callingAE, studyUID, peer, created) VALUES (?, ?, ?, ?, ?)",
                           arguments: [study.id, study.callingAE, study.studyUID, study.peer, Date().timeIntervalSince1970])
        }
    }

    public func dicomStudiesBeingReceived() throws -> [DicomStudy] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM dicomStudy ORDER BY created").map {
                DicomStudy(id: $0["id"], callingAE: $0["callingAE"], studyUID: $0["studyUID"], peer: $0["peer"])
            }
        }
    }

    /// A received study becomes a job (its id the study's), owned by the calling AE ("dicom:AE"),
    /// in one transaction with forgetting it as being received. With a `failure`, the job is
    /// recorded as failed with that error (a study that could not be received whole).
    public func queueDicomStudy(_ study: DicomStudy, instances: Int, recipe: String?, failure: String?) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM dicomStudy WHERE id = ?", arguments: [study.id])
            try db.execute(sql: """
                INSERT INTO job (id, owner, state, stage, percent, created, sourceKind, callingAE, peer, instances, recipe, error)
                VALUES (?, ?, ?, ?, 0, ?, 'dicom', ?, ?, ?, ?, ?)
                """, arguments: [study.id, "dicom:\(study.callingAE)", failure == nil ? "queued" : "failed",
                                 failure == nil ? "queued" : "receiving", Date().timeIntervalSince1970, study.callingAE, study.peer,
                                 instances, recipe, failure])
        }
    }

    /// Takes the oldest queued job for a worker (running), if any, and counts the attempt
    /// before anything runs.
    public func claimJob() throws -> Job? {
        try database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM job WHERE state = 'queued' ORDER BY created LIMIT 1") else { return nil }
            try db.execute(sql: "UPDATE job SET state = 'running', stage = 'starting', attempts = attempts + 1 WHERE id = ?",
                           arguments: [row["id"] as String])
            var job = Self.job(row)
            job.state = .running
            job.attempts += 1
            return job
        }
    }

    public func progress(job id: String, stage: String, percent: Int) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE job SET stage = ?, percent = ? WHERE id = ? AND state = 'running'", arguments: [stage, percent, id])
        }
    }

    public func finish(job id: String, packageID: String?, error: String?) throws {
        try database.write { db in
            if let packageID {
                try db.execute(sql: "UPDATE job SET state = 'done', stage = 'done', percent = 100, packageId = ? WHERE id = ?",
                               arguments: [packageID, id])
            } else {
                try db.execute(sql: "UPDATE job SET state = 'failed', error = ? WHERE id = ? AND state != 'cancelled'", arguments: [error, id])
            }
        }
    }

    /// Cancels a queued or running job (a running one is dropped when its pipeline returns).
    public func cancel(job id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "UPDATE job SET state = 'cancelled' WHERE id = ? AND state IN ('queued', 'running')", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// Attempts after which a job that was running when its service stopped is not tried again.
    public static let maxAttempts = 2

    /// At start: jobs left running by a crash go back to the queue, unless they were running
    /// when the service stopped `maxAttempts` times already: those fail, never queued again.
    public func requeueInterrupted() throws -> Int {
        try database.write { db in
            try db.execute(sql: """
                UPDATE job SET state = 'failed',
                    error = 'the service stopped twice while this job ran (at ' || stage || '); not retried'
                WHERE state = 'running' AND attempts >= ?
                """, arguments: [Self.maxAttempts])
            try db.execute(sql: "UPDATE job SET state = 'queued', stage = 'queued', percent = 0 WHERE state = 'running'")
            return db.changesCount
        }
    }

    /// A running job given back by a runner that is stopping: queued again, this attempt not counted.
    public func release(job id: String) throws {
        try database.write { db in
            try db.execute(sql: """
                UPDATE job SET state = 'queued', stage = 'queued', percent = 0, attempts = MAX(attempts - 1, 0)
                WHERE id = ? AND state = 'running'
                """, arguments: [id])
        }
    }

    /// Jobs per state, and the number of packages (for /metrics).
    public func counts() throws -> (jobs: [String: Int], packages: Int) {
        try database.read { db in
            var jobs: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                jobs[row["state"]] = row["n"]
            }
            return (jobs, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM package") ?? 0)
        }
    }

    // MARK: Collections (a trainer's course: packages with notes)

    public struct Collection: Sendable, Equatable {
        public var id: String
        public var owner: String
        public var name: String
        public var expires: Date
        public var items: [(packageID: String, notes: String)]

        public static func == (a: Collection, b: Collection) -> Bool {
            a.id == b.id && a.owner == b.owner && a.name == b.name && a.expires == b.expires
                && a.items.map(\.packageID) == b.items.map(\.packageID) && a.items.map(\.notes) == b.items.map(\.notes)
        }
    }

    /// A collection and, in the same transaction, its one share link (valid `hours`), which
    /// opens each of its packages; only the link's hash is kept, so the token is returned once.
    public func createCollection(owner: String, name: String, items: [(packageID: String, notes: String)],
                                 hours: Double) throws -> (id: String, token: String, expires: Date) {
        let id = UUID().uuidString.lowercased(), token = Self.newToken(prefix: "vrs_")
        let now = Date(), expires = now.addingTimeInterval(hours * 3600)
        try database.write { db in
            try db.execute(sql: "INSERT INTO collection (id, owner, name, created, expires) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, owner, name, now.timeIntervalSince1970, expires.timeIntervalSince1970])
            for (position, item) in items.enumerated() {
                try db.execute(sql: "INSERT INTO collectionItem (collectionId, position, packageId, notes) VALUES (?, ?, ?, ?)",
                               arguments: [id, position, item.packageID, item.notes])
            }
            try db.execute(sql: "INSERT INTO share (hash, packageId, expires, collectionId) VALUES (?, '', ?, ?)",
                           arguments: [Self.hash(token), expires.timeIntervalSince1970, id])
        }
        return (id, token, expires)
    }

    public func collection(_ id: String) throws -> Collection? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collection WHERE id = ?", arguments: [id]) else { return nil }
            let items = try Row.fetchAll(db, sql: "SELECT packageId, notes FROM collectionItem WHERE collectionId = ? ORDER BY position",
                                         arguments: [id]).map { (packageID: $0["packageId"] as String, notes: $0["notes"] as String) }
            return Collection(id: row["id"], owner: row["owner"], name: row["name"],
                              expires: Date(timeIntervalSince1970: row["expires"]), items: items)
        }
    }

    public func collections(owner: String?) throws -> [String] {
        try database.read { db in
            if let owner {
                return try String.fetchAll(db, sql: "SELECT id FROM collection WHERE owner = ? ORDER BY created", arguments: [owner])
            }
            return try String.fetchAll(db, sql: "SELECT id FROM collection ORDER BY created")
        }
    }

    // MARK: Packages and shares

    /// Records a published package and that `owner` (through `job`) has it; a package already
    /// published by another sender gains an owner.
    public func addPackage(id: String, owner: String, job: String) throws {
        try database.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "INSERT OR IGNORE INTO package (id, owner, jobId, created) VALUES (?, ?, ?, ?)",
                           arguments: [id, owner, job, now])
            try db.execute(sql: "INSERT OR IGNORE INTO packageOwner (packageId, owner, jobId, created) VALUES (?, ?, ?, ?)",
                           arguments: [id, owner, job, now])
        }
    }

    /// Package ids, oldest first; those of `owner` only unless nil.
    public func packages(owner: String?) throws -> [String] {
        try database.read { db in
            if let owner {
                return try String.fetchAll(db, sql: "SELECT packageId FROM packageOwner WHERE owner = ? ORDER BY created, packageId",
                                           arguments: [owner])
            }
            return try String.fetchAll(db, sql: "SELECT id FROM package ORDER BY created")
        }
    }

    /// Packages published before `date` (for retention).
    public func packages(publishedBefore date: Date) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM package WHERE created < ? ORDER BY created", arguments: [date.timeIntervalSince1970])
        }
    }

    /// Who has the package (empty when there is no such package).
    public func packageOwners(_ id: String) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT owner FROM packageOwner WHERE packageId = ? ORDER BY created", arguments: [id])
        }
    }

    public enum Removal: Sendable, Equatable {
        /// No such package (for this owner).
        case notFound
        /// The owner no longer has it; others still do.
        case released
        /// Nobody has it any more: its records and shares are gone, its files are the caller's to remove.
        case removed
    }

    /// Takes the package from `owner` (nil: from everyone, an admin's removal); once nobody has
    /// it, its record, its shares and its place in collections go.
    public func removePackage(_ id: String, owner: String?) throws -> Removal {
        try database.write { db in
            if let owner {
                try db.execute(sql: "DELETE FROM packageOwner WHERE packageId = ? AND owner = ?", arguments: [id, owner])
            } else {
                try db.execute(sql: "DELETE FROM packageOwner WHERE packageId = ?", arguments: [id])
            }
            guard db.changesCount > 0 else { return .notFound }
            let left = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM packageOwner WHERE packageId = ?", arguments: [id]) ?? 0
            guard left == 0 else { return .released }
            try db.execute(sql: "DELETE FROM package WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM share WHERE packageId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM collectionItem WHERE packageId = ?", arguments: [id])
            return .removed
        }
    }

    /// A read-only share of one package; returns the token and its expiry.
    public func share(package id: String, hours: Double) throws -> (token: String, expires: Date) {
        let token = Self.newToken(prefix: "vrs_"), expires = Date().addingTimeInterval(hours * 3600)
        try database.write { db in
            try db.execute(sql: "INSERT INTO share (hash, packageId, expires) VALUES (?, ?, ?)",
                           arguments: [Self.hash(token), id, expires.timeIntervalSince1970])
        }
        return (token, expires)
    }

    /// Whether a share token opens the package now: a link to this package, or to a collection
    /// that holds it, neither expired nor revoked.
    public func shareOpens(token: String, package id: String) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM share s WHERE s.hash = ? AND s.revoked = 0 AND s.expires > ? AND (
                    (s.collectionId IS NULL AND s.packageId = ?) OR
                    (s.collectionId IS NOT NULL AND EXISTS (
                        SELECT 1 FROM collectionItem i WHERE i.collectionId = s.collectionId AND i.packageId = ?))))
                """, arguments: [Self.hash(token), Date().timeIntervalSince1970, id, id]) ?? false
        }
    }

    /// The collection a share token was made for, its expiry, and whether it opens it now.
    public func sharedCollection(token: String) throws -> (id: String, expires: Date, valid: Bool)? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT collectionId, expires, revoked FROM share WHERE hash = ? AND collectionId IS NOT NULL",
                                             arguments: [Self.hash(token)]) else { return nil }
            let expires = Date(timeIntervalSince1970: row["expires"])
            return (row["collectionId"], expires, !(row["revoked"] as Bool) && expires > Date())
        }
    }

    /// Share rows, for checks that reading writes nothing.
    func shareCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM share") ?? 0 }
    }

    public func revokeShare(token: String) throws {
        try database.write { db in try db.execute(sql: "UPDATE share SET revoked = 1 WHERE hash = ?", arguments: [Self.hash(token)]) }
    }
}

/// Where blobs live under the data folder: uploads, work in progress, published packages.
public struct BlobFolders: Sendable {
    public let root: URL
    public var uploads: URL { root.appendingPathComponent("uploads") }
    public var staging: URL { root.appendingPathComponent("staging") }
    public var packages: URL { root.appendingPathComponent("packages") }

    public func upload(_ job: String) -> URL { uploads.appendingPathComponent("\(job).zip") }
    public func package(_ id: String) -> URL { packages.appendingPathComponent(id) }
    public func archive(_ id: String) -> URL { packages.appendingPathComponent("\(id).zip") }

    /// Free space on the data folder's disk that the service may use (bytes), nil where it cannot be known.
    public func freeBytes() -> Int64? {
        var info = statvfs()
        guard statvfs(root.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    func create() throws {
        for folder in [uploads, staging, packages] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        // Uploads a stop interrupted while they arrived or were checked.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: uploads.path)) ?? [] where name.contains(".partial") {
            try? FileManager.default.removeItem(at: uploads.appendingPathComponent(name))
        }
        // Work a crash left behind is started again from the upload.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: staging.path)) ?? [] {
            try? FileManager.default.removeItem(at: staging.appendingPathComponent(name))
        }
    }
}
