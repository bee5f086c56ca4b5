import Foundation
import Testing

/// The layering that issue "Two doors, one vocabulary" asks for, checked on the sources: the doors
/// (the commands and the service's routes) import the application layer, never a kernel module,
/// and a preset is named in words only where it is defined.
@Suite struct LayeringTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")
    static let kernels = ["Segmentation", "Meshing", "Rendering", "ScenePackage"]

    static func swiftFiles(_ folder: String) throws -> [URL] {
        let url = sources.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// The code of a file without its comments (// to the end of the line).
    static func code(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard let comment = line.range(of: "//") else { return String(line) }
            return String(line[..<comment.lowerBound])
        }
    }

    @Test func commandsAndRoutesImportTheApplicationLayerAndNoKernel() throws {
        let doors = try Self.swiftFiles("vrprep") + Self.swiftFiles("Service").filter { $0.lastPathComponent.hasSuffix("Routes.swift") }
        #expect(doors.count >= 14, "the commands and the route files: \(doors.map(\.lastPathComponent))")
        for file in doors {
            for line in try Self.code(file) where line.hasPrefix("import ") {
                let module = line.split(separator: " ").last.map { String($0.split(separator: ".")[0]) } ?? ""
                // A format type the command prints may be imported by itself: `import struct ScenePackage.Manifest`.
                let scopedFormat = line.trimmingCharacters(in: .whitespaces) == "import struct ScenePackage.Manifest"
                #expect(!Self.kernels.contains(module) || scopedFormat, "\(file.lastPathComponent): \(line)")
            }
        }
    }

    @Test func aPresetIsNamedInWordsOnlyWhereItIsDefined() throws {
        let names = ["bone", "skin", "vessels", "tumor"]
        let definitions: Set<String> = ["Preset.swift", "BonePreset.swift", "SkinPreset.swift", "VesselPreset.swift", "TumorPreset.swift"]
        var files: [URL] = []
        for folder in try FileManager.default.contentsOfDirectory(atPath: Self.sources.path) {
            files += (try? Self.swiftFiles(folder)) ?? []
        }
        #expect(files.count > 50)
        for file in files where !definitions.contains(file.lastPathComponent) {
            for (n, line) in try Self.code(file).enumerated() {
                for name in names where line.contains("\"\(name)\"") {
                    Issue.record("\(file.lastPathComponent):\(n + 1) spells the preset \"\(name)\": use Preset.\(name)")
                }
            }
        }
        // In a definition, only the label's name spells it.
        for file in files where definitions.contains(file.lastPathComponent) && file.lastPathComponent != "Preset.swift" {
            let spelled = try Self.code(file).filter { line in names.contains { line.contains("\"\($0)\"") } }
            #expect(spelled.count == 1 && spelled[0].contains("static let label"), "\(file.lastPathComponent): \(spelled)")
        }
    }
}
