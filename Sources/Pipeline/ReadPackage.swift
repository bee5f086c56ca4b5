import Foundation
import ScenePackage
import VolumeIO

/// Use cases on a scene package a user holds (a folder or its .zip): check it, or read its
/// manifest. `vrprep package verify` and `vrprep package info` print what these give.
public enum ReadPackage {
    /// Schema, id, every file's size and SHA-256, nothing unlisted, glTF readable, no identity.
    public static func verify(_ package: URL) -> Verification {
        Verification.verify(package)
    }

    /// The manifest (a .zip is unpacked into a temporary folder, removed afterwards).
    /// Why a package may not be shared (it keeps a face), or nil: packages leave the hospital
    /// through share links only defaced (issue "Privacy of shared head scans").
    public static func shareRefusal(_ package: URL) -> String? {
        guard let manifest = try? manifest(package), let defacing = manifest.defacing, defacing.faceFound, !defacing.removed else { return nil }
        return "this package keeps the study's face (made with defacing \(defacing.mode)): a share link would show it outside the hospital; " +
            "make the package again with defacing auto or on"
    }

    public static func manifest(_ package: URL) throws(PackageError) -> Manifest {
        guard package.pathExtension.lowercased() == "zip" else { return try PackageStore.read(package) }
        let folder = try PackageStore.extract(package)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try PackageStore.read(folder)
    }

    /// Whether a published package (a folder) lists a file: its manifest, or one of its files.
    public static func lists(_ path: String, in package: URL) -> Bool {
        guard let manifest = try? PackageStore.read(package) else { return false }
        return path == "manifest.json" || manifest.files.contains { $0.path == path }
    }

    /// Whether a package file is worth compressing on the wire: glTF, JSON and STL shrink by a
    /// third or more; PNG and gzip files are compressed already.
    public static func compressible(_ path: String) -> Bool {
        // A USDZ stores its layers uncompressed (and ours is text): it gzips as well as the rest.
        [".glb", ".json", ".stl", ".usdz"].contains { path.lowercased().hasSuffix($0) }
    }

    /// The gzip stream of the package file at `path` (in the package folder `package`), made once
    /// into `cache` (written whole under a temporary name, then renamed, so a reader never sees
    /// half of it) and kept there for every later request.
    public static func gzipped(_ path: String, in package: URL, cache: URL) throws -> URL {
        let target = cache.appendingPathComponent(path + ".gz")
        if FileManager.default.fileExists(atPath: target.path) { return target }
        let data = try Gzip.compress(try Data(contentsOf: package.appendingPathComponent(path)))
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).partial")
        try data.write(to: partial)
        do {
            try FileManager.default.moveItem(at: partial, to: target)
        } catch {
            // Another request made it meanwhile: theirs is the same bytes.
            try? FileManager.default.removeItem(at: partial)
            guard FileManager.default.fileExists(atPath: target.path) else { throw error }
        }
        return target
    }
}
