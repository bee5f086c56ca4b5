import Foundation

/// Packages, their owners and their share links in SQLite.
extension ServiceStore {
    // MARK: Packages and shares

    /// Records a published package and that `owner` (through `job`) has it; a package already
    /// published by another sender gains an owner.
    public func addPackage(id: String, owner: String, job: String) throws {
        try database.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "INSERT INTO package (id, owner, jobId, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [id, owner, job, now])
            try db.execute(sql: "INSERT INTO packageOwner (packageId, owner, jobId, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [id, owner, job, now])
        }
    }

    /// Package ids, oldest first; those of `owner` only unless nil.
    public func packages(owner: String?) throws -> [String] {
        try database.read { db in
            if let owner {
                return try db.values(String.self, sql: "SELECT packageId FROM packageOwner WHERE owner = ? ORDER BY created, packageId",
                                           arguments: [owner])
            }
            return try db.values(String.self, sql: "SELECT id FROM package ORDER BY created")
        }
    }

    /// Packages published before `date` (for retention).
    public func packages(publishedBefore date: Date) throws -> [String] {
        try database.read { db in
            try db.values(String.self, sql: "SELECT id FROM package WHERE created < ? ORDER BY created", arguments: [date.timeIntervalSince1970])
        }
    }

    /// Who has the package (empty when there is no such package).
    public func packageOwners(_ id: String) throws -> [String] {
        try database.read { db in
            try db.values(String.self, sql: "SELECT owner FROM packageOwner WHERE packageId = ? ORDER BY created", arguments: [id])
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
            let left = try db.value(Int.self, sql: "SELECT COUNT(*) FROM packageOwner WHERE packageId = ?", arguments: [id]) ?? 0
            guard left == 0 else { return .released }
            try db.execute(sql: "DELETE FROM package WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM share WHERE packageId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM collectionItem WHERE packageId = ?", arguments: [id])
            return .removed
        }
    }

    /// A read-only share of one package made by `owner`; returns its id, the token and its expiry.
    public func share(package id: String, hours: Double, by owner: String) throws -> (id: String, token: String, expires: Date) {
        let token = Self.newToken(prefix: "vrs_"), now = Date(), expires = now.addingTimeInterval(hours * 3600)
        let shareID = Self.newShareID()
        try database.write { db in
            try db.execute(sql: "INSERT INTO share (hash, packageId, expires, id, created, createdBy) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [Self.hash(token), id, expires.timeIntervalSince1970, shareID, now.timeIntervalSince1970, owner])
        }
        return (shareID, token, expires)
    }

    /// A share link's public name: random, unrelated to its token.
    static func newShareID() -> String {
        "sh_" + String(newToken(prefix: "").prefix(16))
    }

    /// A share link as its owner sees it (never its token, which is not kept).
    public struct Share: Sendable, Equatable {
        public var id: String
        /// nil for links made before their creation was recorded.
        public var created: Date?
        public var expires: Date
        public var revoked: Bool
        /// Openings of the viewer, the archive or the manifest through it.
        public var uses: Int
        public var lastUsed: Date?
        /// The live session whose link it is, if any.
        public var session: String?
    }

    public func shares(package id: String) throws -> [Share] {
        try database.read { db in
            try db.rows(sql: """
                SELECT s.id, s.created, s.expires, s.revoked, s.uses, s.lastUsed, l.id AS session
                FROM share s LEFT JOIN liveSession l ON l.shareHash = s.hash
                WHERE s.packageId = ? AND s.collectionId IS NULL ORDER BY s.created DESC, s.id
                """, arguments: [id]).map { row in
                Share(id: row["id"], created: (row["created"] as Double?).map(Date.init(timeIntervalSince1970:)),
                      expires: Date(timeIntervalSince1970: row["expires"]), revoked: row["revoked"], uses: row["uses"],
                      lastUsed: (row["lastUsed"] as Double?).map(Date.init(timeIntervalSince1970:)), session: row["session"])
            }
        }
    }

    public func revokeShare(package id: String, share: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "UPDATE share SET revoked = TRUE WHERE id = ? AND packageId = ? AND collectionId IS NULL",
                           arguments: [share, id])
            return db.changesCount > 0
        }
    }

    public func recordShareUse(token: String, counted: Bool) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE share SET lastUsed = ?, uses = uses + ? WHERE hash = ?",
                           arguments: [Date().timeIntervalSince1970, counted ? 1 : 0, Self.hash(token)])
        }
    }

    public func shareID(token: String) throws -> String? {
        try database.read { db in try db.value(String.self, sql: "SELECT id FROM share WHERE hash = ?", arguments: [Self.hash(token)]) }
    }

    /// Whether a share token opens the package now: a link to this package, or to a collection
    /// that holds it, neither expired nor revoked.
    public func shareOpens(token: String, package id: String) throws -> Bool {
        try database.read { db in
            try db.value(Bool.self, sql: """
                SELECT EXISTS (SELECT 1 FROM share s WHERE s.hash = ? AND s.revoked = FALSE AND s.expires > ? AND (
                    (s.collectionId IS NULL AND s.packageId = ?) OR
                    (s.collectionId IS NOT NULL AND EXISTS (
                        SELECT 1 FROM collectionItem i WHERE i.collectionId = s.collectionId AND i.packageId = ?))))
                """, arguments: [Self.hash(token), Date().timeIntervalSince1970, id, id]) ?? false
        }
    }

    /// The collection a share token was made for, its expiry, and whether it opens it now.
    public func sharedCollection(token: String) throws -> (id: String, expires: Date, valid: Bool)? {
        try database.read { db in
            guard let row = try db.row(sql: "SELECT collectionId, expires, revoked FROM share WHERE hash = ? AND collectionId IS NOT NULL",
                                             arguments: [Self.hash(token)]) else { return nil }
            let expires = Date(timeIntervalSince1970: row["expires"])
            return (row["collectionId"], expires, !(row["revoked"] as Bool) && expires > Date())
        }
    }

    /// Share rows, for checks that reading writes nothing.
    func shareCount() throws -> Int {
        try database.read { db in try db.value(Int.self, sql: "SELECT COUNT(*) FROM share") ?? 0 }
    }

    public func revokeShare(token: String) throws {
        try database.write { db in try db.execute(sql: "UPDATE share SET revoked = TRUE WHERE hash = ?", arguments: [Self.hash(token)]) }
    }
}
