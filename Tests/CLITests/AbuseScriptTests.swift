import Foundation
import Testing
import TestSupport

/// The abuse script's short form (Benchmarks/abuse.py --short) against the built `vrprep`: every
/// case answered as expected, no server error, the service alive at the end.
@Suite struct AbuseScriptTests {
    @Test func everyAbuseCaseIsAnsweredAsExpected() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.root.appendingPathComponent("Benchmarks/abuse.py").path, "--short",
                             "--vrprep", CommandLineTool.executable.path]
        let log = try Fixtures.temporaryFolder("abuse").appendingPathComponent("abuse.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("server errors (5xx): 0") && output.contains("service alive at the end: True"), "\(output)")
        #expect(!output.contains("\nBAD "), "\(output)")
        try? FileManager.default.removeItem(at: log.deletingLastPathComponent())
    }
}
