import DICOM
import Foundation
import Phantoms
import Testing
import TestSupport

/// The inputs fuzzing found (Tests/Fuzz/regressions/, see Tests/Fuzz/README.md) and a bounded
/// mutation loop over corpus files, through the Swift DICOM layer: every input either loads or
/// fails with a thrown DicomError that says why. A crash (a trap, a memory error in the shim or
/// DCMTK) ends the test process, which is the failure these tests exist to catch.
@Suite struct FuzzRegressionTests {
    /// Tests/Fuzz/regressions, found from this source file.
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions", isDirectory: true)

    static func regressionFiles() -> [URL] {
        let keys: [URLResourceKey] = [.isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: regressions, includingPropertiesForKeys: keys) else { return [] }
        var files: [URL] = []
        for case let url as URL in walker where url.pathExtension != "md" {
            if (try? url.resourceValues(forKeys: Set(keys)))?.isRegularFile == true { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Reads what the loader reads and decodes the first frames into a bounded buffer (a frame
    /// larger than the buffer is a thrown error, never a bigger allocation). Returns the reasons
    /// of the errors thrown.
    @discardableResult
    static func exercise(_ file: DicomFile) -> [String] {
        let tags: [DicomTag] = [.transferSyntaxUID, .sopClassUID, .modality, .rows, .columns, .numberOfFrames,
                                .bitsAllocated, .samplesPerPixel, .photometricInterpretation,
                                .imagePositionPatient, .imageOrientationPatient, .pixelSpacing, .rescaleSlope]
        for tag in tags {
            _ = file.string(tag)
            _ = file.doubles(tag)
        }
        let perFrame: [DicomFile.SequenceStep] = [(tag: DicomTag.perFrameFunctionalGroupsSequence, item: 0),
                                                  (tag: DicomTag.planePositionSequence, item: 0)]
        _ = file.string(.imagePositionPatient, within: perFrame)
        _ = file.itemCount(.perFrameFunctionalGroupsSequence)
        _ = file.pixelFormat()
        var reasons: [String] = []
        do throws(DicomError) {
            let info = try file.pixelDataInfo()
            if info.present, !info.encapsulated, info.valueLength <= 16 << 20 { _ = file.bytes(.pixelData) }
            guard info.present else { return reasons }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
            defer { buffer.deallocate() }
            let frames = max(1, min(file.int(.numberOfFrames) ?? 1, 2))
            for frame in 0..<frames {
                do throws(DicomError) {
                    try file.decodeFrame(frame, into: buffer)
                } catch {
                    reasons.append(error.reason)
                }
            }
        } catch {
            reasons.append(error.reason)
        }
        return reasons
    }

    /// Opens `url` from disk and from memory and loads it as DicomLoader does; returns the reasons given.
    static func check(_ url: URL, data: Data, name: String) -> [String] {
        var reasons: [String] = []
        do throws(DicomError) {
            reasons += exercise(try DicomFile(path: url.path, name: name))
        } catch {
            reasons.append(error.reason)
        }
        do throws(DicomError) {
            reasons += exercise(try DicomFile(data: data, name: name))
        } catch {
            reasons.append(error.reason)
        }
        let report = DicomLoader(threads: 1).load([url.path])
        // Every file ends up in a series or among the rejected files, with its reason.
        #expect(report.series.count + report.rejected.count >= 1, "\(name): neither loaded nor rejected")
        reasons += report.rejected.map(\.reason)
        return reasons
    }

    @Test func everyRegressionInputLoadsOrIsRefusedWithAReason() throws {
        let files = Self.regressionFiles()
        try #require(files.count >= 8, "regression inputs not found under \(Self.regressions.path)")
        for url in files {
            let name = url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
            let reasons = Self.check(url, data: try Data(contentsOf: url), name: name)
            #expect(reasons.allSatisfy { !$0.isEmpty }, "\(name): an error without a reason")
            // The defects these files stood for, now refused with a message instead of a crash, a
            // memory error or gigabytes of memory.
            if url.lastPathComponent.hasPrefix("deflate-") {
                #expect(reasons.contains { $0.contains("inflates to more than") }, "\(name): \(reasons)")
            }
            if url.lastPathComponent.hasPrefix("rle-") {
                #expect(reasons.contains { $0.contains("RLE") }, "\(name): \(reasons)")
            }
            if url.lastPathComponent.hasPrefix("jpeg-dc-huffman") {
                #expect(reasons.contains { $0.contains("JPEG DC Huffman table") }, "\(name): \(reasons)")
            }
            if url.lastPathComponent.hasPrefix("huge-length") {
                #expect(!reasons.isEmpty, "\(name) was read")
            }
        }
    }

    /// 3 corpus files (native, RLE, JPEG 2000) × 300 seeded mutations: bit flips, truncation,
    /// length fields overwritten, junk inserted. Deterministic: mutant n of a file is the same on
    /// every run, and its name says which it is.
    @Test func mutatedCorpusFilesLoadOrAreRefused() throws {
        let sources = ["pydicom-test_files/CT_small.dcm", "pydicom-test_files/MR_small_RLE.dcm",
                       "pydicom-test_files/MR_small_jp2klossless.dcm"]
        let folder = try Fixtures.temporaryFolder("fuzz-mutants")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (index, source) in sources.enumerated() {
            let original = [UInt8](try Data(contentsOf: Fixtures.corpusFile(source)))
            var random = MutationRandom(seed: 0x5EED_0000 + UInt64(index))
            for number in 0..<300 {
                let mutant = ByteMutator.mutate(original, random: &random)
                let name = "\(URL(fileURLWithPath: source).lastPathComponent).mutant-\(number).dcm"
                let url = folder.appendingPathComponent(name)
                try Data(mutant).write(to: url)
                let reasons = Self.check(url, data: Data(mutant), name: name)
                #expect(reasons.allSatisfy { !$0.isEmpty }, "\(name): an error without a reason")
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}

/// The mutations a damaged or hostile DICOM file shows: flipped bits, a cut, a length field
/// overwritten (at a real element or item header when one is found, else anywhere), junk inserted.
/// One to three of them per mutant.
private enum ByteMutator {
    /// VRs whose length field is 32 bits, after two reserved bytes (explicit VR), as their two bytes.
    static let longVRs = vrCodes(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"])
    static let shortVRs = vrCodes(["AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
                                   "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"])

    static func vrCodes(_ names: [String]) -> Set<UInt16> {
        Set(names.map { name in name.utf8.reduce(UInt16(0)) { $0 << 8 | UInt16($1) } })
    }
    static let lengths: [UInt32] = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0xFFFE, 0xFFFF, 0x1_0000,
                                    0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF0, 0xFFFF_FFFE, 0xFFFF_FFFF]

    static func mutate(_ input: [UInt8], random: inout MutationRandom) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + random.below(3)) {
            switch random.below(4) {
            case 0: ByteMutations.flipBits(&bytes, &random)
            case 1: ByteMutations.truncate(&bytes, &random)
            case 2: overwriteLength(&bytes, &random)
            default: ByteMutations.insertJunk(&bytes, &random)
            }
        }
        return bytes
    }

    /// Where length fields are: after an explicit VR (16 or 32 bits) and after an item tag (32 bits).
    /// Headers are looked for in the first 64 kB (the corpus files used are smaller).
    static func lengthFields(_ bytes: [UInt8]) -> [(offset: Int, width: Int)] {
        var fields: [(offset: Int, width: Int)] = []
        var index = 4
        while index + 8 <= min(bytes.count, 1 << 16) {
            let vr = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
            if longVRs.contains(vr), bytes[index + 2] == 0, bytes[index + 3] == 0 {
                fields.append((index + 4, 4))
            } else if shortVRs.contains(vr) {
                fields.append((index + 2, 2))
            } else if bytes[index - 4] == 0xFE, bytes[index - 3] == 0xFF, bytes[index - 2] == 0x00,
                      bytes[index - 1] == 0xE0 {
                fields.append((index, 4))
            }
            index += 1
        }
        return fields
    }

    static func overwriteLength(_ bytes: inout [UInt8], _ random: inout MutationRandom) {
        let fields = lengthFields(bytes)
        var field: (offset: Int, width: Int)
        if !fields.isEmpty, random.below(4) != 0 {
            field = fields[random.below(fields.count)]
        } else {
            field = (random.below(bytes.count + 1), random.below(2) == 0 ? 2 : 4)
        }
        let value = random.below(3) == 0 ? UInt32(truncatingIfNeeded: random.next()) : lengths[random.below(lengths.count)]
        ByteMutations.overwrite(&bytes, at: field.offset, width: field.width, with: value)
    }
}
