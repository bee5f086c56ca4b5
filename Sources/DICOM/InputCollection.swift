import Foundation
import VolumeCore
import ZIPFoundation

/// A file to read: where it is on disk, and the name the user knows it by (for zip entries,
/// "archive.zip:entry/path").
struct InputFile: Sendable, Hashable {
    var diskPath: String
    var displayPath: String
}

/// Turns the user's inputs (folders, files, zip archives) into a flat list of files to read.
/// Archives are extracted into a private temporary folder under names of our own making, so an
/// entry's path can never escape it; `removeTemporaryFiles()` deletes that folder.
final class InputCollection {
    private(set) var files: [InputFile] = []
    private(set) var rejected: [Rejection] = []
    private let limits: DicomLimits
    private var temporaryFolder: URL?
    private var extractedBytes = 0

    init(paths: [String], limits: DicomLimits) {
        self.limits = limits
        for path in paths { add(path) }
    }

    deinit { removeTemporaryFiles() }

    func removeTemporaryFiles() {
        if let folder = temporaryFolder { try? FileManager.default.removeItem(at: folder) }
        temporaryFolder = nil
    }

    private func add(_ path: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            rejected.append(Rejection(path: path, reason: "no such file or folder"))
            return
        }
        if isFolder.boolValue {
            addFolder(path)
        } else {
            addFile(path)
        }
    }

    private func addFolder(_ path: String) {
        // Relative names keep the user's spelling of the folder in every message.
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            rejected.append(Rejection(path: path, reason: "cannot list folder"))
            return
        }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var found: [String] = []
        for case let relative as String in enumerator {
            var isFolder: ObjCBool = false
            let file = prefix + relative
            if FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), !isFolder.boolValue {
                found.append(file)
            }
        }
        if found.isEmpty {
            rejected.append(Rejection(path: path, reason: "folder holds no files"))
        }
        for file in found.sorted() { addFile(file) }
    }

    private func addFile(_ path: String) {
        if Self.isZip(path) {
            addArchive(path)
        } else {
            files.append(InputFile(diskPath: path, displayPath: path))
        }
    }

    static func isZip(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        return magic == Data([0x50, 0x4B, 0x03, 0x04]) || magic == Data([0x50, 0x4B, 0x05, 0x06])
    }

    private func addArchive(_ path: String) {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            rejected.append(Rejection(path: path, reason: "cannot open zip archive: \(error)"))
            return
        }
        let folder: URL
        do {
            folder = try makeTemporaryFolder()
        } catch {
            rejected.append(Rejection(path: path, reason: "cannot create a temporary folder: \(error)"))
            return
        }
        var extracted: [InputFile] = []
        // A zip bomb is stopped while it inflates, whatever its directory claims: at most
        // `maxExpansionRatio` times the archive's own size (and never less than 64 MiB).
        let archiveBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let ratioCeiling = Int(saturating: max(64 * 1048576, limits.maxExpansionRatio * Double(archiveBytes)))
        let ceiling = extractedBytes + min(ratioCeiling, limits.maxArchiveBytes - extractedBytes)
        for entry in archive {
            let name = "\(path):\(entry.path)"
            switch entry.type {
            case .directory:
                continue
            case .symlink:
                rejected.append(Rejection(path: name, reason: "symbolic link in archive: not followed"))
                continue
            case .file:
                break
            }
            if let reason = Self.unsafeEntryReason(entry.path) {
                rejected.append(Rejection(path: name, reason: reason))
                continue
            }
            let declared = Int(clamping: entry.uncompressedSize)
            if extractedBytes + declared > ceiling {
                rejected.append(Rejection(path: name, reason: "archive content exceeds the limit of " +
                    "\(ceiling) bytes (\(Int(limits.maxExpansionRatio))× the archive, at most \(limits.maxArchiveBytes)): entry not extracted"))
                continue
            }
            let target = folder.appendingPathComponent(String(format: "%08d.dcm", files.count + extracted.count))
            do {
                try extract(entry, of: archive, to: target, declaredSize: declared, ceiling: ceiling)
                extracted.append(InputFile(diskPath: target.path, displayPath: name))
            } catch let error as ArchiveEntryError {
                try? FileManager.default.removeItem(at: target)
                rejected.append(Rejection(path: name, reason: error.reason))
            } catch {
                try? FileManager.default.removeItem(at: target)
                rejected.append(Rejection(path: name, reason: "cannot extract: \(error)"))
            }
        }
        for file in extracted {
            if Self.isZip(file.diskPath) {
                rejected.append(Rejection(path: file.displayPath, reason: "archive inside an archive: not opened"))
            } else {
                files.append(file)
            }
        }
    }

    private struct ArchiveEntryError: Error { var reason: String }

    /// Streams one entry to `target`, stopping as soon as it grows past its declared size.
    private func extract(_ entry: Entry, of archive: Archive, to target: URL, declaredSize: Int, ceiling: Int) throws {
        guard FileManager.default.createFile(atPath: target.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: target.path) else {
            throw ArchiveEntryError(reason: "cannot write a temporary file")
        }
        defer { try? handle.close() }
        var written = 0
        _ = try archive.extract(entry) { chunk in
            written += chunk.count
            if written > declaredSize || self.extractedBytes + written > ceiling {
                throw ArchiveEntryError(reason: "entry inflates beyond its declared size of \(declaredSize) bytes " +
                    "(a damaged or malicious archive)")
            }
            try handle.write(contentsOf: chunk)
        }
        extractedBytes += written
    }

    /// Why an entry path is refused: absolute, or climbing out with "..".
    static func unsafeEntryReason(_ path: String) -> String? {
        let normalized = path.replacingOccurrences(of: "\\", with: "/")
        if normalized.hasPrefix("/") || normalized.range(of: #"^[A-Za-z]:"#, options: .regularExpression) != nil {
            return "absolute path in archive: not extracted"
        }
        if normalized.split(separator: "/").contains("..") {
            return "path leaves the archive's root (\"..\"): not extracted"
        }
        return nil
    }

    private func makeTemporaryFolder() throws -> URL {
        if let folder = temporaryFolder { return folder }
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vrprep-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        temporaryFolder = folder
        return folder
    }
}

/// A file (or archive entry) that was not used, and why.
public struct Rejection: Sendable, Equatable, Codable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
