import Foundation
import Testing
import TestSupport

/// `vrprep inspect` as a user runs it: the JSON shape of the issue, exit statuses 0, 1 and 2.
@Suite struct InspectCommandTests {
    @Test func jsonDescribesTheSampleCT() throws {
        let result = try CommandLineTool.run(["inspect", Fixtures.sampleCT.path, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let series = try #require(object["series"] as? [[String: Any]])
        #expect(series.count == 1)
        let ct = series[0]
        #expect(ct["seriesInstanceUID"] as? String == "1.2.826.0.1.3680043.8.498.10716825813663631817334042793339358190")
        #expect(ct["modality"] as? String == "CT")
        #expect(ct["dimensions"] as? [Int] == [256, 256, 108])
        #expect(ct["spacing"] as? [Double] == [0.9570312, 0.9570312, 1.5])
        #expect(ct["origin"] as? [Double] == [0, -244.042956, 0])
        #expect(ct["direction"] as? [Double] == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(ct["valueRange"] as? [Double] == [-1024, 2986])
        #expect(ct["files"] as? Int == 108)
        #expect((ct["warnings"] as? [String])?.isEmpty == true)
        let rejected = try #require(object["rejected"] as? [[String: String]])
        #expect(rejected.contains { $0["path"]?.hasSuffix("README.md") == true && $0["reason"]?.isEmpty == false })
    }

    @Test func textOutputNamesRejectedFiles() throws {
        let result = try CommandLineTool.run(["inspect", Fixtures.corpusFile("pydicom-test_files/MR_truncated.dcm").path,
                                              Fixtures.corpusFile("pydicom-test_files/CT_small.dcm").path])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("Series 1: CT"))
        #expect(result.standardOutput.contains("MR_truncated.dcm: cannot read DICOM"))
    }

    @Test func nothingLoadedExitsWithOne() throws {
        let result = try CommandLineTool.run(["inspect", Fixtures.corpusFile("README.md").path, "--json"])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect((object?["series"] as? [Any])?.isEmpty == true)
        #expect((object?["rejected"] as? [Any])?.count == 1)
    }

    @Test func usageErrorsExitWithTwo() throws {
        let unknown = try CommandLineTool.run(["inspect", Fixtures.sampleCT.path, "--colour"])
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains("--colour"))
        let missing = try CommandLineTool.run(["inspect"])
        #expect(missing.status == 2)
        let badThreads = try CommandLineTool.run(["inspect", Fixtures.sampleCT.path, "--threads", "0"])
        #expect(badThreads.status == 2)
        #expect(badThreads.standardError.contains("--threads must be at least 1"))
    }
}
