import DICOM
import Foundation
import Pipeline
import ScenePackage
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// `DeidentifyStudy`: a de-identified DICOM copy of a study (PS3.15 Annex E basic profile), checked
/// with dicom3tools' dciodvfy, by searching every byte for the source's identity, and by loading it
/// back as the same volume.
@Suite(.serialized) struct DeidentifyStudyTests {
    /// What the sample is given before it is de-identified: an identity of its own in attributes of
    /// every kind the profile treats (names, IDs, dates, institution, operators, private attributes,
    /// references between images, a sequence to remove, attributes nested in a sequence).
    static let planted: [(String, String)] = [
        ("(0010,0030)", "19700412"),                                // PatientBirthDate: Z
        ("(0008,0080)", "St Elsewhere Hospital"),                   // InstitutionName: X/Z/D
        ("(0008,0020)", "20210315"), ("(0008,0030)", "101112"),     // StudyDate, StudyTime: Z
        ("(0008,0021)", "20210316"),                                // SeriesDate: X/D
        ("(0008,0023)", "20210317"),                                // ContentDate: Z/D
        ("(0008,002A)", "20210318101112"),                          // AcquisitionDateTime: X/Z/D
        ("(0008,1070)", "Operator^Olga"),                           // OperatorsName: X/Z/D
        ("(0010,1000)", "OTHERID123"),                              // OtherPatientIDs: X
        ("(0029,0010)", "SIEMENS CSA HEADER"), ("(0029,1008)", "SECRETCSA"),  // private
        ("(0008,1140)[0].(0008,1150)", "1.2.840.10008.5.1.4.1.1.2"),          // ReferencedImageSequence: X/Z/U*
        ("(0008,1140)[0].(0008,0080)", "Inside Hospital"),
        ("(0008,1140)[0].(0029,0010)", "SIEMENS CSA HEADER"), ("(0008,1140)[0].(0029,1008)", "NESTEDSECRET"),
        ("(0008,1120)[0].(0008,1155)", "1.2.3.4.5.6.7.8"),                    // ReferencedPatientSequence: X
    ]

    /// A copy of the sample with the planted identity; each image references the next file's instance.
    static func identifiedSample() throws -> URL {
        let folder = try Fixtures.temporaryFolder("deid-source")
        let files = Fixtures.sampleCTFiles
        for (n, file) in files.enumerated() {
            let copy = folder.appendingPathComponent(file.lastPathComponent)
            try FileManager.default.copyItem(at: file, to: copy)
            let next = try DicomFile(path: files[(n + 1) % files.count].path).string(.sopInstanceUID) ?? ""
            let arguments = ["-nb"] + (planted + [("(0008,1140)[0].(0008,1155)", next)]).flatMap { ["-i", "\($0.0)=\($0.1)"] } + [copy.path]
            let (status, output) = try DcmtkTool.run("dcmodify", arguments)
            guard status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "dcmodify: \(output)"]) }
        }
        return folder
    }

    /// dciodvfy's error lines for a file.
    static func errors(_ file: String) throws -> Set<String> {
        let (_, output) = try DcmtkTool.run("dciodvfy", [file])
        return Set(output.split(separator: "\n").filter { $0.hasPrefix("Error") }.map(String.init))
    }

    static func load(_ folder: URL) throws -> LoadedSeries {
        try #require(DicomLoader(threads: 2).load([folder.path]).series.max { $0.info.geometry.voxelCount < $1.info.geometry.voxelCount })
    }

    static func options(shiftDays: Int? = nil, defacer: DeidentifyStudy.Defacer? = nil) -> DeidentifyStudy.Options {
        DeidentifyStudy.Options(shiftDays: shiftDays, defacer: defacer, softwareVersion: "test", threads: 2)
    }

    @Test func theCopyIsValidHoldsNoIdentityAndIsTheSameVolume() throws {
        let source = try Self.identifiedSample()
        let work = try Fixtures.temporaryFolder("deid-out")
        defer { try? FileManager.default.removeItem(at: source); try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("copy")
        let report = try DeidentifyStudy.run(study: [source.path], out: out, options: Self.options())
        #expect(report.files.count == 108 && report.dimensions == [256, 256, 108] && !report.defaced)
        #expect(report.methodCodes == ["113100"])

        // The source's identity, read from its files: none of its bytes may be in the copy.
        let original = try Self.load(source)
        var identity: Set<String> = ["Anonymous^ProMED0051", "PROMED0051", "19700412", "St Elsewhere Hospital", "Inside Hospital",
                                     "Olga", "OTHERID123", "SECRETCSA", "NESTEDSECRET", "SIEMENS CSA", "1.2.3.4.5.6.7.8",
                                     "20210315", "20210316", "20210317", "20210318", "ProMED"]
        identity.formUnion([original.info.studyInstanceUID, original.info.seriesInstanceUID, original.info.frameOfReferenceUID])
        identity.formUnion(try #require(original.info.sliceSources).map(\.sopInstanceUID))
        // Each copy against its source: no error dciodvfy does not find in the source too.
        let sources = DicomDeidentifier.sourceFiles(of: original.info)
        #expect(sources.count == report.files.count)
        for (n, file) in report.files.enumerated() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file.path))
            for value in identity {
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file.path) holds '\(value)'")
            }
            if n % 27 == 0 {
                let new = try Self.errors(file.path).subtracting(try Self.errors(sources[n].path))
                #expect(new.isEmpty, "dciodvfy on \(file.path): \(new)")
            }
        }
        // The source's own errors are there to compare with (the sample lacks DeidentificationMethod).
        #expect(try Self.errors(sources[0].path).contains { $0.contains("DeidentificationMethod") })
        #expect(try !Self.errors(report.files[0].path).contains { $0.contains("DeidentificationMethod") })

        // What the first copy says now.
        let first = try DicomFile(path: report.files[0].path)
        #expect(first.string(.patientName) == "ANONYMOUS")
        #expect(first.string(.patientID) == "ANON" + String(report.studyInstanceUID.suffix(12)))
        #expect(first.string(DicomTag(0x0012, 0x0062)) == "YES")
        #expect(first.string(DicomTag(0x0008, 0x0114), within: [(DicomTag(0x0012, 0x0064), 0)]) == nil)
        #expect(first.string(DicomTag(0x0008, 0x0100), within: [(DicomTag(0x0012, 0x0064), 0)]) == "113100")
        #expect(first.string(DicomTag(0x0008, 0x0104), within: [(DicomTag(0x0012, 0x0064), 0)]) == "Basic Application Confidentiality Profile")
        #expect(first.string(DicomTag(0x0028, 0x0303)) == "REMOVED")
        #expect(first.string(DicomTag(0x0010, 0x0030)) == "" && first.string(DicomTag(0x0008, 0x0020)) == "")
        #expect(first.string(DicomTag(0x0008, 0x0080)) == "" && first.string(DicomTag(0x0008, 0x0021)) == nil)
        #expect(first.string(DicomTag(0x0008, 0x0023)) == "" && first.string(DicomTag(0x0008, 0x002A)) == "")
        #expect(first.string(DicomTag(0x0010, 0x1000)) == nil && first.string(DicomTag(0x0029, 0x0010)) == nil)
        #expect(first.string(DicomTag(0x0008, 0x103E)) == nil && first.string(DicomTag(0x0008, 0x1030)) == nil)
        #expect(first.itemCount(DicomTag(0x0008, 0x1120)) == nil)
        // Inside the kept sequence: the reference replaced as the referenced image's own UID was, the
        // institution emptied, the private attribute gone.
        let copyUIDs = try report.files.map { try #require(try DicomFile(path: $0.path).string(.sopInstanceUID)) }
        let reference = try #require(first.string(DicomTag(0x0008, 0x1155), within: [(DicomTag(0x0008, 0x1140), 0)]))
        #expect(copyUIDs.contains(reference) && reference != copyUIDs[0])
        #expect(first.string(DicomTag(0x0008, 0x0080), within: [(DicomTag(0x0008, 0x1140), 0)]) == "")
        #expect(first.string(DicomTag(0x0029, 0x0010), within: [(DicomTag(0x0008, 0x1140), 0)]) == nil)
        #expect(first.string(DicomTag(0x0008, 0x1150), within: [(DicomTag(0x0008, 0x1140), 0)]) == "1.2.840.10008.5.1.4.1.1.2")
        // UIDs as the scene package replaces them.
        let uids = Deidentification(volume: original.volume)
        #expect(report.studyInstanceUID == uids.replace(original.info.studyInstanceUID))
        #expect(first.string(.studyInstanceUID) == report.studyInstanceUID && first.string(.seriesInstanceUID) == report.seriesInstanceUID)
        #expect(Set(copyUIDs).count == 108 && copyUIDs.allSatisfy { $0.hasPrefix("2.25.") })

        // The loader reads the copy as the same volume, voxel for voxel.
        let copy = try Self.load(out)
        #expect(copy.info.geometry == original.info.geometry)
        guard case .int16(let a) = original.volume, case .int16(let b) = copy.volume else {
            Issue.record("the CT is not Int16 HU")
            return
        }
        #expect(a.voxels == b.voxels)
    }

    @Test func twoRunsGiveTheSameBytes() throws {
        let work = try Fixtures.temporaryFolder("deid-twice")
        defer { try? FileManager.default.removeItem(at: work) }
        let one = try DeidentifyStudy.run(study: [Fixtures.sampleCT.path], out: work.appendingPathComponent("one"), options: Self.options())
        let two = try DeidentifyStudy.run(study: [Fixtures.sampleCT.path], out: work.appendingPathComponent("two"), options: Self.options())
        #expect(one.studyInstanceUID == two.studyInstanceUID && one.files.count == two.files.count)
        for (a, b) in zip(one.files, two.files) {
            #expect(try Data(contentsOf: URL(fileURLWithPath: a.path)) == Data(contentsOf: URL(fileURLWithPath: b.path)), "\(a.path) differs")
        }
    }

    /// The default (defacing auto): the sample's copy holds the defaced volume, voxel for voxel,
    /// and the source's values everywhere outside the face.
    @Test func theDefaultCopyOfAHeadIsDefaced() throws {
        let work = try Fixtures.temporaryFolder("deid-defaced")
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("copy")
        let report = try DeidentifyStudy.run(study: [Fixtures.sampleCT.path], out: out,
                                             options: Self.options(defacer: DeidentifyStudy.defacer(nil, threads: 2)))
        #expect(report.defaced && report.methodCodes == ["113100", "113102"])
        var expected = try Self.load(Fixtures.sampleCT)
        let original = expected.volume
        let outcome = try DefaceStudy.apply(&expected, mode: .auto, threads: 2)
        let region = try #require(outcome.region)
        let copy = try Self.load(out)
        guard case .int16(let a) = expected.volume, case .int16(let b) = copy.volume, case .int16(let source) = original else {
            Issue.record("the CT is not Int16 HU")
            return
        }
        let differing = zip(a.voxels, b.voxels).filter { $0.0 != $0.1 }.count
        #expect(differing == 0, "\(differing) voxels differ from the defaced volume")
        // Outside the removed region, the source's values.
        let g = copy.info.geometry
        var changedOutside = 0, changed = 0
        for n in b.voxels.indices where b.voxels[n] != source.voxels[n] {
            changed += 1
            let index = SIMD3(n % g.dimensions.x, (n / g.dimensions.x) % g.dimensions.y, n / (g.dimensions.x * g.dimensions.y))
            if !region.contains(g.patientPosition(ofIndex: index)) { changedOutside += 1 }
        }
        #expect(changed > 10_000 && changedOutside == 0, "\(changed) changed, \(changedOutside) of them outside the face region")
    }

    @Test func aReplacementVolumeIsWhatTheCopyHolds() throws {
        let work = try Fixtures.temporaryFolder("deid-replaced")
        defer { try? FileManager.default.removeItem(at: work) }
        // A box of air (-1000 HU) over the front of the head, and values the stored range must clamp.
        let defacer: DeidentifyStudy.Defacer = { series in
            guard case .int16(var volume) = series.volume else { return nil }
            let d = volume.dimensions
            for k in 20..<80 { for j in 0..<60 { for i in 60..<200 { volume.voxels[(k * d.y + j) * d.x + i] = -1000 } } }
            return .int16(volume)
        }
        let out = work.appendingPathComponent("copy")
        let report = try DeidentifyStudy.run(study: [Fixtures.sampleCT.path], out: out, options: Self.options(defacer: defacer))
        #expect(report.defaced && report.methodCodes == ["113100", "113102"] && report.files.allSatisfy { $0.replacedFrames == 1 })
        let original = try Self.load(Fixtures.sampleCT)
        let expected = try #require(try defacer(original))
        let copy = try Self.load(out)
        #expect(copy.info.geometry == original.info.geometry)
        guard case .int16(let a) = expected, case .int16(let b) = copy.volume else {
            Issue.record("the CT is not Int16 HU")
            return
        }
        // Counted (a failing array comparison would diff 7 million values).
        let differing = zip(a.voxels, b.voxels).filter { $0.0 != $0.1 }.count
        #expect(differing == 0, "\(differing) voxels differ from the replacement")
        #expect(b.voxels[(50 * 256 + 30) * 256 + 100] == -1000)
        // Native pixel data now, Explicit VR Little Endian, valid as the source is.
        let first = try DicomFile(path: report.files[0].path)
        #expect(try first.pixelDataInfo().transferSyntaxUID == "1.2.840.10008.1.2.1")
        #expect(first.string(DicomTag(0x0008, 0x0100), within: [(DicomTag(0x0012, 0x0064), 1)]) == "113102")
        let sources = DicomDeidentifier.sourceFiles(of: original.info)
        let new = try Self.errors(report.files[40].path).subtracting(try Self.errors(sources[40].path))
        #expect(new.isEmpty, "dciodvfy: \(new)")
        // Same UIDs as without defacing: the key is the study's own voxels.
        #expect(report.studyInstanceUID == Deidentification(volume: original.volume).replace(original.info.studyInstanceUID))
    }

    @Test func datesAreShiftedWithTheOption() throws {
        let source = try Self.identifiedSample()
        let work = try Fixtures.temporaryFolder("deid-dates")
        defer { try? FileManager.default.removeItem(at: source); try? FileManager.default.removeItem(at: work) }
        let report = try DeidentifyStudy.run(study: [source.path], out: work.appendingPathComponent("copy"), options: Self.options(shiftDays: 20))
        #expect(report.methodCodes == ["113100", "113107"] && report.datesShiftedDays == 20)
        let first = try DicomFile(path: report.files[0].path)
        #expect(first.string(DicomTag(0x0008, 0x0020)) == "20210404")                 // 15 March + 20 days
        #expect(first.string(DicomTag(0x0008, 0x0030)) == "101112")                   // times kept
        #expect(first.string(DicomTag(0x0008, 0x002A)) == "20210407101112")
        #expect(first.string(DicomTag(0x0010, 0x0030)) == "")                         // the birth date still goes
        #expect(first.string(DicomTag(0x0028, 0x0303)) == "MODIFIED")
        #expect(first.string(DicomTag(0x0008, 0x0100), within: [(DicomTag(0x0012, 0x0064), 1)]) == "113107")
        // 0 days would keep the real dates: refused before any work.
        #expect(throws: UseCaseFailure.self) {
            try DeidentifyStudy.run(study: [source.path], out: work.appendingPathComponent("zero"), options: Self.options(shiftDays: 0))
        }
    }

    /// Compressed and unusual encodings (pydicom's test files): the copy keeps the transfer syntax and
    /// the loader reads it as the same image; a replacement makes it native.
    @Test(arguments: ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm"])
    func compressedFilesStayReadable(_ name: String) throws {
        let work = try Fixtures.temporaryFolder("deid-corpus")
        defer { try? FileManager.default.removeItem(at: work) }
        let input = Fixtures.corpusFile("pydicom-test_files/\(name)")
        let report = try DeidentifyStudy.run(study: [input.path], out: work.appendingPathComponent("copy"), options: Self.options())
        let original = try Self.load(input.deletingLastPathComponent().appendingPathComponent(name))
        let copyFile = try #require(report.files.first)
        #expect(try DicomFile(path: copyFile.path).pixelDataInfo().transferSyntaxUID == DicomFile(path: input.path).pixelDataInfo().transferSyntaxUID)
        let copy = try #require(DicomLoader(threads: 1).load([copyFile.path]).series.first)
        #expect(copy.info.geometry == original.info.geometry)
        #expect(copy.volume.valueRange() == original.volume.valueRange())
        for k in 0..<copy.volume.geometry.dimensions.z {
            for j in stride(from: 0, to: copy.volume.geometry.dimensions.y, by: 3) {
                for i in 0..<copy.volume.geometry.dimensions.x where copy.volume.value(i, j, k) != original.volume.value(i, j, k) {
                    Issue.record("\(name): voxel \(i),\(j),\(k) differs")
                    return
                }
            }
        }
        // With a replacement (every voxel 7 higher): native, and read back as the replacement.
        let raised: DeidentifyStudy.Defacer = { series in
            switch series.volume {
            case .int16(var v): v.voxels = v.voxels.map { $0 &+ 7 }; return .int16(v)
            case .float32(var v): v.voxels = v.voxels.map { $0 + 7 }; return .float32(v)
            }
        }
        let replaced = try DeidentifyStudy.run(study: [input.path], out: work.appendingPathComponent("raised"), options: Self.options(defacer: raised))
        let file = try #require(replaced.files.first)
        #expect(try DicomFile(path: file.path).pixelDataInfo().transferSyntaxUID == "1.2.840.10008.1.2.1")
        let back = try #require(DicomLoader(threads: 1).load([file.path]).series.first)
        #expect(back.volume.value(3, 5, 0) == original.volume.value(3, 5, 0) + 7)
    }
}
