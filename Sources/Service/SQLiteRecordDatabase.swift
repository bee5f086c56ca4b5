import Foundation
import GRDB

/// The records in one SQLite file (GRDB), the default: one machine, nothing else to run.
/// Another process may hold the file's lock for a moment (`vrprep token create` beside a running
/// service, or the service beside it): a statement waits for it, up to 10 s, rather than fail at
/// once with "database is locked" (GRDB's default).
public final class SQLiteRecordDatabase: RecordDatabase {
    public var dialect: RecordDialect { .sqlite }
    let queue: DatabaseQueue

    /// Opens (or makes) the file and brings its tables to this version's (GRDB's migrations,
    /// each applied once, in order).
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrate(queue)
    }

    @discardableResult
    public func read<T>(_ body: (RecordConnection) throws -> T) throws -> T {
        try queue.read { db in try body(Connection(db)) }
    }

    @discardableResult
    public func write<T>(_ body: (RecordConnection) throws -> T) throws -> T {
        try queue.write { db in try body(Connection(db)) }
    }

    public func waitForJobs(timeout: Double) {
        Thread.sleep(forTimeInterval: min(max(timeout, 0), 0.2))
    }

    /// A GRDB connection, inside a read or a write.
    final class Connection: RecordConnection {
        let db: Database

        init(_ db: Database) {
            self.db = db
            super.init(dialect: .sqlite)
        }

        static func arguments(_ values: [(any RecordBindable)?]) -> StatementArguments {
            StatementArguments(values.map { value -> DatabaseValue in
                switch value?.recordValue ?? .null {
                case .null: .null
                case .integer(let i): i.databaseValue
                case .real(let d): d.databaseValue
                case .text(let s): s.databaseValue
                case .boolean(let b): (b ? 1 : 0 as Int64).databaseValue
                }
            })
        }

        @discardableResult
        override func execute(sql: String, arguments: [(any RecordBindable)?] = []) throws -> Int {
            try db.execute(sql: sql, arguments: Self.arguments(arguments))
            changesCount = db.changesCount
            return changesCount
        }

        override func rows(sql: String, arguments: [(any RecordBindable)?] = []) throws -> [RecordRow] {
            try Row.fetchAll(db, sql: sql, arguments: Self.arguments(arguments)).map { row in
                RecordRow(zip(row.columnNames, row.databaseValues).map { name, value in
                    switch value.storage {
                    case .null: (name, .null)
                    case .int64(let i): (name, .integer(i))
                    case .double(let d): (name, .real(d))
                    case .string(let s): (name, .text(s))
                    case .blob(let data): (name, .text(String(decoding: data, as: UTF8.self)))
                    }
                })
            }
        }
    }

    /// The schema, step by step since the first version (a file made by any earlier version is
    /// brought up to date; `PostgresRecordDatabase` makes the same tables in one step).
    static func migrate(_ database: DatabaseQueue) throws {
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
        migrator.registerMigration("v8-job-notes") { db in
            try db.alter(table: "job") { t in t.add(column: "notes", .text) }
        }
        migrator.registerMigration("v9-studies") { db in
            try db.create(table: "study") { t in
                t.primaryKey("id", .text)
                t.column("owner", .text).notNull()
                t.column("created", .double).notNull()
                t.column("sourceKind", .text).notNull()
                t.column("callingAE", .text)
                t.column("peer", .text)
                t.column("summary", .text)
            }
            try db.alter(table: "job") { t in t.add(column: "studyId", .text) }
        }
        // Live sessions (in memory while they run) and their events, so that a recording outlives
        // its session and a restart ends the sessions it interrupted, saying so.
        migrator.registerMigration("v10-live-sessions") { db in
            try db.create(table: "liveSession") { t in
                t.primaryKey("id", .text)
                t.column("packageId", .text).notNull()
                t.column("owner", .text).notNull()
                t.column("title", .text).notNull()
                t.column("created", .double).notNull()
                t.column("expires", .double).notNull()
                t.column("ended", .double)
                t.column("endReason", .text)
                // The hash of the session's share link, revoked when the session ends.
                t.column("shareHash", .text).notNull()
            }
            try db.create(table: "liveSessionEvent") { t in
                t.column("sessionId", .text).notNull().references("liveSession", onDelete: .cascade)
                t.column("position", .integer).notNull()
                t.column("line", .text).notNull()
                t.primaryKey(["sessionId", "position"])
            }
            try db.alter(table: "collectionItem") { t in t.add(column: "recording", .text) }
        }
        // Results back to the hospital: where a peer's results go, and each job's return.
        migrator.registerMigration("v11-returns") { db in
            try db.alter(table: "dicomPeer") { t in t.add(column: "returnTo", .text) }
            try db.alter(table: "job") { t in
                t.add(column: "labels", .text)
                t.add(column: "labelNames", .text)
            }
            try db.create(table: "jobReturn") { t in
                t.primaryKey("jobId", .text)
                t.column("ae", .text)
                t.column("host", .text)
                t.column("port", .integer)
                t.column("stow", .text)
                t.column("state", .text).notNull()
                t.column("instances", .integer)
                t.column("error", .text)
                t.column("attempts", .integer).notNull()
                t.column("next", .double)
            }
        }
        // Segmentations pushed by C-STORE find their study by its StudyInstanceUID.
        migrator.registerMigration("v12-study-uid") { db in
            try db.alter(table: "study") { t in t.add(column: "studyUID", .text) }
            try db.create(index: "studyByUID", on: "study", columns: ["studyUID"])
        }
        // Scenes made for a headset, a phone or a printer.
        migrator.registerMigration("v13-job-profile") { db in
            try db.alter(table: "job") { t in t.add(column: "profile", .text) }
        }
        // Share links that their owners can list and revoke, and the audit trail (append-only:
        // the database itself refuses to change or remove an event).
        migrator.registerMigration("v14-audit-and-share-management") { db in
            try db.alter(table: "share") { t in
                t.add(column: "id", .text)
                t.add(column: "created", .double)
                t.add(column: "createdBy", .text)
                t.add(column: "uses", .integer).notNull().defaults(to: 0)
                t.add(column: "lastUsed", .double)
            }
            try db.execute(sql: "UPDATE share SET id = 'sh_' || substr(hash, 1, 16)")
            try db.create(index: "shareById", on: "share", columns: ["id"], unique: true)
            try db.create(index: "shareByPackage", on: "share", columns: ["packageId"])
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("time", .double).notNull()
                t.column("actorKind", .text).notNull()
                t.column("actorId", .text)
                t.column("actorName", .text)
                t.column("role", .text)
                t.column("address", .text)
                t.column("action", .text).notNull()
                t.column("method", .text).notNull()
                t.column("path", .text).notNull()
                t.column("studyId", .text)
                t.column("packageId", .text)
                t.column("shareId", .text)
                t.column("status", .integer).notNull()
                t.column("detail", .text)
            }
            try db.create(index: "auditByTime", on: "audit", columns: ["time"])
            try db.create(index: "auditByStudy", on: "audit", columns: ["studyId"])
            try db.create(index: "auditByPackage", on: "audit", columns: ["packageId"])
            for operation in ["UPDATE", "DELETE"] {
                try db.execute(sql: """
                    CREATE TRIGGER audit\(operation.capitalized)Refused BEFORE \(operation) ON audit
                    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
                    """)
            }
        }
        // Results returned to a PACS over DICOM TLS.
        migrator.registerMigration("v15-return-tls") { db in
            try db.alter(table: "jobReturn") { t in t.add(column: "tls", .boolean) }
        }
        // Jobs leased to the node that runs them (several nodes share PostgreSQL's queue; here the
        // lease is kept the same way).
        migrator.registerMigration("v16-job-leases") { db in
            try db.alter(table: "job") { t in
                t.add(column: "worker", .text)
                t.add(column: "leaseUntil", .double)
            }
        }
        try migrator.migrate(database)
    }
}
