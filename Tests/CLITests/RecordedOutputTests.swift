import Foundation
import Testing
import TestSupport

/// `inspect --json`, `segment --json` and `process --json` on the sample give the same JSON as
/// the outputs recorded in Tests/Fixtures/recorded (key order, times, threads and this machine's
/// paths aside), so that moving code between the commands, the application layer and the kernels
/// changes nothing a user or a script reads. `VRPREP_UPDATE_GOLDEN=1 swift test --filter
/// RecordedOutputTests` records them again, after a change that means to alter them.
@Suite struct RecordedOutputTests {
    /// Keys whose values differ from run to run or machine to machine.
    static let volatile: Set<String> = ["seconds", "package", "output", "threads"]

    static func normalized(_ value: Any, sample: String) -> Any {
        switch value {
        case let object as [String: Any]:
            var out: [String: Any] = [:]
            for (key, item) in object where !volatile.contains(key) { out[key] = normalized(item, sample: sample) }
            return out
        case let list as [Any]:
            return list.map { normalized($0, sample: sample) }
        case let text as String:
            return text.replacingOccurrences(of: sample, with: "SAMPLE")
        default:
            return value
        }
    }

    static func check(_ name: String, _ arguments: [String]) throws {
        let result = try CommandLineTool.run(arguments)
        #expect(result.status == 0, "\(result.standardError)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        let text = String(decoding: try JSONSerialization.data(withJSONObject: normalized(parsed, sample: Fixtures.sampleCT.path),
                                                               options: [.sortedKeys, .prettyPrinted]), as: UTF8.self)
        let recorded = Fixtures.root.appendingPathComponent("Tests/Fixtures/recorded/\(name).json")
        if ProcessInfo.processInfo.environment["VRPREP_UPDATE_GOLDEN"] != nil {
            try Data((text + "\n").utf8).write(to: recorded)
        }
        let expected = try String(contentsOf: recorded, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text == expected, "\(name): the output differs from \(recorded.path)")
    }

    @Test func inspect() throws {
        try Self.check("inspect", ["inspect", Fixtures.sampleCT.path, "--json"])
    }

    @Test func segment() throws {
        let folder = try Fixtures.temporaryFolder("recorded-segment")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.check("segment-bone-skin", ["segment", Fixtures.sampleCT.path, "--structures", "bone,skin", "--json", "--threads", "2",
                                             "--out", folder.appendingPathComponent("labels.nii.gz").path])
    }

    @Test func process() throws {
        let folder = try Fixtures.temporaryFolder("recorded-process")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.check("process", ["process", Fixtures.sampleCT.path, "--out", folder.appendingPathComponent("scene").path,
                                   "--render-size", "64", "--json", "--threads", "2",
                                   "--shaders", Fixtures.root.appendingPathComponent("Shaders").path])
    }
}
