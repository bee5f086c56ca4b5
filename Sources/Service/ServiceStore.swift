import Crypto
import Foundation
import Pipeline

/// What the service keeps, one repository per resource: access tokens, the job queue, the DICOM
/// peers and the studies being received, packages and their share links, collections, live
/// sessions and their recordings. The server
/// and the workers see only these protocols; `ServiceStore` keeps them all in one SQLite database
/// for one machine (one extension per resource). A PostgreSQL store for several workers on
/// several machines would implement the same calls, `claimJob` with `SELECT … FOR UPDATE SKIP
/// LOCKED` (here, SQLite's one-writer transaction makes the claim atomic).
public protocol ServiceRecords: TokenRecords, StudyRecords, JobRecords, DicomRecords, PackageRecords, CollectionRecords, SessionRecords, ReturnRecords,
                                AuditRecords {
    /// Where the blobs (uploads, packages, archives) live beside the records.
    var folders: BlobFolders { get }
    /// Whether the database answers: throws its error when it does not.
    func ping() throws
}

/// Access tokens (only their hashes are kept).
public protocol TokenRecords: Sendable {
    func createToken(role: ServiceStore.Role, name: String) throws -> String
    func caller(token: String) throws -> (id: String, role: ServiceStore.Role)?
    /// The name given to the token whose id (hash) this is, for the audit trail.
    func tokenName(id: String) throws -> String?
}

/// Studies as received: who sent each and when, and what it holds once inspected. A study carries
/// identity: only its owner and admins see it, never a share link.
public protocol StudyRecords: Sendable {
    func createStudy(_ study: ServiceStore.Study) throws
    func study(_ id: String) throws -> ServiceStore.Study?
    func studies(owner: String?) throws -> [ServiceStore.Study]
    func studies(createdBefore date: Date) throws -> [String]
    func saveSummary(study id: String, _ summary: ServiceStore.Study.Summary) throws
    func removeStudy(_ id: String) throws -> Bool
}

/// The job queue: a job from submission (or a DICOM study's end) to its package or its error.
public protocol JobRecords: Sendable {
    /// A queued job making a package of a study (nil: the job's own upload, as before studies were
    /// kept), with a recipe (JSON; nil: the default one).
    /// `labels`: a segmentation made elsewhere (its file name under `BlobFolders.segmentation(job)`),
    /// the scene made from it instead of segmenting; `labelNames` (JSON: value → name) names it.
    /// `profile`: what the scene is for (`SceneProfile`; nil: the service's default).
    func createJob(id: String, owner: String, study: String?, recipe: String?, labels: String?, labelNames: String?, profile: String?) throws
    func job(_ id: String) throws -> ServiceStore.Job?
    func jobs(owner: String?) throws -> [ServiceStore.Job]
    /// Takes the oldest queued job for this node (`ServiceStore.node`), leased to it for
    /// `leaseSeconds` (`renewLeases` extends the lease while the job runs).
    func claimJob() throws -> ServiceStore.Job?
    /// Running jobs by the node that holds their lease (for /metrics).
    func leasesByNode() throws -> [String: Int]
    /// How long a claimed job stays this node's without a renewal (seconds).
    var leaseSeconds: Double { get }
    /// Waits until a job may be waiting (queued on any node since), at most `timeout` seconds.
    func waitForJobs(timeout: Double)
    /// Extends the leases of the jobs this node runs; returns how many.
    func renewLeases() throws -> Int
    /// Jobs whose node stopped renewing their lease (its machine died) go back to the queue, or
    /// fail once they have been tried `maxAttempts` times; returns how many were queued again.
    func requeueExpiredLeases() throws -> Int
    func progress(job id: String, stage: String, percent: Int) throws
    /// What loading the job's study found (its warnings, the files not used).
    func note(job id: String, notes: LoadNotes) throws
    func finish(job id: String, packageID: String?, error: String?) throws
    func cancel(job id: String) throws -> Bool
    func requeueInterrupted() throws -> Int
    func release(job id: String) throws
    func counts() throws -> (jobs: [String: Int], packages: Int)
}

/// The DICOM peers (who may send, with which recipe) and the studies being received.
public protocol DicomRecords: Sendable {
    func dicomPeers() throws -> [ServiceStore.DicomPeer]
    func dicomPeer(_ aeTitle: String) throws -> ServiceStore.DicomPeer?
    func saveDicomPeer(_ peer: ServiceStore.DicomPeer) throws
    func removeDicomPeer(_ aeTitle: String) throws -> Bool
    func beginDicomStudy(_ study: ServiceStore.DicomStudy) throws
    func dicomStudiesBeingReceived() throws -> [ServiceStore.DicomStudy]
    func queueDicomStudy(_ study: ServiceStore.DicomStudy, instances: Int, recipe: String?, failure: String?,
                         segmentations: [ServiceStore.ReceivedSegmentation]) throws -> String?
}

/// Published packages, their owners (every sender of the same study) and their share links.
public protocol PackageRecords: Sendable {
    func addPackage(id: String, owner: String, job: String) throws
    func packages(owner: String?) throws -> [String]
    func packageOwners(_ id: String) throws -> [String]
    func packages(publishedBefore date: Date) throws -> [String]
    func removePackage(_ id: String, owner: String?) throws -> ServiceStore.Removal
    func share(package id: String, hours: Double, by owner: String) throws -> (id: String, token: String, expires: Date)
    func shareOpens(token: String, package id: String) throws -> Bool
    func sharedCollection(token: String) throws -> (id: String, expires: Date, valid: Bool)?
    func revokeShare(token: String) throws
    /// The package's own share links (those of its live sessions included), newest first.
    func shares(package id: String) throws -> [ServiceStore.Share]
    /// Revokes one of the package's share links by its id; false when the package has no such link.
    func revokeShare(package id: String, share: String) throws -> Bool
    /// A request the share link admitted: its time, and one use more when `counted`.
    func recordShareUse(token: String, counted: Bool) throws
    /// The id of a share link (nil for an unknown token), for the audit trail.
    func shareID(token: String) throws -> String?
}

/// A trainer's collections: packages with notes, opened by one share link.
public protocol CollectionRecords: Sendable {
    func createCollection(owner: String, name: String, items: [ServiceStore.CollectionItem],
                          hours: Double) throws -> (id: String, token: String, expires: Date)
    func collection(_ id: String) throws -> ServiceStore.Collection?
    func collections(owner: String?) throws -> [String]
}

/// The service's records: access tokens (only their hashes), jobs, packages, shares and
/// collections, in SQLite under the data folder (one machine) or in PostgreSQL (several), with
/// the same statements (`RecordDatabase`). Blobs live beside them (`BlobFolders`).
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
        /// What loading its study found, once it was loaded.
        public var notes: LoadNotes?
        /// The study it makes a package of (nil for jobs from before studies were kept: their own upload).
        public var studyID: String?
        /// A segmentation made elsewhere that the job makes the scene from (its file name), and
        /// names for its labels (JSON object, value → name).
        public var labels: String?
        public var labelNames: String?
        /// What its scene is for (`SceneProfile`'s name); nil: the service's default.
        public var profile: String?
    }

    /// A study kept by the service (its files under `BlobFolders.uploads`).
    public struct Study: Sendable, Equatable {
        /// What the study holds, from its first inspection: its largest series.
        public struct Summary: Codable, Sendable, Equatable {
            public var modality: String
            public var dimensions: [Int]
            public var spacing: [Double]
        }

        public var id: String
        public var owner: String
        public var created: Date
        /// "upload", or "dicom" with the calling AE title and the peer.
        public var sourceKind = "upload"
        public var callingAE: String?
        public var peer: String?
        public var summary: Summary?
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
        /// Where its studies' results go back (DICOM objects by C-STORE), if anywhere.
        public var returnTo: ReturnTarget?

        public init(aeTitle: String, host: String? = nil, recipe: String? = nil, completion: Completion = .idle, returnTo: ReturnTarget? = nil) {
            self.aeTitle = aeTitle
            self.host = host
            self.recipe = recipe
            self.completion = completion
            self.returnTo = returnTo
        }
    }

    /// A study being received by DICOM; `id` names its folder under uploads and becomes its job's id.
    /// A segmentation (SEG or RT Structure Set) received by C-STORE: the job it becomes, and its
    /// file's name in that job's segmentation folder (`BlobFolders.segmentation(job)`).
    public struct ReceivedSegmentation: Sendable, Equatable {
        public var job: String
        public var file: String

        public init(job: String, file: String) {
            self.job = job
            self.file = file
        }
    }

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

    let database: any RecordDatabase
    public let folders: BlobFolders
    /// Who claims jobs through this store (a process on a machine): the holder of their leases.
    public let node: String
    /// How long a claimed job stays this node's without a renewal.
    public let leaseSeconds: Double

    /// The records of one machine: SQLite (`vrprep.sqlite`) and the blobs in the data folder.
    public convenience init(data: URL) throws {
        let folders = BlobFolders(root: data)
        try folders.create()
        try self.init(database: SQLiteRecordDatabase(path: data.appendingPathComponent("vrprep.sqlite").path), folders: folders)
    }

    /// The records of several machines: PostgreSQL at `url` (`postgres://USER@HOST:PORT/DATABASE`),
    /// the blobs in `storage`, a folder every node mounts.
    public convenience init(postgres url: String, storage: URL, leaseSeconds: Double = 30) throws {
        let folders = BlobFolders(root: storage)
        try folders.create(alone: false)
        try self.init(database: PostgresRecordDatabase(url: url), folders: folders, leaseSeconds: leaseSeconds)
    }

    /// The records in `database` (migrated already), the blobs in `folders`; jobs claimed
    /// through it are leased for `leaseSeconds` at a time.
    public init(database: any RecordDatabase, folders: BlobFolders, leaseSeconds: Double = 30) {
        self.database = database
        self.folders = folders
        self.leaseSeconds = leaseSeconds
        node = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Whether the database answers (for /healthz): throws its error when it does not.
    public func ping() throws {
        _ = try database.read { db in try db.value(Int.self, sql: "SELECT 1") }
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
            guard let row = try db.row(sql: "SELECT role FROM token WHERE hash = ?", arguments: [hash]),
                  let role = Role(rawValue: row["role"]) else { return nil }
            return (hash, role)
        }
    }

    public func tokenName(id: String) throws -> String? {
        try database.read { db in try db.value(String.self, sql: "SELECT name FROM token WHERE hash = ?", arguments: [id]) }
    }

}

/// Where blobs live under the data folder: uploads, work in progress, published packages.
public struct BlobFolders: Sendable {
    public let root: URL
    public var uploads: URL { root.appendingPathComponent("uploads") }
    public var staging: URL { root.appendingPathComponent("staging") }
    public var packages: URL { root.appendingPathComponent("packages") }

    public func upload(_ job: String) -> URL { uploads.appendingPathComponent("\(job).zip") }
    /// The segmentations sent with jobs (made elsewhere: the scene is made from them).
    public var segmentations: URL { root.appendingPathComponent("segmentations") }
    public func segmentation(_ job: String) -> URL { segmentations.appendingPathComponent(job) }
    /// A study's files: its zip, or its folder (received instances, form files).
    public func study(_ id: String) -> URL {
        let folder = uploads.appendingPathComponent(id)
        return FileManager.default.fileExists(atPath: folder.path) ? folder : upload(id)
    }
    /// What a study holds (`vrprep inspect --json` of its files), kept once read.
    public func inspection(_ study: String) -> URL { root.appendingPathComponent("inspections").appendingPathComponent("\(study).json") }
    public func package(_ id: String) -> URL { packages.appendingPathComponent(id) }
    public func archive(_ id: String) -> URL { packages.appendingPathComponent("\(id).zip") }
    /// Gzip copies of a package's files, made once when first asked for with gzip (`ReadPackage.gzipped`).
    public func compressed(_ id: String) -> URL { packages.appendingPathComponent("\(id).gzip") }
    /// Gzip copies of the viewer's static files (three.js), made once when first asked for.
    public var staticCache: URL { root.appendingPathComponent("static.gzip") }
    /// Removes a package's files: its folder, its archive and its gzip copies.
    public func removePackageFiles(_ id: String) {
        for url in [package(id), archive(id), compressed(id)] { try? FileManager.default.removeItem(at: url) }
    }

    /// Free space on the data folder's disk that the service may use (bytes), nil where it cannot be known.
    public func freeBytes() -> Int64? {
        var info = statvfs()
        guard statvfs(root.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Makes the folders. `alone`: this machine is the only one using them, so what a stop left
    /// half done is removed; on storage that other nodes share it may be their work under way.
    func create(alone: Bool = true) throws {
        for folder in [uploads, staging, packages] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        guard alone else { return }
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
