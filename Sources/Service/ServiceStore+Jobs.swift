import Foundation
import Pipeline

/// The job queue: submitting, claiming (atomic: SQLite's one writer, PostgreSQL's row locks),
/// leases, progress, the end. A running job is leased to the node that claimed it: only that
/// node reports its progress and ends it, so a node that lost its lease (it stalled, and the job
/// went to another) and finishes late changes nothing.
extension ServiceStore {
    // MARK: Jobs

    public func createJob(id: String, owner: String, study: String?, recipe: String?, labels: String?, labelNames: String?,
                          profile: String?) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO job (id, owner, state, stage, percent, created, studyId, recipe, labels, labelNames, profile)
                VALUES (?, ?, 'queued', 'queued', 0, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, owner, Date().timeIntervalSince1970, study, recipe, labels, labelNames, profile])
            try db.signalJobs()
        }
    }

    public func job(_ id: String) throws -> Job? {
        try database.read { db in
            try db.row(sql: "SELECT * FROM job WHERE id = ?", arguments: [id]).map(Self.job)
        }
    }

    static func job(_ row: RecordRow) -> Job {
        // A state this version does not know (a newer one wrote it) reads as failed, never as runnable.
        Job(id: row["id"], owner: row["owner"], state: JobState(rawValue: row["state"] ?? "") ?? .failed, stage: row["stage"], percent: row["percent"],
            error: row["error"], packageID: row["packageId"], sourceKind: row["sourceKind"] ?? "upload", callingAE: row["callingAE"],
            peer: row["peer"], instances: row["instances"], recipe: row["recipe"], attempts: row["attempts"] ?? 0,
            notes: (row["notes"] as String?).flatMap { try? JSONDecoder().decode(LoadNotes.self, from: Data($0.utf8)) },
            studyID: row["studyId"], labels: row["labels"], labelNames: row["labelNames"], profile: row["profile"])
    }

    /// Jobs, newest first; those of `owner` only unless nil.
    public func jobs(owner: String?) throws -> [Job] {
        try database.read { db in
            if let owner {
                return try db.rows(sql: "SELECT * FROM job WHERE owner = ? ORDER BY created DESC", arguments: [owner]).map(Self.job)
            }
            return try db.rows(sql: "SELECT * FROM job ORDER BY created DESC").map(Self.job)
        }
    }

    /// Takes the oldest queued job for a worker (running), if any, and counts the attempt
    /// before anything runs.
    public func claimJob() throws -> Job? {
        try database.write { db in
            guard let row = try db.row(sql: "SELECT * FROM job WHERE state = 'queued' ORDER BY created LIMIT 1" + db.dialect.claimSuffix) else { return nil }
            try db.execute(sql: """
                UPDATE job SET state = 'running', stage = 'starting', attempts = attempts + 1, worker = ?, leaseUntil = ? WHERE id = ?
                """, arguments: [node, Date().timeIntervalSince1970 + leaseSeconds, row["id"] as String])
            var job = Self.job(row)
            job.state = .running
            job.attempts += 1
            return job
        }
    }

    public func progress(job id: String, stage: String, percent: Int) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE job SET stage = ?, percent = ? WHERE id = ? AND state = 'running' AND worker = ?",
                           arguments: [stage, percent, id, node])
        }
    }

    public func note(job id: String, notes: LoadNotes) throws {
        let text = String(decoding: try JSONEncoder().encode(notes), as: UTF8.self)
        try database.write { db in try db.execute(sql: "UPDATE job SET notes = ? WHERE id = ? AND worker = ?", arguments: [text, id, node]) }
    }

    public func finish(job id: String, packageID: String?, error: String?) throws {
        try database.write { db in
            if let packageID {
                try db.execute(sql: """
                    UPDATE job SET state = 'done', stage = 'done', percent = 100, packageId = ?, leaseUntil = NULL
                    WHERE id = ? AND worker = ? AND state IN ('running', 'cancelled')
                    """, arguments: [packageID, id, node])
            } else {
                try db.execute(sql: "UPDATE job SET state = 'failed', error = ?, leaseUntil = NULL WHERE id = ? AND worker = ? AND state = 'running'",
                               arguments: [error, id, node])
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
    /// In SQLite (one machine) every running job was this machine's; in PostgreSQL only those
    /// whose lease has run out are taken back (other nodes' jobs run on).
    public func requeueInterrupted() throws -> Int {
        try requeue(onlyExpired: database.dialect == .postgres)
    }

    public func requeueExpiredLeases() throws -> Int {
        try requeue(onlyExpired: true)
    }

    private func requeue(onlyExpired: Bool) throws -> Int {
        try database.write { db in
            let lost = onlyExpired ? "state = 'running' AND (leaseUntil IS NULL OR leaseUntil < ?)" : "state = 'running'"
            let now: [(any RecordBindable)?] = onlyExpired ? [Date().timeIntervalSince1970] : []
            try db.execute(sql: """
                UPDATE job SET state = 'failed', leaseUntil = NULL,
                    error = 'the service stopped twice while this job ran (at ' || stage || '); not retried'
                WHERE \(lost) AND attempts >= ?
                """, arguments: now + [Self.maxAttempts])
            let queued = try db.execute(sql: "UPDATE job SET state = 'queued', stage = 'queued', percent = 0, worker = NULL, leaseUntil = NULL WHERE \(lost)",
                                        arguments: now)
            if queued > 0 { try db.signalJobs() }
            return queued
        }
    }

    public func leasesByNode() throws -> [String: Int] {
        try database.read { db in
            var held: [String: Int] = [:]
            for row in try db.rows(sql: "SELECT worker, COUNT(*) AS n FROM job WHERE state = 'running' AND worker IS NOT NULL GROUP BY worker") {
                held[row["worker"]] = row["n"]
            }
            return held
        }
    }

    /// Waits for a job to be queued (on any node), at most `timeout` seconds.
    public func waitForJobs(timeout: Double) {
        database.waitForJobs(timeout: timeout)
    }

    public func renewLeases() throws -> Int {
        try database.write { db in
            try db.execute(sql: "UPDATE job SET leaseUntil = ? WHERE state = 'running' AND worker = ?",
                           arguments: [Date().timeIntervalSince1970 + leaseSeconds, node])
        }
    }

    /// A running job given back by a runner that is stopping: queued again, this attempt not counted.
    public func release(job id: String) throws {
        try database.write { db in
            try db.execute(sql: """
                UPDATE job SET state = 'queued', stage = 'queued', percent = 0, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                    worker = NULL, leaseUntil = NULL
                WHERE id = ? AND state = 'running' AND worker = ?
                """, arguments: [id, node])
            if db.changesCount > 0 { try db.signalJobs() }
        }
    }

    /// Jobs per state, and the number of packages (for /metrics).
    public func counts() throws -> (jobs: [String: Int], packages: Int) {
        try database.read { db in
            var jobs: [String: Int] = [:]
            for row in try db.rows(sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                jobs[row["state"]] = row["n"]
            }
            return (jobs, try db.value(Int.self, sql: "SELECT COUNT(*) FROM package") ?? 0)
        }
    }
}

extension JobRecords {
    /// A job of its own upload (`uploads/ID.zip`), as before studies were kept.
    public func createJob(id: String, owner: String) throws {
        try createJob(id: id, owner: owner, study: nil, recipe: nil)
    }

    /// A job that segments its study (with `recipe`, or the default one), for `profile` (nil: the service's default).
    public func createJob(id: String, owner: String, study: String?, recipe: String?, profile: String? = nil) throws {
        try createJob(id: id, owner: owner, study: study, recipe: recipe, labels: nil, labelNames: nil, profile: profile)
    }
}
