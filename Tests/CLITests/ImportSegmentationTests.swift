import Foundation
import Testing
import TestSupport

/// `vrprep process --labels`: a segmentation made by other tools (highdicom's DICOM SEG,
/// rt-utils' RT Structure Set, a Slicer .seg.nrrd by pynrrd, nibabel's NIfTI, cropped as Slicer crops) becomes the scene,
/// voxel for voxel, with the file's names; segmentations of another study, elsewhere, with an empty segment or not a segmentation
/// are refused naming the file and what is wrong.
@Suite struct ImportSegmentationTests {
    static let script = Fixtures.root.appendingPathComponent("Tests/Interop/make_segmentations.py").path

    @Test func segmentationsFromOtherToolsBecomeTheSceneVoxelForVoxel() throws {
        let folder = try Fixtures.temporaryFolder("import")
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try CommandLineTool.run([Self.script, Fixtures.sampleCT.path, folder.path], program: "python3")
        #expect(made.status == 0, "\(made.standardError.suffix(1500))")
        let cases: [(file: String, names: [String], wanted: [String])] = [
            ("highdicom.seg", [], ["bony", "sphere"]),                       // the SEG's segment labels
            ("highdicom-labelmap.seg", [], ["bony", "sphere"]),              // a Label Map Segmentation (its background segment 0 left out)
            ("nibabel.nii.gz", ["--label-names", "1=bony,2=sphere"], ["bony", "sphere"]),
            ("nibabel-cropped.nii.gz", [], ["label_1", "label_2"]),          // no table, no names given
            ("rt-utils.dcm", [], ["bony", "sphere"]),                        // an RT Structure Set's ROI names
            ("slicer.seg.nrrd", [], ["bony", "sphere"]),                     // Slicer's segment names (pynrrd, cropped)
        ]
        for (file, names, wanted) in cases {
            let out = folder.appendingPathComponent("scene-\(file)").path
            // Voxel for voxel as the file gives it: the face kept (defacing clears imported maps'
            // face region otherwise, as the study's).
            let run = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", folder.appendingPathComponent(file).path,
                                               "--out", out, "--render-size", "64", "--max-triangles", "20000", "--deface", "off", "--json"] + names
                                              + ProcessCommandTests.shaders)
            #expect(run.status == 0, "\(file): \(run.standardError.suffix(800))")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any], "\(file)")
            #expect((summary["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == wanted, "\(file): \(summary)")
            // The package's label map equals the segmentation given, voxel for voxel.
            let compared = try CommandLineTool.run([Self.script, "--compare", out + "/labels.nii.gz", folder.appendingPathComponent("expected.npy").path],
                                                   program: "python3")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(compared.standardOutput.utf8)) as? [String: Any],
                                      "\(compared.standardError)")
            if file.hasPrefix("rt-utils") {
                // Contours filled back onto the grid: Dice ≥ 0.95 per structure (the bar; here they come back whole).
                let dice = result["dice"] as? [String: Double] ?? [:]
                #expect(dice.count == 2 && dice.values.allSatisfy { $0 >= 0.95 }, "\(file): \(result)")
            } else {
                #expect(result["differing"] as? [String: Int] == ["1": 0, "2": 0], "\(file): \(result)")
            }
            #expect((result["labelled"] as? Int ?? 0) > 100_000)
            // The manifest names the file, not a path on this machine.
            let manifest = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
            #expect(manifest.contains("\"importedLabels\" : \"\(file)\"") && !manifest.contains(folder.path), "\(file)")
            let verified = try CommandLineTool.run(["package", "verify", out])
            #expect(verified.status == 0, "\(verified.standardError)")
        }

        // The mesh and render doors take them too: the sphere's surface from Slicer's file on its own grid and from
        // the RT Structure Set placed on the study (15 mm radius: 14.1 mL); a DICOM segmentation without its study is refused.
        for (input, study) in [("slicer.seg.nrrd", [String]()), ("rt-utils.dcm", ["--study", Fixtures.sampleCT.path])] {
            let mesh = try CommandLineTool.run(["mesh", folder.appendingPathComponent(input).path, "--label", "2",
                                                "--out", folder.appendingPathComponent("sphere-\(input).stl").path, "--json"] + study)
            #expect(mesh.status == 0, "\(input): \(mesh.standardError)")
            let measured = (try? JSONSerialization.jsonObject(with: Data(mesh.standardOutput.utf8)) as? [String: Any]) ?? [:]
            let volume = ((measured["structures"] as? [[String: Any]])?.first?["volumeML"] as? Double) ?? 0
            #expect(abs(volume - 4 / 3 * Double.pi * 15 * 15 * 15 / 1000) < 0.5, "\(input): \(volume) mL")
        }
        let alone = try CommandLineTool.run(["render", "--labels", folder.appendingPathComponent("highdicom.seg").path,
                                             "--out", folder.appendingPathComponent("r").path] + ProcessCommandTests.shaders)
        #expect(alone.status == 1 && alone.standardError.contains("give the study too"), "\(alone.standardError)")

        // Refused, each naming the file and the fault; nothing written.
        let bad: [(file: String, says: String)] = [
            ("other-study.seg", "a segmentation of another study"),
            ("empty-segment.seg", "segment 3 'nothing' is empty"),
            ("elsewhere.nii.gz", "is not of this study"),
            ("missing-slice.dcm", "which the study does not hold (a missing slice)"),
        ]
        for (file, says) in bad {
            let out = folder.appendingPathComponent("refused-\(file)").path
            let run = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", folder.appendingPathComponent(file).path,
                                               "--out", out, "--render-size", "64"] + ProcessCommandTests.shaders)
            #expect(run.status == 1 && run.standardError.contains(file) && run.standardError.contains(says), "\(file): \(run.standardError)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        let image = Fixtures.sampleCTFiles[0].path
        let notSeg = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", image, "--out", folder.appendingPathComponent("x").path])
        #expect(notSeg.status == 1 && notSeg.standardError.contains("not a DICOM Segmentation or RT Structure Set") && notSeg.standardError.contains("CTImageStorage"),
                "\(notSeg.standardError)")
        // Usage: --labels with a recipe, a bad name list, a name for a label the file lacks.
        let withRecipe = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", image, "--structures", "bone", "--out", "x"])
        #expect(withRecipe.status == 2 && withRecipe.standardError.contains("--labels gives the structures"))
        let badNames = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", image, "--label-names", "liver", "--out", "x"])
        #expect(badNames.status == 2 && badNames.standardError.contains("VALUE=NAME"))
        let missing = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--labels", folder.appendingPathComponent("nibabel.nii.gz").path,
                                               "--label-names", "7=liver", "--out", folder.appendingPathComponent("y").path])
        #expect(missing.status == 1 && missing.standardError.contains("names label 7"), "\(missing.standardError)")
    }
}
