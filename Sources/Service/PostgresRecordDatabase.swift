import CPostgres
import Foundation

/// The records in PostgreSQL (libpq), for a service on several machines: every node reads and
/// writes the same tables, and a job is claimed with `SELECT … FOR UPDATE SKIP LOCKED`, so two
/// workers never take the same one. A few connections are kept open and lent to one call at a
/// time; one that the server dropped (a restart) is opened again before it is lent.
public final class PostgresRecordDatabase: RecordDatabase, @unchecked Sendable {
    public var dialect: RecordDialect { .postgres }
    /// The URL with its password hidden, for messages.
    public let location: String
    private let url: String
    private let limit: Int
    private let lock = NSCondition()
    private var idle: [OpaquePointer] = []
    private var opened = 0
    /// Jobs queued anywhere since the listener started (NOTIFY vrprep_jobs), and the waiters.
    private let notices = NSCondition()
    private var generation = 0
    private var listening = false

    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`, or libpq's
    /// `key=value` form), and brings the tables to this version's, one node at a time.
    public init(url: String, connections: Int = 4) throws {
        self.url = url
        limit = max(1, connections)
        location = Self.redacted(url)
        let first = try open()
        lock.lock()
        opened = 1
        idle.append(first)
        lock.unlock()
        try migrate()
    }

    deinit {
        for connection in idle { PQfinish(connection) }
    }

    public static func redacted(_ url: String) -> String {
        guard let password = URLComponents(string: url)?.percentEncodedPassword, !password.isEmpty,
              let range = url.range(of: ":\(password)@") else { return url }
        return url.replacingCharacters(in: range, with: ":***@")
    }

    private func open() throws -> OpaquePointer {
        guard let connection = PQconnectdb(url) else { throw RecordDatabaseError("cannot reach PostgreSQL at \(location): out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw RecordDatabaseError("cannot reach PostgreSQL at \(location): \(reason)")
        }
        // Notices ("already exists, skipping") are not the service's to print.
        PQclear(PQexec(connection, "SET client_min_messages TO warning"))
        return connection
    }

    /// A connection for one call: an idle one, a new one while fewer than `limit` are open, or
    /// the next one given back.
    private func borrow() throws -> OpaquePointer {
        lock.lock()
        while idle.isEmpty && opened >= limit { lock.wait() }
        if let connection = idle.popLast() {
            lock.unlock()
            if PQstatus(connection) != CONNECTION_OK { PQreset(connection) }
            guard PQstatus(connection) == CONNECTION_OK else {
                giveBack(connection)
                throw RecordDatabaseError("lost PostgreSQL at \(location): \(String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return connection
        }
        opened += 1
        lock.unlock()
        do {
            return try open()
        } catch {
            lock.lock()
            opened -= 1
            lock.signal()
            lock.unlock()
            throw error
        }
    }

    private func giveBack(_ connection: OpaquePointer) {
        lock.lock()
        idle.append(connection)
        lock.signal()
        lock.unlock()
    }

    @discardableResult
    public func read<T>(_ body: (RecordConnection) throws -> T) throws -> T {
        let connection = try borrow()
        defer { giveBack(connection) }
        return try body(Connection(connection))
    }

    @discardableResult
    public func write<T>(_ body: (RecordConnection) throws -> T) throws -> T {
        let raw = try borrow()
        defer { giveBack(raw) }
        return try Self.transaction(on: Connection(raw), body)
    }

    /// Runs `body` between BEGIN and COMMIT on `connection`; ROLLBACK when it throws.
    private static func transaction<T>(on connection: Connection, _ body: (RecordConnection) throws -> T) throws -> T {
        try connection.execute(sql: "BEGIN")
        do {
            let result = try body(connection)
            try connection.execute(sql: "COMMIT")
            return result
        } catch {
            _ = try? connection.execute(sql: "ROLLBACK")
            throw error
        }
    }

    // MARK: Waiting for jobs

    public func waitForJobs(timeout: Double) {
        notices.lock()
        defer { notices.unlock() }
        if !listening {
            listening = true
            startListening()
        }
        let seen = generation, deadline = Date().addingTimeInterval(max(0, timeout))
        while generation == seen && notices.wait(until: deadline) {}
    }

    /// A connection of its own that LISTENs for queued jobs, on a thread that ends once this
    /// database is released (it looks at least once a second).
    private func startListening() {
        let thread = Thread { [weak self] in
            var connection: OpaquePointer?
            while let database = self {
                database.listen(on: &connection)
            }
            if let connection { PQfinish(connection) }
        }
        thread.name = "vrprep.records.listen"
        thread.start()
    }

    /// One round of the listener: (re)connects, waits up to a second for the server, wakes the
    /// waiters on a notification (and after a reconnection, which may have missed some).
    private func listen(on connection: inout OpaquePointer?) {
        if connection == nil || PQstatus(connection) != CONNECTION_OK {
            if let old = connection { PQfinish(old) }
            connection = try? open()
            guard let fresh = connection else {
                Thread.sleep(forTimeInterval: 1)
                return
            }
            PQclear(PQexec(fresh, "LISTEN vrprep_jobs"))
            wake()
        }
        guard let connection else { return }
        var socket = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        guard poll(&socket, 1, 1000) > 0, PQconsumeInput(connection) != 0 else { return }
        var notified = false
        while let notice = PQnotifies(connection) {
            notified = true
            PQfreemem(notice)
        }
        if notified { wake() }
    }

    private func wake() {
        notices.lock()
        generation &+= 1
        notices.broadcast()
        notices.unlock()
    }

    /// One libpq connection, inside a read or a write.
    final class Connection: RecordConnection {
        let connection: OpaquePointer

        init(_ connection: OpaquePointer) {
            self.connection = connection
            super.init(dialect: .postgres)
        }

        /// `?` placeholders as PostgreSQL's `$1`, `$2`, … (not inside quoted text).
        static func numbered(_ sql: String) -> String {
            var out = "", n = 0, quoted = false
            for c in sql {
                if c == "'" { quoted.toggle() }
                if c == "?" && !quoted {
                    n += 1
                    out += "$\(n)"
                } else {
                    out.append(c)
                }
            }
            return out
        }

        static func text(_ value: (any RecordBindable)?) -> String? {
            switch value?.recordValue ?? .null {
            case .null: nil
            case .integer(let i): String(i)
            case .real(let d): d.isFinite ? String(d) : (d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity")
            case .text(let s): s
            case .boolean(let b): b ? "true" : "false"
            }
        }

        /// Runs `sql` with `arguments` as text; the result, checked.
        private func run(_ sql: String, _ arguments: [(any RecordBindable)?]) throws -> OpaquePointer {
            let texts = arguments.map(Self.text)
            let statement = Self.numbered(sql)
            // C strings that live until PQexecParams returns.
            let copies: [UnsafeMutablePointer<CChar>?] = texts.map { $0.flatMap { strdup($0) } }
            defer { for copy in copies { free(copy) } }
            let result: OpaquePointer? = copies.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { values in
                PQexecParams(connection, statement, Int32(texts.count), nil, values.baseAddress, nil, nil, 0)
            }
            guard let result else {
                throw RecordDatabaseError("PostgreSQL: \(String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines))", sql: sql)
            }
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
                PQclear(result)
                throw RecordDatabaseError("PostgreSQL: \(message)", sql: sql)
            }
            return result
        }

        @discardableResult
        override func execute(sql: String, arguments: [(any RecordBindable)?] = []) throws -> Int {
            let result = try run(sql, arguments)
            defer { PQclear(result) }
            changesCount = Int(String(cString: PQcmdTuples(result))) ?? 0
            return changesCount
        }

        override func rows(sql: String, arguments: [(any RecordBindable)?] = []) throws -> [RecordRow] {
            let result = try run(sql, arguments)
            defer { PQclear(result) }
            let (count, columns) = (Int(PQntuples(result)), Int(PQnfields(result)))
            let names = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
            let types = (0..<columns).map { PQftype(result, Int32($0)) }
            return (0..<count).map { r in
                RecordRow((0..<columns).map { c in
                    guard PQgetisnull(result, Int32(r), Int32(c)) == 0 else { return (names[c], .null) }
                    let text = String(cString: PQgetvalue(result, Int32(r), Int32(c)))
                    switch types[c] {
                    case 16: return (names[c], .boolean(text == "t"))  // bool
                    case 20, 21, 23, 26: return (names[c], Int64(text).map(RecordValue.integer) ?? .text(text))  // int8, int2, int4, oid
                    case 700, 701, 1700: return (names[c], Double(text).map(RecordValue.real) ?? .text(text))  // float4, float8, numeric
                    default: return (names[c], .text(text))
                    }
                })
            }
        }
    }

    // MARK: Schema

    /// Brings the tables to this version's. Several nodes may start at once: one at a time holds
    /// an advisory lock while it looks and, where needed, migrates; the others then find it done.
    private func migrate() throws {
        let raw = try borrow()
        defer { giveBack(raw) }
        let connection = Connection(raw)
        try connection.execute(sql: "SELECT pg_advisory_lock(\(Self.migrationLock))")
        defer { _ = try? connection.execute(sql: "SELECT pg_advisory_unlock(\(Self.migrationLock))") }
        try connection.execute(sql: "CREATE TABLE IF NOT EXISTS vrprepMigration (name TEXT PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)")
        let applied = Set(try connection.values(String.self, sql: "SELECT name FROM vrprepMigration"))
        for (name, statements) in Self.migrations where !applied.contains(name) {
            try Self.transaction(on: connection) { db in
                for statement in statements { try db.execute(sql: statement) }
                try db.execute(sql: "INSERT INTO vrprepMigration (name, applied) VALUES (?, ?)",
                               arguments: [name, Date().timeIntervalSince1970])
            }
        }
    }

    /// The key of the advisory lock held while migrating ("VRPrep" in ASCII).
    static let migrationLock: Int64 = 0x5652_5072_6570

    /// The schema of `SQLiteRecordDatabase`'s migrations, as it stands after them all, in one
    /// step (times are seconds since 1970, as there). Later changes come as further steps.
    static let migrations: [(String, [String])] = [
        ("v1", [
            "CREATE TABLE token (hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL)",
            """
            CREATE TABLE job (id TEXT PRIMARY KEY, owner TEXT NOT NULL, state TEXT NOT NULL, stage TEXT NOT NULL, percent INTEGER NOT NULL,
                error TEXT, packageId TEXT, created DOUBLE PRECISION NOT NULL, sourceKind TEXT NOT NULL DEFAULT 'upload', callingAE TEXT,
                peer TEXT, instances INTEGER, recipe TEXT, attempts INTEGER NOT NULL DEFAULT 0, notes TEXT, studyId TEXT, labels TEXT,
                labelNames TEXT, profile TEXT)
            """,
            "CREATE INDEX jobByState ON job (state, created)",
            "CREATE TABLE package (id TEXT PRIMARY KEY, owner TEXT NOT NULL, jobId TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE packageOwner (packageId TEXT NOT NULL, owner TEXT NOT NULL, jobId TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (packageId, owner))
            """,
            "CREATE INDEX packageOwnerByOwner ON packageOwner (owner, created)",
            """
            CREATE TABLE share (hash TEXT PRIMARY KEY, packageId TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL,
                revoked BOOLEAN NOT NULL DEFAULT FALSE, collectionId TEXT, id TEXT, created DOUBLE PRECISION, createdBy TEXT,
                uses INTEGER NOT NULL DEFAULT 0, lastUsed DOUBLE PRECISION)
            """,
            "CREATE UNIQUE INDEX shareById ON share (id)",
            "CREATE INDEX shareByPackage ON share (packageId)",
            """
            CREATE TABLE collection (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
                expires DOUBLE PRECISION NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE collectionItem (collectionId TEXT NOT NULL REFERENCES collection ON DELETE CASCADE, position INTEGER NOT NULL,
                packageId TEXT NOT NULL, notes TEXT NOT NULL, recording TEXT, PRIMARY KEY (collectionId, position))
            """,
            "CREATE TABLE dicomPeer (aeTitle TEXT PRIMARY KEY, host TEXT, recipe TEXT, completion TEXT NOT NULL, returnTo TEXT)",
            """
            CREATE TABLE dicomStudy (id TEXT PRIMARY KEY, callingAE TEXT NOT NULL, studyUID TEXT NOT NULL, peer TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL)
            """,
            """
            CREATE TABLE study (id TEXT PRIMARY KEY, owner TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, sourceKind TEXT NOT NULL,
                callingAE TEXT, peer TEXT, summary TEXT, studyUID TEXT)
            """,
            "CREATE INDEX studyByUID ON study (studyUID)",
            """
            CREATE TABLE liveSession (id TEXT PRIMARY KEY, packageId TEXT NOT NULL, owner TEXT NOT NULL, title TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL, ended DOUBLE PRECISION, endReason TEXT,
                shareHash TEXT NOT NULL)
            """,
            """
            CREATE TABLE liveSessionEvent (sessionId TEXT NOT NULL REFERENCES liveSession ON DELETE CASCADE, position INTEGER NOT NULL,
                line TEXT NOT NULL, PRIMARY KEY (sessionId, position))
            """,
            """
            CREATE TABLE jobReturn (jobId TEXT PRIMARY KEY, ae TEXT, host TEXT, port INTEGER, stow TEXT, state TEXT NOT NULL,
                instances INTEGER, error TEXT, attempts INTEGER NOT NULL, next DOUBLE PRECISION, tls BOOLEAN)
            """,
            """
            CREATE TABLE audit (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time DOUBLE PRECISION NOT NULL, actorKind TEXT NOT NULL,
                actorId TEXT, actorName TEXT, role TEXT, address TEXT, action TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
                studyId TEXT, packageId TEXT, shareId TEXT, status INTEGER NOT NULL, detail TEXT)
            """,
            "CREATE INDEX auditByTime ON audit (time)",
            "CREATE INDEX auditByStudy ON audit (studyId)",
            "CREATE INDEX auditByPackage ON audit (packageId)",
            // The trail is append-only: the database itself refuses to change or remove an event.
            """
            CREATE FUNCTION vrprepAuditAppendOnly() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$
            """,
            "CREATE TRIGGER auditChangeRefused BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION vrprepAuditAppendOnly()",
            "CREATE TRIGGER auditTruncateRefused BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION vrprepAuditAppendOnly()",
        ]),
        ("v2-job-leases", [
            "ALTER TABLE job ADD COLUMN worker TEXT",
            "ALTER TABLE job ADD COLUMN leaseUntil DOUBLE PRECISION",
        ]),
    ]
}
