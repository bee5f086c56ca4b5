import ArgumentParser
import Foundation
import Service

/// Where the service's records and blobs are: one folder on one machine (`--data`: SQLite and
/// the blobs), or PostgreSQL with a folder every node mounts (`--database` and `--storage`).
struct RecordsOptions: ParsableArguments {
    @Option(help: "Folder of the records (SQLite) and the blobs, on one machine.")
    var data: String?

    @Option(help: "PostgreSQL holding the records of several nodes: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (with --storage).")
    var database: String?

    @Option(help: "With --database: the folder of the blobs (uploads, studies, packages) that every node mounts.")
    var storage: String?

    func validate() throws {
        switch (data, database, storage) {
        case (_?, nil, nil), (nil, _?, _?): break
        case (_?, _, _): throw ValidationError("--data (one machine) and --database/--storage (several) exclude each other")
        case (nil, _?, nil): throw ValidationError("--database needs --storage: the folder of the blobs that every node mounts")
        case (nil, nil, _?): throw ValidationError("--storage goes with --database")
        case (nil, nil, nil): throw ValidationError("say where the records are: --data DIR, or --database URL --storage DIR")
        }
        if let database, !(database.hasPrefix("postgres://") || database.hasPrefix("postgresql://")) {
            throw ValidationError("--database must be a postgres:// URL (postgres://USER@HOST:PORT/DATABASE), not '\(database)'")
        }
    }

    /// True with --database: several nodes share the records.
    var shared: Bool { database != nil }

    /// The blob folder (the data folder on one machine).
    var folder: URL { URL(fileURLWithPath: storage ?? data!) }

    /// Where the records are, for messages (a password hidden).
    var location: String {
        guard let database else { return data! }
        return "\(PostgresRecordDatabase.redacted(database)) with blobs in \(storage!)"
    }

    func open(leaseSeconds: Double = 30) throws -> ServiceStore {
        if let database { return try ServiceStore(postgres: database, storage: folder, leaseSeconds: leaseSeconds) }
        return try ServiceStore(data: folder)
    }
}
