import Foundation

/// What the service keeps, and for how long: a study's upload until its job ends (unless
/// `keepUploads`), published packages for `retainDays` (for ever when nil).
public struct Retention: Sendable {
    public var keepUploads = false
    /// Packages older than this many days are removed with what derives from them (their
    /// archive, shares and places in collections); nil keeps them until deleted.
    public var retainDays: Double?

    public init(keepUploads: Bool = false, retainDays: Double? = nil) {
        self.keepUploads = keepUploads
        self.retainDays = retainDays
    }

    /// Removes a job's upload (an archive, or a folder of received or form files) once it ended.
    func jobEnded(_ id: String, folders: BlobFolders) {
        guard !keepUploads else { return }
        try? FileManager.default.removeItem(at: folders.upload(id))
        try? FileManager.default.removeItem(at: folders.uploads.appendingPathComponent(id))
    }

    /// Removes the packages published before `retainDays` ago; returns how many.
    @discardableResult
    func sweep(_ store: any ServiceRecords, now: Date = Date()) -> Int {
        guard let retainDays, let old = try? store.packages(publishedBefore: now.addingTimeInterval(-retainDays * 86400)) else { return 0 }
        var removed = 0
        for id in old where (try? store.removePackage(id, owner: nil)) == .removed {
            try? FileManager.default.removeItem(at: store.folders.package(id))
            try? FileManager.default.removeItem(at: store.folders.archive(id))
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
