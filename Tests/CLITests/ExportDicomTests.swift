import Foundation
import Testing
import TestSupport
import VolumeCore
import VolumeIO

/// `vrprep export-dicom`: a segmentation back to the hospital as a DICOM Segmentation of the
/// original study and its models as Encapsulated STL, checked by other teams' tools (dciodvfy
/// from dicom3tools, highdicom, pydicom).
@Suite struct ExportDicomTests {
    @Test func aPackagesLabelsBecomeASegmentationThatOtherToolsReadBackExactly() throws {
        let folder = try Fixtures.temporaryFolder("export-dicom")
        defer { try? FileManager.default.removeItem(at: folder) }
        let package = folder.appendingPathComponent("scene").path, out = folder.appendingPathComponent("dicom")
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--out", package, "--render-size", "64",
                                            "--max-triangles", "20000"] + ProcessCommandTests.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        let exported = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--package", package, "--out", out.path,
                                                "--formats", "seg,stl,rtstruct,obj", "--json"])
        #expect(exported.status == 0, "\(exported.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(exported.standardOutput.utf8)) as? [String: Any])
        let files = report["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0["format"] as? String ?? "" } == ["seg", "rtstruct", "stl", "stl", "obj", "obj", "obj", "obj"])
        let file = try #require(files.first)
        #expect(file["segments"] as? [String] == ["bone", "skin"])
        let seg = try #require(file["path"] as? String)
        #expect((file["seriesInstanceUID"] as? String)?.hasPrefix("2.25.") == true)

        // DICOM's own validator (dciodvfy) finds no error in the segmentation, and none in the
        // models beyond the source images' own (the sample says PatientIdentityRemoved YES without
        // the DeidentificationMethod that must then come with it; the models keep the source's
        // patient module as it is rather than invent one).
        func errors(_ file: String) throws -> Set<String> {
            let verified = try CommandLineTool.run([file], program: "dciodvfy")
            return Set((verified.standardOutput + verified.standardError).split(separator: "\n").filter { $0.hasPrefix("Error") }.map(String.init))
        }
        let segErrors = try errors(seg)
        #expect(segErrors.isEmpty, "dciodvfy on the segmentation: \(segErrors)")
        let sourceImage = try #require(try FileManager.default.contentsOfDirectory(atPath: Fixtures.sampleCT.path).sorted().first { $0.hasSuffix(".dcm") })
        let sourceErrors = try errors(Fixtures.sampleCT.appendingPathComponent(sourceImage).path)
        #expect(!sourceErrors.isEmpty, "the sample's own errors (expected: DeidentificationMethod)")
        // Each model: valid beyond the source's errors, its STL inside byte for byte, in the study's frame of reference, made from the segmentation.
        for model in files.dropFirst(2).prefix(2) {
            let path = try #require(model["path"] as? String), name = try #require((model["segments"] as? [String])?.first)
            let extra = try errors(path).subtracting(sourceErrors)
            #expect(extra.isEmpty, "dciodvfy on \(path): \(extra)")
            let checked = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/model_check.py").path, path,
                                                   package + "/meshes/\(name).stl"], program: "python3")
            let read = try #require(try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8)) as? [String: Any], "\(checked.standardError)")
            #expect(read["equal"] as? Bool == true && read["modality"] as? String == "M3D" && read["mimeType"] as? String == "model/stl")
            #expect(read["unit"] as? String == "mm" && read["title"] as? String == name)
            #expect(read["madeFrom"] as? String == file["sopInstanceUID"] as? String)
            #expect(read["studyInstanceUID"] as? String == report["studyInstanceUID"] as? String)
        }

        // highdicom reads it back: on every source image, the same pixels as the label map.
        let check = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/seg_check.py").path, seg,
                                             package + "/labels.nii.gz", Fixtures.sampleCT.path, "bone=1", "skin=2"], program: "python3")
        #expect(check.status == 0, "\(check.standardError.suffix(1500))")
        let read = try #require(try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any])
        #expect(read["differing"] as? Int == 0, "\(read)")
        #expect((read["labelledVoxels"] as? Int ?? 0) > 1_000_000 && read["images"] as? Int == 108 && read["referencedImages"] as? Int == 108)
        #expect(read["modality"] as? String == "SEG" && read["studyInstanceUID"] as? String == report["studyInstanceUID"] as? String)
        // OBJ and its MTL per structure (dicom3tools of Debian 12 does not know these IODs yet: pydicom reads them):
        // as many faces as the STL has triangles, its material library named, the material the structure.
        for (n, model) in files.dropFirst(4).enumerated() {
            let path = try #require(model["path"] as? String), name = try #require((model["segments"] as? [String])?.first)
            let checked = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/model_check.py").path, path, "-"], program: "python3")
            let read = try #require(try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8)) as? [String: Any], "\(checked.standardError)")
            #expect(read["modality"] as? String == "M3D" && read["madeFrom"] as? String == file["sopInstanceUID"] as? String)
            if n % 2 == 0 {
                let stl = try Data(contentsOf: URL(fileURLWithPath: package + "/meshes/\(name).stl"))
                let triangles = Int(stl[80]) | Int(stl[81]) << 8 | Int(stl[82]) << 16 | Int(stl[83]) << 24
                #expect(read["mimeType"] as? String == "model/obj" && read["faces"] as? Int == triangles && read["mtllib"] as? String == "\(name).mtl",
                        "\(read)")
            } else {
                #expect(read["mimeType"] as? String == "model/mtl" && read["materials"] as? [String] == [name], "\(read)")
            }
        }
        // The RT Structure Set: valid beyond the source's errors; rt-utils fills its contours back into each structure.
        let rtstruct = try #require(files[1]["path"] as? String)
        let rtExtra = try errors(rtstruct).subtracting(sourceErrors)
        #expect(rtExtra.isEmpty, "dciodvfy on the structure set: \(rtExtra)")
        let rt = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/rt_check.py").path, rtstruct,
                                          package + "/labels.nii.gz", Fixtures.sampleCT.path, "bone=1", "skin=2"], program: "python3")
        let rtRead = try #require(try JSONSerialization.jsonObject(with: Data(rt.standardOutput.utf8)) as? [String: Any], "\(rt.standardError.suffix(1500))")
        let dice = rtRead["dice"] as? [String: Double] ?? [:]
        #expect(dice.keys.sorted() == ["bone", "skin"] && dice.values.allSatisfy { $0 >= 0.95 }, "\(rtRead)")
        // The models are in the segmentation's (the study's) frame of reference.
        let model = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/model_check.py").path,
                                             try #require(files.last?["path"] as? String), package + "/meshes/skin.stl"], program: "python3")
        #expect(model.standardOutput.contains("\"frameOfReferenceUID\": \"\(read["frameOfReferenceUID"] as? String ?? "?")\""))
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
        // Models come from a package's meshes: asked of a label map, refused saying so.
        let noMeshes = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", package + "/labels.nii.gz",
                                                "--out", folder.appendingPathComponent("m").path, "--formats", "stl"])
        #expect(noMeshes.status == 1 && noMeshes.standardError.contains("give --package"), "\(noMeshes.standardError)")
        // Usage: both sources, or an unknown format.
        let both = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--labels", empty.path, "--package", package, "--out", "x"])
        #expect(both.status == 2 && both.standardError.contains("one of them"))
        let format = try CommandLineTool.run(["export-dicom", Fixtures.sampleCT.path, "--package", package, "--out", "x", "--formats", "seg,usdz"])
        #expect(format.status == 2 && format.standardError.contains("'usdz'"))
    }
}
