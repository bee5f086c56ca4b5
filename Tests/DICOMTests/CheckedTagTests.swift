import DICOM
import Foundation
import Testing
import TestSupport
import VolumeCore

/// Every geometry and rescale attribute against 0, −1, 1e-30, 1e300, NaN, inf and a word: the
/// series either loads with a plausible grid and finite values, or its files are refused with
/// the attribute named. Never a trap, never a grid of 1e-30 mm.
@Suite struct CheckedTagTests {
    static let tags: [(tag: String, keyword: String, values: Int)] = [
        ("(0028,0030)", "PixelSpacing", 2), ("(0018,0050)", "SliceThickness", 1), ("(0018,0088)", "SpacingBetweenSlices", 1),
        ("(0020,0032)", "ImagePositionPatient", 3), ("(0020,0037)", "ImageOrientationPatient", 6),
        ("(0028,1053)", "RescaleSlope", 1), ("(0028,1052)", "RescaleIntercept", 1),
    ]
    static let values = ["0", "-1", "1e-30", "1e300", "NaN", "inf", "abc"]

    @Test(arguments: tags.indices)
    func everyValueLoadsPlausiblyOrIsRefusedNamingTheTag(index: Int) throws {
        let (tag, keyword, count) = Self.tags[index]
        let folder = try Fixtures.temporaryFolder("checked-tag")
        defer { try? FileManager.default.removeItem(at: folder) }
        let slices = Fixtures.sampleCTFiles.prefix(3)
        for value in Self.values {
            let copies = try slices.map { url in
                let copy = folder.appendingPathComponent("\(value)-\(url.lastPathComponent)")
                try? FileManager.default.removeItem(at: copy)
                try FileManager.default.copyItem(at: url, to: copy)
                return copy.path
            }
            let text = Array(repeating: value, count: count).joined(separator: "\\")
            let (status, output) = try DcmtkTool.run("dcmodify", ["-nb", "-i", "\(tag)=\(text)"] + copies)
            #expect(status == 0, "\(output)")
            let report = DicomLoader().load(copies)
            if let series = report.series.first {
                let g = series.info.geometry
                #expect(g.problem == nil, "\(keyword)=\(value) gave \(g)")
                #expect(series.volume.geometry == g)
            } else {
                let reasons = report.rejected.map(\.reason)
                #expect(!reasons.isEmpty && reasons.allSatisfy { $0.contains(keyword) || $0.contains("geometry") },
                        "\(keyword)=\(value): \(reasons)")
            }
            for path in copies { try? FileManager.default.removeItem(atPath: path) }
        }
    }
}
