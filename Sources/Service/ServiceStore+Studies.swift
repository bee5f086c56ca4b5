import Foundation

/// Studies in SQLite: who sent each (an upload's owner, or a DICOM peer), when, and what it holds
/// once inspected. Its files are the upload (`uploads/ID.zip`) or a folder (`uploads/ID/`).
extension ServiceStore {
    public func createStudy(_ study: Study) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO study (id, owner, created, sourceKind, callingAE, peer) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [study.id, study.owner, study.created.timeIntervalSince1970, study.sourceKind, study.callingAE, study.peer])
        }
    }

    public func study(_ id: String) throws -> Study? {
        try database.read { db in try db.row(sql: "SELECT * FROM study WHERE id = ?", arguments: [id]).map(Self.study) }
    }

    /// Studies, newest first; those of `owner` only unless nil.
    public func studies(owner: String?) throws -> [Study] {
        try database.read { db in
            let rows = owner == nil ? try db.rows(sql: "SELECT * FROM study ORDER BY created DESC, id")
                : try db.rows(sql: "SELECT * FROM study WHERE owner = ? ORDER BY created DESC, id", arguments: [owner])
            return rows.map(Self.study)
        }
    }

    public func studies(createdBefore date: Date) throws -> [String] {
        try database.read { db in
            try db.values(String.self, sql: "SELECT id FROM study WHERE created < ?", arguments: [date.timeIntervalSince1970])
        }
    }

    public func saveSummary(study id: String, _ summary: Study.Summary) throws {
        let text = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        try database.write { db in try db.execute(sql: "UPDATE study SET summary = ? WHERE id = ?", arguments: [text, id]) }
    }

    public func removeStudy(_ id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM study WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    static func study(_ row: RecordRow) -> Study {
        Study(id: row["id"], owner: row["owner"], created: Date(timeIntervalSince1970: row["created"]), sourceKind: row["sourceKind"],
              callingAE: row["callingAE"], peer: row["peer"],
              summary: (row["summary"] as String?).flatMap { try? JSONDecoder().decode(Study.Summary.self, from: Data($0.utf8)) })
    }
}
