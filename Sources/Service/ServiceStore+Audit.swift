import Foundation

/// The audit trail: who reached identified data, packages and share links, what, when, and how
/// it ended. Append-only: the records have no call that changes or removes an event, and the
/// SQLite store refuses it (triggers), so an event once written stays as written.
public protocol AuditRecords: Sendable {
    /// Appends an event; its `seq` and `time` are set by the records.
    func appendAudit(_ event: ServiceStore.AuditEvent) throws
    /// Events in the order they were written, from `since` on, about `study` and/or `package`
    /// when given, at most `limit`, starting after `after` (a `seq`).
    func auditEvents(since: Date?, study: String?, package: String?, after: Int64?, limit: Int) throws -> [ServiceStore.AuditEvent]
}

extension ServiceStore {
    /// One event of the audit trail (`Audit` says what each action is in DICOM's terms).
    public struct AuditEvent: Sendable, Equatable {
        /// Who acted: an access token, a share link, a DICOM peer, the service itself, or a caller
        /// that gave no valid credential.
        public enum ActorKind: String, Sendable {
            case token, share, dicomPeer = "dicom-peer", service, anonymous
        }

        public var seq: Int64 = 0
        public var time = Date()
        public var actorKind: ActorKind
        /// The token's id (a prefix of its hash), the share link's id, the calling AE title.
        public var actorID: String?
        /// The token's name, or the peer's host.
        public var actorName: String?
        public var role: String?
        /// The caller's network address.
        public var address: String?
        /// What was done, e.g. "study.slice" or "package.archive" (`Audit.Action`).
        public var action: String
        public var method: String
        /// The request's path with its query, share tokens taken out.
        public var path: String
        public var study: String?
        public var package: String?
        /// The share link the request named (by its id), when it named one.
        public var share: String?
        /// The HTTP status of the answer (for DICOM: 200 done, 500 failed).
        public var status: Int
        public var detail: String?

        public init(actorKind: ActorKind, actorID: String? = nil, actorName: String? = nil, role: String? = nil, address: String? = nil,
                    action: String, method: String, path: String, study: String? = nil, package: String? = nil, share: String? = nil,
                    status: Int, detail: String? = nil) {
            (self.actorKind, self.actorID, self.actorName, self.role, self.address) = (actorKind, actorID, actorName, role, address)
            (self.action, self.method, self.path, self.study, self.package, self.share) = (action, method, path, study, package, share)
            (self.status, self.detail) = (status, detail)
        }
    }

    public func appendAudit(_ event: AuditEvent) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO audit (time, actorKind, actorId, actorName, role, address, action, method, path, studyId, packageId,
                                   shareId, status, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Date().timeIntervalSince1970, event.actorKind.rawValue, event.actorID, event.actorName, event.role,
                                 event.address, event.action, event.method, event.path, event.study, event.package, event.share,
                                 event.status, event.detail])
        }
    }

    public func auditEvents(since: Date?, study: String?, package: String?, after: Int64?, limit: Int) throws -> [AuditEvent] {
        var conditions: [String] = [], arguments: [(any RecordBindable)?] = []
        if let since { conditions.append("time >= ?"); arguments.append(since.timeIntervalSince1970) }
        if let study { conditions.append("studyId = ?"); arguments.append(study) }
        if let package { conditions.append("packageId = ?"); arguments.append(package) }
        if let after { conditions.append("seq > ?"); arguments.append(after) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(limit)
        return try database.read { db in
            try db.rows(sql: "SELECT * FROM audit \(filter) ORDER BY seq LIMIT ?", arguments: arguments).map { row in
                var event = AuditEvent(actorKind: AuditEvent.ActorKind(rawValue: row["actorKind"]) ?? .anonymous, actorID: row["actorId"],
                                       actorName: row["actorName"], role: row["role"], address: row["address"], action: row["action"],
                                       method: row["method"], path: row["path"], study: row["studyId"], package: row["packageId"],
                                       share: row["shareId"], status: row["status"], detail: row["detail"])
                event.seq = row["seq"]
                event.time = Date(timeIntervalSince1970: row["time"])
                return event
            }
        }
    }

    /// Tries to change the trail in place (for the test that the store refuses it).
    func tamperWithAudit(sql: String) throws {
        try database.write { db in try db.execute(sql: sql) }
    }
}
