import Foundation
import ScenePackage

/// Use cases on a scene package a user holds (a folder or its .zip): check it, or read its
/// manifest. `vrprep package verify` and `vrprep package info` print what these give.
public enum ReadPackage {
    /// Schema, id, every file's size and SHA-256, nothing unlisted, glTF readable, no identity.
    public static func verify(_ package: URL) -> Verification {
        Verification.verify(package)
    }

    /// The manifest (a .zip is unpacked into a temporary folder, removed afterwards).
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
}
