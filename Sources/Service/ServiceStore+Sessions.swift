import Foundation

/// Live sessions' records: who made each, on which package, when it ends or ended and why, and
/// its events (the recording's lines), written as the session goes.
public protocol SessionRecords: Sendable {
    func openSession(_ session: ServiceStore.SessionRecord) throws
    /// Appends lines to a session's recording (in the order given, after those it holds).
    func appendSessionEvents(id: String, lines: [String]) throws
    /// Ends a session in the records and revokes its share link.
    func endSession(id: String, reason: String, at date: Date) throws
    func sessionRecord(_ id: String) throws -> ServiceStore.SessionRecord?
    /// The recording: one JSON line an event.
    func sessionEvents(_ id: String) throws -> [String]
    /// At start: sessions a stop or a crash interrupted are ended with `reason` (their links
    /// revoked). Returns how many.
    func endInterruptedSessions(reason: String) throws -> Int
}

extension ServiceStore {
    public struct SessionRecord: Sendable, Equatable {
        public var id: String
        public var packageID: String
        public var owner: String
        public var title: String
        public var created: Date
        public var expires: Date
        public var ended: Date?
        public var endReason: String?
        /// The SHA-256 of the session's share link (the link itself is never kept).
        public var shareHash: String

        public init(id: String, packageID: String, owner: String, title: String, created: Date, expires: Date, ended: Date? = nil,
                    endReason: String? = nil, shareHash: String) {
            (self.id, self.packageID, self.owner, self.title, self.created, self.expires) = (id, packageID, owner, title, created, expires)
            (self.ended, self.endReason, self.shareHash) = (ended, endReason, shareHash)
        }
    }

    public func openSession(_ session: SessionRecord) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO liveSession (id, packageId, owner, title, created, expires, shareHash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [session.id, session.packageID, session.owner, session.title,
                                       session.created.timeIntervalSince1970, session.expires.timeIntervalSince1970, session.shareHash])
        }
    }

    public func appendSessionEvents(id: String, lines: [String]) throws {
        guard !lines.isEmpty else { return }
        try database.write { db in
            let next = try db.value(Int.self, sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM liveSessionEvent WHERE sessionId = ?",
                                        arguments: [id]) ?? 0
            for (n, line) in lines.enumerated() {
                try db.execute(sql: "INSERT INTO liveSessionEvent (sessionId, position, line) VALUES (?, ?, ?)", arguments: [id, next + n, line])
            }
        }
    }

    public func endSession(id: String, reason: String, at date: Date) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE share SET revoked = TRUE WHERE hash = (SELECT shareHash FROM liveSession WHERE id = ?)", arguments: [id])
            try db.execute(sql: "UPDATE liveSession SET ended = ?, endReason = ? WHERE id = ? AND ended IS NULL",
                           arguments: [date.timeIntervalSince1970, reason, id])
        }
    }

    public func sessionRecord(_ id: String) throws -> SessionRecord? {
        try database.read { db in
            guard let row = try db.row(sql: "SELECT * FROM liveSession WHERE id = ?", arguments: [id]) else { return nil }
            return SessionRecord(id: row["id"], packageID: row["packageId"], owner: row["owner"], title: row["title"],
                                 created: Date(timeIntervalSince1970: row["created"]), expires: Date(timeIntervalSince1970: row["expires"]),
                                 ended: (row["ended"] as Double?).map(Date.init(timeIntervalSince1970:)), endReason: row["endReason"],
                                 shareHash: row["shareHash"])
        }
    }

    public func sessionEvents(_ id: String) throws -> [String] {
        try database.read { db in
            try db.values(String.self, sql: "SELECT line FROM liveSessionEvent WHERE sessionId = ? ORDER BY position", arguments: [id])
        }
    }

    public func endInterruptedSessions(reason: String) throws -> Int {
        try database.write { db in
            try db.execute(sql: "UPDATE share SET revoked = TRUE WHERE hash IN (SELECT shareHash FROM liveSession WHERE ended IS NULL)")
            try db.execute(sql: "UPDATE liveSession SET ended = ?, endReason = ? WHERE ended IS NULL",
                           arguments: [Date().timeIntervalSince1970, reason])
            return db.changesCount
        }
    }
}
