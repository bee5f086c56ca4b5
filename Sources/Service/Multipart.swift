import Foundation

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
        let delimiter = Data("--\(boundary)".utf8), headerEnd = Data("\r\n\r\n".utf8)
        guard var cursor = data.range(of: delimiter)?.upperBound else {
            return .failure(.init("no part starts with the boundary '\(boundary)'"))
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        } catch {
            return .failure(.init("cannot store the files"))
        }
        var files = 0, parts = 0
        let closing = Data("\r\n--\(boundary)".utf8)
        while cursor + 2 <= data.count, data[cursor..<(cursor + 2)] != Data("--".utf8) {
            parts += 1
            guard parts <= maxParts else {
                return .failure(.init("more than \(maxParts) parts: send a study this large as one zip archive"))
            }
            guard let headersEnd = data.range(of: headerEnd, in: cursor..<data.count) else {
                return .failure(.init("a part has no end of headers"))
            }
            let headers = String(decoding: data[cursor..<headersEnd.lowerBound].prefix(8192), as: UTF8.self)
            guard let next = data.range(of: closing, in: headersEnd.upperBound..<data.count) else {
                return .failure(.init("a part is not closed by the boundary"))
            }
            if let name = filename(headers) {
                files += 1
                let safe = String(name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
                    .map(Character.init).prefix(100))
                let file = folder.appendingPathComponent(String(format: "%06d-", files) + (safe.isEmpty ? "file" : safe))
                guard FileManager.default.createFile(atPath: file.path, contents: data.subdata(in: headersEnd.upperBound..<next.lowerBound)) else {
                    return .failure(.init("cannot store '\(name)'"))
                }
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
