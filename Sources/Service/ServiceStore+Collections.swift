import Foundation

/// A trainer's collections in SQLite.
extension ServiceStore {
    // MARK: Collections (a trainer's course: packages with notes)

    public struct Collection: Sendable, Equatable {
        public var id: String
        public var owner: String
        public var name: String
        public var expires: Date
        public var items: [CollectionItem]
    }

    /// A package in a collection, with the trainer's notes and, if any, the recording of a live
    /// session held on it (a session id).
    public struct CollectionItem: Sendable, Equatable {
        public var packageID: String
        public var notes: String
        public var recording: String?

        public init(packageID: String, notes: String, recording: String? = nil) {
            (self.packageID, self.notes, self.recording) = (packageID, notes, recording)
        }
    }

    /// A collection and, in the same transaction, its one share link (valid `hours`), which
    /// opens each of its packages; only the link's hash is kept, so the token is returned once.
    public func createCollection(owner: String, name: String, items: [CollectionItem],
                                 hours: Double) throws -> (id: String, token: String, expires: Date) {
        let id = UUID().uuidString.lowercased(), token = Self.newToken(prefix: "vrs_")
        let now = Date(), expires = now.addingTimeInterval(hours * 3600)
        try database.write { db in
            try db.execute(sql: "INSERT INTO collection (id, owner, name, created, expires) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, owner, name, now.timeIntervalSince1970, expires.timeIntervalSince1970])
            for (position, item) in items.enumerated() {
                try db.execute(sql: "INSERT INTO collectionItem (collectionId, position, packageId, notes, recording) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, position, item.packageID, item.notes, item.recording])
            }
            try db.execute(sql: "INSERT INTO share (hash, packageId, expires, collectionId, id, created, createdBy) VALUES (?, '', ?, ?, ?, ?, ?)",
                           arguments: [Self.hash(token), expires.timeIntervalSince1970, id, Self.newShareID(), now.timeIntervalSince1970, owner])
        }
        return (id, token, expires)
    }

    public func collection(_ id: String) throws -> Collection? {
        try database.read { db in
            guard let row = try db.row(sql: "SELECT * FROM collection WHERE id = ?", arguments: [id]) else { return nil }
            let items = try db.rows(sql: "SELECT packageId, notes, recording FROM collectionItem WHERE collectionId = ? ORDER BY position",
                                         arguments: [id]).map { CollectionItem(packageID: $0["packageId"], notes: $0["notes"], recording: $0["recording"]) }
            return Collection(id: row["id"], owner: row["owner"], name: row["name"],
                              expires: Date(timeIntervalSince1970: row["expires"]), items: items)
        }
    }

    public func collections(owner: String?) throws -> [String] {
        try database.read { db in
            if let owner {
                return try db.values(String.self, sql: "SELECT id FROM collection WHERE owner = ? ORDER BY created", arguments: [owner])
            }
            return try db.values(String.self, sql: "SELECT id FROM collection ORDER BY created")
        }
    }
}
