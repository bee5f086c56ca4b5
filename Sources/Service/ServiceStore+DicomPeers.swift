import Foundation

/// The DICOM peers and the studies being received, in SQLite.
extension ServiceStore {
    // MARK: DICOM peers and studies being received

    public func dicomPeers() throws -> [DicomPeer] {
        try database.read { db in try db.rows(sql: "SELECT * FROM dicomPeer ORDER BY aeTitle").map(Self.peer) }
    }

    public func dicomPeer(_ aeTitle: String) throws -> DicomPeer? {
        try database.read { db in try db.row(sql: "SELECT * FROM dicomPeer WHERE aeTitle = ?", arguments: [aeTitle]).map(Self.peer) }
    }

    static func peer(_ row: RecordRow) -> DicomPeer {
        DicomPeer(aeTitle: row["aeTitle"], host: row["host"], recipe: row["recipe"], completion: Completion(rawValue: row["completion"]) ?? .idle,
                  returnTo: (row["returnTo"] as String?).flatMap { try? JSONDecoder().decode(ReturnTarget.self, from: Data($0.utf8)) })
    }

    /// Adds a peer, or replaces the one with the same AE title.
    public func saveDicomPeer(_ peer: DicomPeer) throws {
        try database.write { db in
            let returnTo = peer.returnTo.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
            try db.execute(sql: """
                INSERT INTO dicomPeer (aeTitle, host, recipe, completion, returnTo) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (aeTitle) DO UPDATE SET host = excluded.host, recipe = excluded.recipe, completion = excluded.completion,
                    returnTo = excluded.returnTo
                """,
                           arguments: [peer.aeTitle, peer.host, peer.recipe, peer.completion.rawValue, returnTo])
        }
    }

    public func removeDicomPeer(_ aeTitle: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM dicomPeer WHERE aeTitle = ?", arguments: [aeTitle])
            return db.changesCount > 0
        }
    }

    /// Records a study whose first instance arrived, so that a restart finds it again.
    public func beginDicomStudy(_ study: DicomStudy) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO dicomStudy (id, callingAE, studyUID, peer, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [study.id, study.callingAE, study.studyUID, study.peer, Date().timeIntervalSince1970])
        }
    }

    public func dicomStudiesBeingReceived() throws -> [DicomStudy] {
        try database.read { db in
            try db.rows(sql: "SELECT * FROM dicomStudy ORDER BY created").map {
                DicomStudy(id: $0["id"], callingAE: $0["callingAE"], studyUID: $0["studyUID"], peer: $0["peer"])
            }
        }
    }

    /// A received study becomes a job (its id the study's), owned by the calling AE ("dicom:AE"),
    /// in one transaction with forgetting it as being received. With a `failure`, the job is
    /// recorded as failed with that error (a study that could not be received whole).
    ///
    /// Each of its `segmentations` becomes a job of its own that makes the study's scene from it:
    /// of the study received with it, or, when no image came with them (a segmentation pushed
    /// after its study), of the newest study that AE sent with the same StudyInstanceUID; with no
    /// such study those jobs fail and say so. Returns the study the segmentations went to (nil: none).
    @discardableResult
    public func queueDicomStudy(_ study: DicomStudy, instances: Int, recipe: String?, failure: String?,
                                segmentations: [ReceivedSegmentation] = []) throws -> String? {
        try database.write { db in
            try db.execute(sql: "DELETE FROM dicomStudy WHERE id = ?", arguments: [study.id])
            // A study received whole is kept as a study of the peer (its folder bears the same id).
            let (owner, now) = ("dicom:\(study.callingAE)", Date().timeIntervalSince1970)
            var target: String?
            if instances > 0 || segmentations.isEmpty {
                if failure == nil {
                    try db.execute(sql: """
                        INSERT INTO study (id, owner, created, sourceKind, callingAE, peer, studyUID)
                        VALUES (?, ?, ?, 'dicom', ?, ?, ?) ON CONFLICT DO NOTHING
                        """, arguments: [study.id, owner, now, study.callingAE, study.peer, study.studyUID])
                    target = study.id
                }
                try db.execute(sql: """
                    INSERT INTO job (id, owner, state, stage, percent, created, sourceKind, callingAE, peer, instances, recipe, error, studyId)
                    VALUES (?, ?, ?, ?, 0, ?, 'dicom', ?, ?, ?, ?, ?, ?)
                    """, arguments: [study.id, owner, failure == nil ? "queued" : "failed",
                                     failure == nil ? "queued" : "receiving", now, study.callingAE, study.peer,
                                     instances, recipe, failure, target])
            } else {
                target = try db.value(String.self, sql: "SELECT id FROM study WHERE studyUID = ? AND owner = ? ORDER BY created DESC LIMIT 1",
                                             arguments: [study.studyUID, owner])
            }
            let missing = """
                no study with StudyInstanceUID \(study.studyUID) was received from \(study.callingAE) (or it is no longer kept): \
                send the study's images first, then its segmentation
                """
            for segmentation in segmentations {
                let error = failure ?? (target == nil ? missing : nil)
                try db.execute(sql: """
                    INSERT INTO job (id, owner, state, stage, percent, created, sourceKind, callingAE, peer, instances, recipe, error,
                                     studyId, labels)
                    VALUES (?, ?, ?, ?, 0, ?, 'dicom', ?, ?, 1, ?, ?, ?, ?)
                    """, arguments: [segmentation.job, owner, error == nil ? "queued" : "failed", error == nil ? "queued" : "receiving",
                                     now, study.callingAE, study.peer, recipe, error, error == nil ? target : nil, segmentation.file])
            }
            try db.signalJobs()
            return failure == nil ? target : nil
        }
    }
}
