import Foundation

/// Results going back to the hospital: for a job whose study came from a DICOM peer that names
/// where its results go, the return of the job's DICOM objects (segmentation, models) to that
/// place, its state and its retries.
public protocol ReturnRecords: Sendable {
    /// Schedules (or schedules again, from scratch) the return of a job's results.
    func scheduleReturn(job: String, to target: ServiceStore.ReturnTarget) throws
    /// Takes the returns due at `date` (state pending, their time come), marking them sending.
    func claimDueReturns(at date: Date) throws -> [ServiceStore.JobReturn]
    /// Records how a return went: done (with the instances sent), pending again at `next`, or failed.
    func recordReturn(job: String, state: ServiceStore.JobReturn.State, instances: Int?, error: String?, next: Date?) throws
    func jobReturn(_ job: String) throws -> ServiceStore.JobReturn?
    /// At start: returns a stop interrupted while sending are due again.
    func requeueInterruptedReturns() throws -> Int
}

extension ServiceStore {
    /// Where a peer's results go: a DICOM Storage SCP (C-STORE: its AE title, host and port),
    /// and/or a DICOMweb service (STOW-RS: its base URL).
    public struct ReturnTarget: Codable, Sendable, Equatable {
        public var ae: String?
        public var host: String?
        public var port: Int?
        public var stow: String?
        /// The Storage SCP takes DICOM TLS only (true), else plain TCP.
        public var tls: Bool?

        public init(ae: String? = nil, host: String? = nil, port: Int? = nil, stow: String? = nil, tls: Bool? = nil) {
            (self.ae, self.host, self.port, self.stow, self.tls) = (ae, host, port, stow, tls)
        }

        /// The Storage SCP, when there is one.
        public var storeSCP: (ae: String, host: String, port: Int)? {
            guard let ae, let host, let port else { return nil }
            return (ae, host, port)
        }
    }

    public struct JobReturn: Sendable, Equatable {
        public enum State: String, Sendable, Codable {
            case pending, sending, done, failed
        }

        public var job: String
        public var target: ReturnTarget
        public var state: State
        public var instances: Int?
        public var error: String?
        public var attempts: Int
        public var next: Date?
    }

    public func scheduleReturn(job: String, to target: ReturnTarget) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO jobReturn (jobId, ae, host, port, stow, tls, state, instances, error, attempts, next)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?)
                ON CONFLICT (jobId) DO UPDATE SET ae = excluded.ae, host = excluded.host, port = excluded.port, stow = excluded.stow,
                    tls = excluded.tls, state = 'pending', instances = NULL, error = NULL, attempts = 0, next = excluded.next
                """, arguments: [job, target.ae, target.host, target.port, target.stow, target.tls, Date().timeIntervalSince1970])
        }
    }

    public func claimDueReturns(at date: Date) throws -> [JobReturn] {
        try database.write { db in
            let rows = try db.rows(sql: "SELECT * FROM jobReturn WHERE state = 'pending' AND next <= ? ORDER BY next" + db.dialect.claimSuffix,
                                        arguments: [date.timeIntervalSince1970])
            for row in rows {
                try db.execute(sql: "UPDATE jobReturn SET state = 'sending', attempts = attempts + 1 WHERE jobId = ?",
                               arguments: [row["jobId"] as String])
            }
            return rows.map { row in
                var taken = Self.jobReturn(row)
                taken.state = .sending
                taken.attempts += 1
                return taken
            }
        }
    }

    public func recordReturn(job: String, state: JobReturn.State, instances: Int?, error: String?, next: Date?) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE jobReturn SET state = ?, instances = ?, error = ?, next = ? WHERE jobId = ?",
                           arguments: [state.rawValue, instances, error, next?.timeIntervalSince1970, job])
        }
    }

    public func jobReturn(_ job: String) throws -> JobReturn? {
        try database.read { db in
            try db.row(sql: "SELECT * FROM jobReturn WHERE jobId = ?", arguments: [job]).map(Self.jobReturn)
        }
    }

    public func requeueInterruptedReturns() throws -> Int {
        try database.write { db in
            try db.execute(sql: "UPDATE jobReturn SET state = 'pending', next = ? WHERE state = 'sending'",
                           arguments: [Date().timeIntervalSince1970])
            return db.changesCount
        }
    }

    static func jobReturn(_ row: RecordRow) -> JobReturn {
        JobReturn(job: row["jobId"], target: ReturnTarget(ae: row["ae"], host: row["host"], port: row["port"], stow: row["stow"], tls: row["tls"]),
                  state: JobReturn.State(rawValue: row["state"] ?? "") ?? .failed, instances: row["instances"], error: row["error"],
                  attempts: row["attempts"] ?? 0, next: (row["next"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}
