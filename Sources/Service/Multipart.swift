import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// multipart/form-data uploads (RFC 7578): the file parts of a body stored on disk, unpacked into
/// a folder of the study's files, which goes through the same checks and the same job as an archive.
enum Multipart {
    /// The boundary parameter of a multipart/form-data content type, nil for other types.
    static func boundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            let value = part.dropFirst("boundary=".count)
            return String(value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? value.dropFirst().dropLast() : value)
        }
        return nil
    }

    /// Writes the file parts of the body in `body` into the new folder `folder`, each under a name
    /// of our own making (its position, then its own name's safe characters); returns their count,
    /// or a problem. Linear in the body's size; at most `maxParts` parts.
    static func unpack(_ body: URL, boundary: String, to folder: URL, maxParts: Int) -> Result<Int, MultipartProblem> {
        guard let data = try? Data(contentsOf: body, options: .alwaysMapped) else { return .failure(.init("cannot read the upload")) }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        } catch {
            return .failure(.init("cannot store the files"))
        }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<Int, MultipartProblem> in
            let bytes = raw.bindMemory(to: UInt8.self)
            /// The first offset of `needle` in bytes[from...]: memchr to its first byte, memcmp for the rest.
            func find(_ needle: [UInt8], from: Int) -> Int? {
                guard let base = bytes.baseAddress, !needle.isEmpty else { return nil }
                var i = from
                while i + needle.count <= bytes.count {
                    guard let hit = memchr(base + i, Int32(needle[0]), bytes.count - needle.count + 1 - i) else { return nil }
                    let j = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                    if memcmp(base + j, needle, needle.count) == 0 { return j }
                    i = j + 1
                }
                return nil
            }
            let delimiter = Array("--\(boundary)".utf8), headerEnd = Array("\r\n\r\n".utf8), closing = Array("\r\n--\(boundary)".utf8)
            guard var cursor = find(delimiter, from: 0).map({ $0 + delimiter.count }) else {
                return .failure(.init("no part starts with the boundary '\(boundary)'"))
            }
            // First the parts' places (cheap), so that a form of too many parts is refused before
            // anything is written; then their files.
            var parts: [(headers: Range<Int>, content: Range<Int>)] = []
            while cursor + 2 <= bytes.count, !(bytes[cursor] == UInt8(ascii: "-") && bytes[cursor + 1] == UInt8(ascii: "-")) {
                guard parts.count < maxParts else {
                    return .failure(.init("more than \(maxParts) parts: send a study this large as one zip archive"))
                }
                guard let headersEnd = find(headerEnd, from: cursor) else { return .failure(.init("a part has no end of headers")) }
                let contentStart = headersEnd + headerEnd.count
                guard let next = find(closing, from: contentStart) else { return .failure(.init("a part is not closed by the boundary")) }
                parts.append((cursor..<min(headersEnd, cursor + 8192), contentStart..<next))
                cursor = next + closing.count
            }
            var files = 0
            for part in parts {
                let headers = String(decoding: UnsafeBufferPointer(rebasing: bytes[part.headers]), as: UTF8.self)
                guard let name = filename(headers) else { continue }
                files += 1
                let safe = String(name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
                    .map(Character.init).prefix(100))
                let file = folder.appendingPathComponent(String(format: "%06d-", files) + (safe.isEmpty ? "file" : safe))
                guard FileManager.default.createFile(atPath: file.path, contents: Data(UnsafeRawBufferPointer(rebasing: raw[part.content]))) else {
                    return .failure(.init("cannot store '\(name)'"))
                }
            }
            return files > 0 ? .success(files) : .failure(.init("the form holds no file part"))
        }
    }

    /// The file name of a part (its last path component, without separators), nil for a field.
    static func filename(_ headers: String) -> String? {
        for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            guard let range = line.range(of: "filename=\"") else { return nil }
            let value = line[range.upperBound...].prefix { $0 != "\"" }
            let name = value.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
            return name.isEmpty || name == "." || name == ".." ? "file" : name
        }
        return nil
    }
}

struct MultipartProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
