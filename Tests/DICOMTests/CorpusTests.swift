import DICOM
import Foundation
import Testing
import TestSupport

/// pydicom's test files: every one is either used or rejected with a reason, and every one
/// that pydicom decodes and DCMTK can decode gives pydicom's pixel values.
@Suite struct CorpusTests {
    struct Reference: Decodable {
        var shape: [Int]
        var photometric: String
        var transferSyntax: String
        var min: Int64
        var max: Int64
        var sum: Int64
        var sampleIndices: [Int]
        var sampleValues: [Int64]
    }

    static let references: [String: Reference] = {
        let url = Fixtures.root.appendingPathComponent("Tests/Fixtures/dicom-corpus-reference.json")
        struct File: Decodable { var files: [String: Reference] }
        let data = try! Data(contentsOf: url)
        return try! JSONDecoder().decode(File.self, from: data).files
    }()

    static let lossySyntaxes: Set<String> = [
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",  // JPEG baseline, extended
        "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",  // JPEG-LS near-lossless, JPEG 2000
    ]

    @Test func everyFileIsLoadedOrRejectedWithAReason() throws {
        let report = DicomLoader().load([Fixtures.corpus.path])
        let enumerator = FileManager.default.enumerator(atPath: Fixtures.corpus.path)!
        var all = Set<String>()
        for case let name as String in enumerator {
            var isFolder: ObjCBool = false
            let path = Fixtures.corpus.path + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                all.insert(URL(fileURLWithPath: path).standardizedFileURL.path)
            }
        }
        let rejected = Set(report.rejected.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path })
        #expect(report.rejected.allSatisfy { !$0.reason.isEmpty })
        #expect(!report.series.isEmpty)
        // Every file is used by a series or rejected (a multi-frame file may be both, in part).
        let used = Set(report.series.flatMap(\.info.filePaths).map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        #expect(used.union(rejected) == all, "unaccounted: \(all.subtracting(used).subtracting(rejected))")
        #expect(report.series.allSatisfy { $0.info.files == $0.info.filePaths.count })
        // Things we know are not loadable, with the reason we expect.
        let reasons = Dictionary(report.rejected.map { ($0.path.replacingOccurrences(of: Fixtures.corpus.path + "/", with: ""), $0.reason) },
                                 uniquingKeysWith: { a, _ in a })
        #expect(reasons["pydicom-test_files/MR_truncated.dcm"]?.contains("premature end") == true)
        #expect(reasons["pydicom-test_files/README.txt"]?.contains("not a DICOM file") == true)
        #expect(reasons["pydicom-test_files/rtplan.dcm"]?.contains("no pixel data") == true)
        #expect(reasons["pydicom-test_files/no_meta.dcm"]?.contains("not a DICOM file") == true)
    }

    @Test func decodedPixelsMatchPydicom() throws {
        var compared = 0, unsupported: [String] = [], unreadable: [String] = []
        for (relative, reference) in Self.references.sorted(by: { $0.key < $1.key }) {
            guard let file = try? DicomFile(path: Fixtures.corpusFile(relative).path) else {
                unreadable.append(relative)
                continue
            }
            let info = try file.pixelDataInfo()
            guard info.decoderAvailable else {
                unsupported.append(relative)
                continue
            }
            let frames = reference.shape[0]
            var values: [Int64] = []
            var model = ""
            for frame in 0..<frames {
                let decoded = try file.storedValues(frame: frame)
                values += decoded.values
                model = decoded.colorModel
            }
            #expect(values.count == reference.shape.reduce(1, *), "\(relative): sample count")
            guard values.count == reference.shape.reduce(1, *) else { continue }
            // pydicom returns YBR as RGB; DCMTK converts only what its JPEG codec converts.
            if reference.photometric.hasPrefix("YBR_FULL") && model.hasPrefix("YBR_FULL") {
                values = Self.ybrToRGB(values, bits: file.pixelFormat()?.bitsAllocated ?? 8)
            }
            let converted = reference.photometric.hasPrefix("YBR_FULL")
            let lossy = Self.lossySyntaxes.contains(reference.transferSyntax)
            let tolerance: Int64 = lossy ? max(2, (reference.max - reference.min) / 50) : (converted ? 1 : 0)
            let samples = reference.sampleIndices.map { values[$0] }
            let worst = zip(samples, reference.sampleValues).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= tolerance, "\(relative): sampled values differ by up to \(worst) (tolerance \(tolerance))")
            if tolerance == 0 {
                #expect(values.min() == reference.min && values.max() == reference.max, "\(relative): range")
                #expect(values.reduce(0, +) == reference.sum, "\(relative): sum of all values")
            }
            compared += 1
        }
        // Every transfer syntax in the corpus has a decoder (DCMTK's, or OpenJPEG for JPEG 2000).
        #expect(unsupported.isEmpty, "no decoder for \(unsupported)")
        #expect(compared == Self.references.count - 1)
        // Its meta header says JPEG Baseline (explicit VR) but the dataset is written in implicit VR;
        // pydicom guesses its way through, DCMTK refuses it (and the loader reports why).
        #expect(unreadable == ["pydicom-test_files/SC_rgb_jpeg.dcm"])
    }

    /// pydicom's YCbCr → RGB (ITU-R BT.601 full range), for data DCMTK leaves as YBR.
    static func ybrToRGB(_ values: [Int64], bits: Int) -> [Int64] {
        let top = Double((1 << bits) - 1), half = Double(1 << (bits - 1))
        var out = values
        for p in stride(from: 0, to: values.count - 2, by: 3) {
            let y = Double(values[p]), cb = Double(values[p + 1]) - half, cr = Double(values[p + 2]) - half
            let r = y + 1.402 * cr
            let g = y - 0.114 * 1.772 / 0.587 * cb - 0.299 * 1.402 / 0.587 * cr
            let b = y + 1.772 * cb
            out[p] = Int64(min(top, max(0, (r + 0.5).rounded(.down))))
            out[p + 1] = Int64(min(top, max(0, (g + 0.5).rounded(.down))))
            out[p + 2] = Int64(min(top, max(0, (b + 0.5).rounded(.down))))
        }
        return out
    }
}
