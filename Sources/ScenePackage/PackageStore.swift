import Crypto
import Foundation
import ZIPFoundation

/// What went wrong writing, reading or checking a scene package; each case names the path.
public enum PackageError: Error, Equatable, Sendable, CustomStringConvertible {
    case notAPackage(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notAPackage(let path, let reason): return "\(path): not a scene package: \(reason)"
        case .unwritable(let path, let reason): return "\(path): cannot write: \(reason)"
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        }
    }
}

/// Writes, reads and verifies scene packages (a folder, optionally also one .zip).
public enum PackageStore {
    /// Hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Refuses an output folder that exists and is not a scene package (before any work starts).
    public static func checkTarget(_ folder: URL) throws(PackageError) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else {
            throw .notAPackage(path: folder.path, reason: "it exists and is a file; choose another --out")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        if contents.isEmpty { return }
        guard contents.contains("manifest.json"), (try? read(folder)) != nil else {
            throw .notAPackage(path: folder.path, reason: "the folder exists, holds other files and no scene package; " +
                               "choose another --out (a package there would be replaced)")
        }
    }

    /// Writes `files` (relative paths → bytes) and the manifest made from `manifest` (its file
    /// list and id filled in) to `folder`, atomically: everything goes to a hidden sibling folder
    /// first, which replaces `folder` only when complete. With `zip`, also `folder`.zip.
    @discardableResult
    public static func write(_ manifest: Manifest, files: [(path: String, data: Data)], to folder: URL,
                             zip: Bool = false) throws(PackageError) -> Manifest {
        try checkTarget(folder)
        var final = manifest
        final.files = files.map { Manifest.File(path: $0.path, bytes: $0.data.count, sha256: sha256($0.data)) }
            .sorted { $0.path < $1.path }
        do {
            final.packageID = sha256(try final.canonicalData())
        } catch {
            throw .unwritable(path: folder.path, reason: "manifest: \(error)")
        }
        let fm = FileManager.default
        let parent = folder.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(folder.lastPathComponent).partial-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            for (path, data) in files {
                let url = staging.appendingPathComponent(path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: url)
            }
            // The manifest last: a folder without it is never a package.
            try final.fileData().write(to: staging.appendingPathComponent("manifest.json"))
            if fm.fileExists(atPath: folder.path) {
                let old = parent.appendingPathComponent(".\(folder.lastPathComponent).old-\(UUID().uuidString)")
                try fm.moveItem(at: folder, to: old)
                try fm.moveItem(at: staging, to: folder)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: staging, to: folder)
            }
        } catch {
            try? fm.removeItem(at: staging)
            throw .unwritable(path: folder.path, reason: error.localizedDescription)
        }
        if zip { try writeZip(of: folder, manifest: final) }
        return final
    }

    /// Writes `folder`.zip for a package folder already written.
    public static func writeArchive(of folder: URL) throws(PackageError) {
        try writeZip(of: folder, manifest: try read(folder))
    }

    /// `folder`.zip: the manifest and the listed files, in path order, with a fixed date, so
    /// that the same package gives the same archive.
    static func writeZip(of folder: URL, manifest: Manifest) throws(PackageError) {
        let target = folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + ".zip")
        let staging = folder.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString)")
        let fixedDate = Date(timeIntervalSince1970: 315_532_800)  // 1980-01-01, the zip format's epoch
        do {
            let archive = try Archive(url: staging, accessMode: .create)
            for path in ["manifest.json"] + manifest.files.map(\.path) {
                let data = try Data(contentsOf: folder.appendingPathComponent(path))
                try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: fixedDate,
                                     compressionMethod: .deflate) { position, size in
                    data.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(at: staging, to: target)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw .unwritable(path: target.path, reason: "\(error)")
        }
    }

    /// The manifest of a package folder.
    public static func read(_ folder: URL) throws(PackageError) -> Manifest {
        let url = folder.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { throw .notAPackage(path: folder.path, reason: "no manifest.json") }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw .notAPackage(path: url.path, reason: "the manifest does not parse: \(error)")
        }
    }

    /// Extracts a package archive into a new temporary folder (entries that would land outside
    /// it, links and oversized archives are refused).
    public static func extract(_ zip: URL) throws(PackageError) -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vrprep-package-\(UUID().uuidString)")
        do {
            let archive = try Archive(url: zip, accessMode: .read)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var total: Int64 = 0
            for entry in archive {
                guard entry.type == .file else { throw PackageError.notAPackage(path: zip.path, reason: "entry '\(entry.path)' is not a plain file") }
                let path = entry.path
                guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), !path.contains("\\") else {
                    throw PackageError.notAPackage(path: zip.path, reason: "entry '\(path)' would land outside the package")
                }
                total += Int64(entry.uncompressedSize)
                guard total < 8 << 30 else { throw PackageError.notAPackage(path: zip.path, reason: "more than 8 GiB uncompressed") }
                let destination = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                _ = try archive.extract(entry, to: destination)
            }
        } catch let error as PackageError {
            try? FileManager.default.removeItem(at: folder)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw .unreadable(path: zip.path, reason: "not a readable zip archive (\(error))")
        }
        return folder
    }
}
