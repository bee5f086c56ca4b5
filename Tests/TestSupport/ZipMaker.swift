import Foundation
import ZIPFoundation

/// Builds zip archives for tests, including entries no honest archiver would write.
public enum ZipMaker {
    public static func make(_ url: URL, entries: [(path: String, data: Data)]) throws {
        let archive = try Archive(url: url, accessMode: .create)
        for entry in entries {
            try archive.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(entry.data.count),
                                 compressionMethod: .deflate) { position, size in
                entry.data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
    }
}
