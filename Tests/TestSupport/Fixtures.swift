import Foundation
import VolumeCore

/// Paths of the data the tests use, found from this source file so they work from any clone.
public enum Fixtures {
    /// The repository root.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The sample head CT (108 slices, 256×256, 0.9570312 × 0.9570312 × 1.5 mm).
    public static var sampleCT: URL { root.appendingPathComponent("SampleStudies/ct-head-promed0051") }

    /// The sample CT's DICOM files, sorted by name (which is not spatial order).
    public static var sampleCTFiles: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sampleCT.path)) ?? []
        return names.filter { $0.hasSuffix(".dcm") }.sorted().map { sampleCT.appendingPathComponent($0) }
    }

    /// pydicom's test files and pydicom-data (see its README and MANIFEST.tsv).
    public static var corpus: URL { root.appendingPathComponent("Tests/Fixtures/dicom-corpus") }

    public static func corpusFile(_ relative: String) -> URL { corpus.appendingPathComponent(relative) }

    /// A folder under `.build/test-artefacts/` kept after the run (pictures to look at), made if needed.
    public static func artefacts(_ name: String) -> URL {
        let url = root.appendingPathComponent(".build/test-artefacts/\(name)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A fresh empty folder under the system's temporary folder.
    public static func temporaryFolder(_ label: String = "test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vrprep-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs the built `vrprep` executable, as a user would.
public enum CommandLineTool {
    public struct Result {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        /// Whether the process ended by a signal (a trap, a kill) rather than by exiting.
        public var signalled = false
    }

    /// The `vrprep` built next to the test bundle (SwiftPM puts products in one folder).
    public static var executable: URL {
        let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [bundleFolder, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("vrprep") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// Runs `vrprep` (or, given `program`, another program found on the PATH, such as
    /// `python3` or `dciodvfy`) and waits for it.
    public static func run(_ arguments: [String], program: String? = nil) throws -> Result {
        let process = Process()
        if let program {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes to the end before waiting, so a full pipe cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errorData = Data()
        group.enter()
        DispatchQueue.global().async {
            errorData = error.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      standardOutput: String(decoding: outputData, as: UTF8.self),
                      standardError: String(decoding: errorData, as: UTF8.self),
                      signalled: process.terminationReason == .uncaughtSignal)
    }
}

extension Fixtures {
    /// A 4 × 3 × 2 map of 16-bit labels with two named labels, one of them above 255 (7 "vessels"
    /// at the last voxel, 300 "tumor" at voxel 5), spacing 0.5 × 0.7 × 2.5 mm, origin (10, −20, 30).
    public static func smallUInt16LabelMap(direction: Matrix3) -> LabelMap {
        let geometry = VolumeGeometry(dimensions: SIMD3(4, 3, 2), spacing: SIMD3(0.5, 0.7, 2.5),
                                      origin: SIMD3(10, -20, 30), direction: direction)
        var values = [UInt16](repeating: 0, count: 24)
        values[5] = 300
        values[23] = 7
        return LabelMap(storage: .uint16(Volume(geometry: geometry, voxels: values)),
                        labels: [LabelInfo(value: 7, name: "vessels", color: RGBA(0.8, 0.1, 0.1)),
                                 LabelInfo(value: 300, name: "tumor", color: RGBA(0.2, 0.8, 0.2, 0.5))])
    }
}
