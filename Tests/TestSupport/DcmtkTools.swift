import Foundation

/// Debian's dcmtk command-line tools (echoscu, storescu, dcmodify…), by their full paths: pynetdicom
/// installs Python tools of the same names that may come first on the PATH.
public enum DcmtkTool {
    /// Runs `/usr/bin/<name>`; its exit status and what it printed (standard output and error).
    @discardableResult
    public static func run(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(name)")
        process.arguments = arguments
        // A file rather than a pipe: a tool that prints a lot cannot block on a full pipe.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vrprep-\(name)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// One `storescu` per list of files, all started at once (calling AE `callingAE`, called AE
    /// VRPREP, on loopback `port`); their exit statuses once every one has ended.
    public static func storeAtOnce(_ parts: [[String]], callingAE: String, port: Int) throws -> [Int32] {
        let senders = try parts.map { files in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/storescu")
            process.arguments = ["-aet", callingAE, "-aec", "VRPREP", "127.0.0.1", String(port)] + files
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        senders.forEach { $0.waitUntilExit() }
        return senders.map(\.terminationStatus)
    }
}

extension DcmtkTool {
    /// A copy of the sample CT's slices in a fresh folder, with `dcmodify -m` applied to each
    /// (e.g. `(0028,0030)=1e-30\1e-30`): the sample as a careless or hostile sender might send it.
    public static func modifiedSample(_ modifications: [String], label: String = "modified-sample") throws -> URL {
        let folder = try Fixtures.temporaryFolder(label)
        var files: [String] = []
        for file in Fixtures.sampleCTFiles {
            let copy = folder.appendingPathComponent(file.lastPathComponent)
            try FileManager.default.copyItem(at: file, to: copy)
            files.append(copy.path)
        }
        let (status, output) = try run("dcmodify", ["-nb"] + modifications.flatMap { ["-m", $0] } + files)
        guard status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "dcmodify: \(output)"]) }
        return folder
    }
}
