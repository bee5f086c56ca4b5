import Foundation

/// `vrprep package verify`: the manifest's schema and id, every file's size and hash, nothing
/// unlisted, the glTF readable with the structures' nodes, and no sign of patient identity.
public struct Verification: Sendable {
    public var manifest: Manifest?
    /// What is wrong, each naming the file; empty when the package is intact.
    public var problems: [String]
    public var ok: Bool { problems.isEmpty }

    /// DICOM keywords and tags that must not appear in any file of a package.
    static let identityMarkers = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "InstitutionName",
                                  "ReferringPhysicianName", "AccessionNumber", "StudyDate", "(0010,0010)", "(0010,0020)"]

    public static func verify(_ url: URL) -> Verification {
        var folder = url
        var extracted: URL?
        if url.pathExtension.lowercased() == "zip" {
            do {
                folder = try PackageStore.extract(url)
                extracted = folder
            } catch {
                return Verification(manifest: nil, problems: ["\(error)"])
            }
        }
        defer { if let extracted { try? FileManager.default.removeItem(at: extracted) } }
        let manifest: Manifest
        do {
            manifest = try PackageStore.read(folder)
        } catch {
            return Verification(manifest: nil, problems: ["\(error)"])
        }
        var problems: [String] = []
        if manifest.schema != Manifest.schemaName {
            problems.append("manifest.json: schema '\(manifest.schema)', expected '\(Manifest.schemaName)'")
        }
        if let id = manifest.packageID, let canonical = try? manifest.canonicalData() {
            let computed = PackageStore.sha256(canonical)
            if computed != id { problems.append("manifest.json: package id \(id) does not match its content (\(computed))") }
        } else {
            problems.append("manifest.json: no package id")
        }
        var listed = Set<String>()
        for file in manifest.files {
            listed.insert(file.path)
            guard !file.path.hasPrefix("/"), !file.path.split(separator: "/").contains("..") else {
                problems.append("\(file.path): the path leaves the package")
                continue
            }
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(file.path)) else {
                problems.append("\(file.path): missing")
                continue
            }
            if data.count != file.bytes { problems.append("\(file.path): \(data.count) bytes, the manifest says \(file.bytes)") }
            if PackageStore.sha256(data) != file.sha256 { problems.append("\(file.path): SHA-256 does not match the manifest (changed or damaged)") }
            if file.path.hasSuffix(".png"), let chunk = textChunk(in: data) { problems.append("\(file.path): holds a \(chunk) text chunk") }
            if let marker = identityMarkers.first(where: { data.range(of: Data($0.utf8)) != nil }) {
                problems.append("\(file.path): holds '\(marker)', a patient identity attribute")
            }
        }
        for extra in allFiles(in: folder) where extra != "manifest.json" && !listed.contains(extra) {
            problems.append("\(extra): in the package but not in the manifest")
        }
        for path in manifest.structures.map(\.file) + manifest.renders.map(\.file) where !listed.contains(path) {
            problems.append("\(path): named by the manifest but not among its files")
        }
        if let manifestData = try? Data(contentsOf: folder.appendingPathComponent("manifest.json")),
           let marker = identityMarkers.first(where: { manifestData.range(of: Data($0.utf8)) != nil }) {
            problems.append("manifest.json: holds '\(marker)', a patient identity attribute")
        }
        for uid in [manifest.source.studyUID, manifest.source.seriesUID] + [manifest.source.frameOfReferenceUID].compactMap({ $0 })
            where !uid.hasPrefix("2.25.") {
            problems.append("manifest.json: UID \(uid) is not a replaced (2.25.) UID")
        }
        /// Problems of a glTF binary of the package that must hold a node per name: (node, what it is for).
        func checkNodes(_ file: String, _ nodes: [(node: String, what: String)]) {
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)) else { return }
            switch GLBReader.nodeNames(data) {
            case .success(let names):
                for (node, what) in nodes where !names.contains(node) { problems.append("\(file): no node '\(node)' for \(what)") }
            case .failure(let reason):
                problems.append("\(file): not readable glTF 2.0 binary: \(reason.message)")
            }
        }
        if listed.contains("scene.glb") {
            checkNodes("scene.glb", manifest.structures.map { ($0.node, "structure \($0.name)") })
        } else {
            problems.append("scene.glb: missing from the manifest")
        }
        // Each level of detail: listed, and a glTF binary holding every structure it names.
        for level in manifest.levels ?? [] where level.file != "scene.glb" {
            guard listed.contains(level.file) else {
                problems.append("\(level.file): the \(level.name) level is not among the manifest's files")
                continue
            }
            checkNodes(level.file, level.structures.map { ($0.name, "structure \($0.name) of the \(level.name) level") })
        }
        if let usdz = manifest.usdz {
            if !listed.contains(usdz.file) {
                problems.append("\(usdz.file): the USDZ is not among the manifest's files")
            } else if let data = try? Data(contentsOf: folder.appendingPathComponent(usdz.file)) {
                problems += USDZArchive.problems(data).map { "\(usdz.file): \($0)" }
            }
        }
        // A package that says its face was removed: no surface point where the face was.
        if let defacing = manifest.defacing, defacing.removed {
            if let zone = defacing.clearZone {
                for path in manifest.structures.map(\.file) where path.hasSuffix(".stl") {
                    guard let data = try? Data(contentsOf: folder.appendingPathComponent(path)) else { continue }
                    let inside = stlVertices(data).filter(zone.contains).count
                    if inside > 0 {
                        problems.append("\(path): \(inside) surface point\(inside == 1 ? "" : "s") where the face was removed (the manifest says the study was defaced)")
                    }
                }
            } else {
                problems.append("manifest.json: says the face was removed but gives no clear zone to check it by")
            }
        }
        return Verification(manifest: manifest, problems: problems)
    }

    /// The vertices of a binary STL (none if it is not one).
    static func stlVertices(_ data: Data) -> [SIMD3<Double>] {
        guard data.count >= 84 else { return [] }
        return data.withUnsafeBytes { raw -> [SIMD3<Double>] in
            let count = Int(raw.loadUnaligned(fromByteOffset: 80, as: UInt32.self).littleEndian)
            guard data.count >= 84 + count * 50 else { return [] }
            var points: [SIMD3<Double>] = []
            points.reserveCapacity(count * 3)
            for t in 0..<count {
                for v in 0..<3 {
                    let o = 84 + t * 50 + 12 + v * 12
                    func f(_ k: Int) -> Double { Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: o + 4 * k, as: UInt32.self).littleEndian)) }
                    points.append(SIMD3(f(0), f(1), f(2)))
                }
            }
            return points
        }
    }

    /// Relative paths of every regular file below `folder`.
    public static func allFiles(in folder: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        let base = folder.standardizedFileURL.path
        var out: [String] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path
            out.append(String(path.dropFirst(base.count + 1)))
        }
        return out.sorted()
    }

    /// The first text-bearing chunk (tEXt, zTXt, iTXt, eXIf) of a PNG, if any.
    static func textChunk(in png: Data) -> String? {
        let bytes = [UInt8](png)
        var offset = 8
        while offset + 8 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            if ["tEXt", "zTXt", "iTXt", "eXIf"].contains(type) { return type }
            offset += 12 + length
        }
        return nil
    }
}

/// Just enough of a GLB reader to check a package: header, JSON chunk, node names.
public enum GLBReader {
    public struct Failure: Error, Sendable { public var message: String }

    public static func nodeNames(_ data: Data) -> Result<[String], Failure> {
        let bytes = [UInt8](data)
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        guard bytes.count >= 20, bytes[0..<4].elementsEqual(Array("glTF".utf8)) else { return .failure(Failure(message: "no glTF header")) }
        guard u32(4) == 2 else { return .failure(Failure(message: "version \(u32(4)), not 2")) }
        guard u32(8) == bytes.count else { return .failure(Failure(message: "length \(u32(8)) in the header, \(bytes.count) in the file")) }
        let length = u32(12)
        guard u32(16) == 0x4E4F_534A, 20 + length <= bytes.count else { return .failure(Failure(message: "no JSON chunk")) }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[20..<(20 + length)])) as? [String: Any] else {
            return .failure(Failure(message: "the JSON chunk does not parse"))
        }
        guard (json["asset"] as? [String: Any])?["version"] as? String == "2.0" else {
            return .failure(Failure(message: "asset.version is not 2.0"))
        }
        let nodes = (json["nodes"] as? [[String: Any]]) ?? []
        return .success(nodes.compactMap { $0["name"] as? String })
    }
}
