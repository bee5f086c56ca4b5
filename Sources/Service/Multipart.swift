import Foundation
import ZIPFoundation

/// multipart/form-data uploads (RFC 7578): the file parts of a body stored on disk, repacked as a
/// zip archive so that they go through the same checks and the same job as a zip upload.
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

    /// Writes the file parts of the body in `body` to a new zip at `zip`; returns their count, or
    /// a problem.
    static func repack(_ body: URL, boundary: String, to zip: URL) -> Result<Int, MultipartProblem> {
        guard let data = try? Data(contentsOf: body, options: .alwaysMapped) else { return .failure(.init("cannot read the upload")) }
        let delimiter = Data("--\(boundary)".utf8), headerEnd = Data("\r\n\r\n".utf8)
        guard var cursor = data.range(of: delimiter)?.upperBound else {
            return .failure(.init("no part starts with the boundary '\(boundary)'"))
        }
        let archive: Archive
        do {
            archive = try Archive(url: zip, accessMode: .create)
        } catch {
            return .failure(.init("cannot store the files"))
        }
        var files = 0, names = Set<String>()
        let closing = Data("\r\n--\(boundary)".utf8)
        while cursor + 2 <= data.count, data[cursor..<(cursor + 2)] != Data("--".utf8) {
            guard let headersEnd = data.range(of: headerEnd, in: cursor..<data.count) else {
                return .failure(.init("a part has no end of headers"))
            }
            let headers = String(decoding: data[cursor..<headersEnd.lowerBound], as: UTF8.self)
            guard let next = data.range(of: closing, in: headersEnd.upperBound..<data.count) else {
                return .failure(.init("a part is not closed by the boundary"))
            }
            let content = headersEnd.upperBound..<next.lowerBound
            if let name = filename(headers) {
                var unique = name, n = 1
                while names.contains(unique) {
                    n += 1
                    unique = "\(n)-\(name)"
                }
                names.insert(unique)
                let part = data.subdata(in: content)
                do {
                    try archive.addEntry(with: unique, type: .file, uncompressedSize: Int64(part.count), compressionMethod: .none) { position, size in
                        part.subdata(in: Int(position)..<(Int(position) + size))
                    }
                } catch {
                    return .failure(.init("cannot store '\(name)'"))
                }
                files += 1
            }
            cursor = next.upperBound
        }
        return files > 0 ? .success(files) : .failure(.init("the form holds no file part"))
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
