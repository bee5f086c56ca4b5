import Foundation
import Testing
import TestSupport

/// Absurd numbers from a study or a recipe: `vrprep process` and `vrprep segment` exit with a
/// status of 1…127 and a message naming the tag or the key, never by a signal.
@Suite(.serialized) struct BadNumbersCommandTests {
    static let tags: [(modification: String, named: String)] = [
        (#"(0028,0030)=1e-30\1e-30"#, "PixelSpacing (0028,0030)"),
        ("(0028,1053)=NaN", "RescaleSlope (0028,1053)"),
        (#"(0028,0030)=1e300\1e300"#, "PixelSpacing (0028,0030)"),
        (#"(0020,0032)=1e300\0\0"#, "ImagePositionPatient (0020,0032)"),
        (#"(0020,0037)=1\0\0\1\0\0"#, "ImageOrientationPatient (0020,0037)"),
        ("(0028,1052)=inf", "RescaleIntercept (0028,1052)"),
    ]

    @Test(arguments: tags.indices)
    func aStudyWithAnAbsurdTagIsRefusedNamingIt(index: Int) throws {
        let (modification, named) = Self.tags[index]
        let study = try DcmtkTool.modifiedSample([modification], label: "bad-tag")
        defer { try? FileManager.default.removeItem(at: study) }
        for command in [["process", study.path, "--out", study.appendingPathComponent("package").path, "--render-size", "64"],
                        ["segment", study.path, "--structures", "bone", "--out", study.appendingPathComponent("labels.nii.gz").path],
                        ["inspect", study.path, "--json"]] {
            let result = try CommandLineTool.run(command)
            #expect(!result.signalled && (1...127).contains(result.status), "\(command[0]): status \(result.status)")
            #expect(result.standardError.contains(named) || result.standardOutput.contains(named),
                    "\(command[0]) does not name \(named): \(result.standardError.suffix(300))")
        }
    }

    static let recipes: [(json: String, named: String)] = [
        (#"{"structures": [{"preset": "bone", "seedHU": 1e300}]}"#, "seedHU: 1e+300 is out of range"),
        (#"{"structures": [{"preset": "vessels", "seedsMM": [[0, -120, 80]], "maxVolumeML": 1e300}]}"#, "maxVolumeML: 1e+300 is out of range"),
        (#"{"structures": [{"preset": "tumor", "seedsMM": [[1e300, 0, 0]]}]}"#, "seedsMM"),
        (#"{"structures": [{"preset": "bone", "minIslandML": -1}]}"#, "minIslandML: -1 is out of range"),
        (#"{"structures": [{"preset": "bone", "keepTable": 1}]}"#, "keepTable"),
    ]

    @Test(arguments: recipes.indices)
    func aRecipeWithAnAbsurdNumberIsRefusedNamingTheKey(index: Int) throws {
        let (json, named) = Self.recipes[index]
        let folder = try Fixtures.temporaryFolder("bad-recipe")
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = folder.appendingPathComponent("recipe.json")
        try Data(json.utf8).write(to: recipe)
        for command in [["process", Fixtures.sampleCT.path, "--recipe", recipe.path, "--out", folder.appendingPathComponent("p").path],
                        ["segment", Fixtures.sampleCT.path, "--recipe", recipe.path, "--out", folder.appendingPathComponent("l.nii.gz").path]] {
            let result = try CommandLineTool.run(command)
            #expect(!result.signalled && (1...127).contains(result.status), "\(command[0]): status \(result.status)")
            #expect(result.standardError.contains(named), "\(command[0]): \(result.standardError.suffix(300))")
        }
    }
}

extension BadNumbersCommandTests {
    @Test(arguments: [
        (["segment", "S", "--preset", "bone", "--out", "o.nii.gz", "--seed-hu", "1e300"], "--seed-hu: 1e+300 is out of range"),
        (["segment", "S", "--method", "connected", "--lower", "nan", "--upper", "5", "--seed", "1,1,1", "--out", "o.nii.gz"], "--lower: NaN"),
        (["segment", "S", "--method", "confidence", "--seed", "1,1,1", "--iterations", "1000000000", "--out", "o.nii.gz"], "--iterations"),
        (["process", "S", "--out", "p", "--smooth", "1000000000"], "--smooth: 1000000000 is out of range"),
        (["process", "S", "--out", "p", "--threads", "100000"], "--threads: 100000 is out of range"),
        (["mesh", "S", "--iso", "inf", "--out", "m.stl"], "--iso: inf is not a finite number"),
        (["render", "S", "--ipd", "nan", "--out", "r"], "--ipd: NaN is not a finite number"),
        (["render", "S", "--slice", "axial", "--slice-mm", "1e300", "--out", "r"], "--slice-mm: 1e+300 is out of range"),
    ])
    func absurdOptionsAreRefusedByName(arguments: [String], message: String) throws {
        let resolved = arguments.map { $0 == "S" ? Fixtures.sampleCT.path : $0 }
        let result = try CommandLineTool.run(resolved)
        #expect(result.status == 2 && !result.signalled, "status \(result.status)")
        #expect(result.standardError.contains(message), "\(result.standardError.suffix(300))")
    }
}
