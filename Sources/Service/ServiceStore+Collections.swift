import Foundation
import GRDB

/// A trainer's collections in SQLite.
extension ServiceStore {
    // MARK: Collections (a trainer's course: packages with notes)

    public struct Collection: Sendable, Equatable {
        public var id: String
        public var owner: String
        public var name: String
        public var expires: Date
        public var items: [(packageID: String, notes: String)]

        public static func == (a: Collection, b: Collection) -> Bool {
            a.id == b.id && a.owner == b.owner && a.name == b.name && a.expires == b.expires
                && a.items.map(\.packageID) == b.items.map(\.packageID) && a.items.map(\.notes) == b.items.map(\.notes)
        }
    }

    /// A collection and, in the same transaction, its one share link (valid `hours`), which
    /// opens each of its packages; only the link's hash is kept, so the token is returned once.
    public func createCollection(owner: String, name: String, items: [(packageID: String, notes: String)],
                                 hours: Double) throws -> (id: String, token: String, expires: Date) {
        let id = UUID().uuidString.lowercased(), token = Self.newToken(prefix: "vrs_")
        let now = Date(), expires = now.addingTimeInterval(hours * 3600)
        try database.write { db in
            try db.execute(sql: "INSERT INTO collection (id, owner, name, created, expires) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, owner, name, now.timeIntervalSince1970, expires.timeIntervalSince1970])
            for (position, item) in items.enumerated() {
                try db.execute(sql: "INSERT INTO collectionItem (collectionId, position, packageId, notes) VALUES (?, ?, ?, ?)",
                               arguments: [id, position, item.packageID, item.notes])
            }
            try db.execute(sql: "INSERT INTO share (hash, packageId, expires, collectionId) VALUES (?, '', ?, ?)",
                           arguments: [Self.hash(token), expires.timeIntervalSince1970, id])
        }
        return (id, token, expires)
    }

    public func collection(_ id: String) throws -> Collection? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM collection WHERE id = ?", arguments: [id]) else { return nil }
            let items = try Row.fetchAll(db, sql: "SELECT packageId, notes FROM collectionItem WHERE collectionId = ? ORDER BY position",
                                         arguments: [id]).map { (packageID: $0["packageId"] as String, notes: $0["notes"] as String) }
            return Collection(id: row["id"], owner: row["owner"], name: row["name"],
                              expires: Date(timeIntervalSince1970: row["expires"]), items: items)
        }
    }

    public func collections(owner: String?) throws -> [String] {
        try database.read { db in
            if let owner {
                return try String.fetchAll(db, sql: "SELECT id FROM collection WHERE owner = ? ORDER BY created", arguments: [owner])
            }
            return try String.fetchAll(db, sql: "SELECT id FROM collection ORDER BY created")
        }
    }
}
