import Foundation

/// What the service keeps, and for how long: a study until it is deleted or for `keepStudiesDays`
/// (for ever when nil), published packages for `retainDays` (for ever when nil).
public struct Retention: Sendable {
    /// Studies older than this many days are removed (with their files), unless a job is still
    /// making a package of them; nil keeps them until deleted.
    public var keepStudiesDays: Double? = 30
    /// Packages older than this many days are removed with what derives from them (their
    /// archive, shares and places in collections); nil keeps them until deleted.
    public var retainDays: Double?

    public init(keepStudiesDays: Double? = 30, retainDays: Double? = nil) {
        self.keepStudiesDays = keepStudiesDays
        self.retainDays = retainDays
    }

    /// Once a job ended: the upload of a job from before studies were kept goes with it (a study
    /// stays, for its owner to use again).
    func jobEnded(_ job: ServiceStore.Job, folders: BlobFolders) {
        guard job.studyID == nil else { return }
        try? FileManager.default.removeItem(at: folders.upload(job.id))
        try? FileManager.default.removeItem(at: folders.uploads.appendingPathComponent(job.id))
    }

    /// Removes the studies received before `keepStudiesDays` ago that no job is working on; returns how many.
    @discardableResult
    func sweepStudies(_ store: any ServiceRecords, now: Date = Date()) -> Int {
        guard let keepStudiesDays, let old = try? store.studies(createdBefore: now.addingTimeInterval(-keepStudiesDays * 86400)),
              !old.isEmpty else { return 0 }
        let busy = Set(((try? store.jobs(owner: nil)) ?? []).filter { $0.state == .queued || $0.state == .running }.compactMap(\.studyID))
        var removed = 0
        for id in old where !busy.contains(id) {
            Self.removeFiles(of: id, folders: store.folders)
            if (try? store.removeStudy(id)) == true { removed += 1 }
        }
        return removed
    }

    /// A study's files (its zip or its folder) and its kept inspection.
    static func removeFiles(of study: String, folders: BlobFolders) {
        try? FileManager.default.removeItem(at: folders.upload(study))
        try? FileManager.default.removeItem(at: folders.uploads.appendingPathComponent(study))
        try? FileManager.default.removeItem(at: folders.inspection(study))
    }

    /// Removes the packages published before `retainDays` ago; returns how many.
    @discardableResult
    func sweep(_ store: any ServiceRecords, now: Date = Date()) -> Int {
        guard let retainDays, let old = try? store.packages(publishedBefore: now.addingTimeInterval(-retainDays * 86400)) else { return 0 }
        var removed = 0
        for id in old where (try? store.removePackage(id, owner: nil)) == .removed {
            store.folders.removePackageFiles(id)
            removed += 1
        }
        return removed
    }
}

extension BlobFolders {
    /// Bytes of the files under the data folder (for /metrics).
    func usedBytes() -> Int64 {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
        var total: Int64 = 0
        for case let url as URL in walker {
            total += Int64((try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }
        return total
    }
}
