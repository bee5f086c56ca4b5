import Foundation
import Testing
import TestSupport
import VolumeCore
import VolumeIO

/// `vrprep export-dicom`: a segmentation back to the hospital as a DICOM Segmentation of the
/// original study, checked by other teams' tools (dciodvfy from dicom3tools, highdicom).
@Suite struct ExportDicomTests {
    @Test func aPackagesLabelsBecomeASegmentationThatOtherToolsReadBackExactly() throws {
        let folder = try Fixtures.temporaryFolder("export-dicom")
        defer { try? FileManager.default.removeItem(at: folder) }
        let package = folder.appendingPathComponent("scene").path, out = folder.appendingPathComponent("dicom")
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", package, "--render-size", "64",
                                            "--max-triangles", "20000"] + ProcessCommandTests.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        let exported = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--package", package, "--out", out.path, "--json"])
        #expect(exported.status == 0, "\(exported.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(exported.standardOutput.utf8)) as? [String: Any])
        let file = try #require((report["files"] as? [[String: Any]])?.first)
        #expect(file["segments"] as? [String] == ["bone", "skin"])
        let seg = try #require(file["path"] as? String)
        #expect((file["seriesInstanceUID"] as? String)?.hasPrefix("2.25.") == true)

        // DICOM's own validator finds no error (the source images' own, such as their missing
        // DeidentificationMethod, are not carried over).
        let verified = try CommandLineTool.run([seg], program: "dciodvfy")
        let errors = (verified.standardOutput + verified.standardError).split(separator: "\n").filter { $0.hasPrefix("Error") }
        #expect(verified.standardError.contains("Segmentation") && errors.isEmpty, "dciodvfy: \(errors)")

        // highdicom reads it back: on every source image, the same pixels as the label map.
        let check = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/seg_check.py").path, seg,
                                             package + "/labels.nii.gz", Fixtures.sampleCT.path, "bone=1", "skin=2"], program: "python3")
        #expect(check.status == 0, "\(check.standardError.suffix(1500))")
        let read = try #require(try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any])
        #expect(read["differing"] as? Int == 0, "\(read)")
        #expect((read["labelledVoxels"] as? Int ?? 0) > 1_000_000 && read["images"] as? Int == 108 && read["referencedImages"] as? Int == 108)
        #expect(read["modality"] as? String == "SEG" && read["studyInstanceUID"] as? String == report["studyInstanceUID"] as? String)
        let segments = read["segments"] as? [[String: Any]] ?? []
        #expect(segments.map { $0["type"] as? String ?? "" } == ["Bone", "Skin"])
        #expect(segments.map { $0["algorithm"] as? String ?? "" } == ["AUTOMATIC", "AUTOMATIC"])
        #expect(segments.allSatisfy { ($0["cielab"] as? [Int])?.count == 3 })
    }

    @Test func aLabelMapOnAnotherGridOrWithNothingInItIsRefusedByName() throws {
        let folder = try Fixtures.temporaryFolder("export-dicom-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let package = folder.appendingPathComponent("scene").path
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", package, "--render-size", "64",
                                            "--max-triangles", "20000"] + ProcessCommandTests.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        var labels = try NIfTI.readLabelMap(URL(fileURLWithPath: package + "/labels.nii.gz"))
        guard case .uint8(var volume) = labels.storage else { Issue.record("not 8-bit labels"); return }
        // Moved by 5 mm: refused, naming the file and both grids; nothing is written.
        volume.geometry.origin.x += 5
        labels.storage = .uint8(volume)
        let moved = folder.appendingPathComponent("moved.nii.gz")
        try NIfTI.write(labels, to: moved)
        let out = folder.appendingPathComponent("out-moved")
        let refused = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", moved.path, "--out", out.path])
        #expect(refused.status == 1 && refused.standardError.contains("moved.nii.gz is not on the study's grid"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("seg.dcm").path))
        // Empty: nothing to export, said so.
        volume.geometry.origin.x -= 5
        volume.voxels = [UInt8](repeating: 0, count: volume.voxels.count)
        labels.storage = .uint8(volume)
        let empty = folder.appendingPathComponent("empty.nii.gz")
        try NIfTI.write(labels, to: empty)
        let nothing = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", empty.path, "--out", folder.appendingPathComponent("o").path])
        #expect(nothing.status == 1 && nothing.standardError.contains("empty.nii.gz holds no labelled voxel"), "\(nothing.standardError)")
        // Usage: both sources, or an unknown format.
        let both = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", empty.path, "--package", package, "--out", "x"])
        #expect(both.status == 2 && both.standardError.contains("one of them"))
        let format = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--package", package, "--out", "x", "--formats", "seg,usdz"])
        #expect(format.status == 2 && format.standardError.contains("'usdz'"))
    }
}
