import DICOM
import Foundation
import Phantoms
import Pipeline
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// Recipes: parsing and checking, and several structures composed into one label map.
@Suite struct RecipeTests {
    @Test func aRecipeWithEveryPresetParses() throws {
        let text = """
            {"structures": [{"preset": "bone", "keepTable": false}, {"preset": "skin"},
              {"preset": "vessels", "seedsMM": [[125, -110, 50]], "lower": 150, "upper": 700, "maxVolumeML": 300},
              {"preset": "tumor", "seeds": [[100, 150, 70]], "radiusMM": 7.5}]}
            """
        let recipe = try Recipe.parse(Data(text.utf8), source: "r.json")
        #expect(recipe.structures.map(\.preset) == [.bone, .skin, .vessels, .tumor])
        #expect(recipe.structures[2].seedsMM == [[125, -110, 50]])
        #expect(try JSONDecoder().decode(Recipe.self, from: JSONEncoder().encode(recipe)) == recipe)
    }

    @Test(arguments: [
        (#"{"structures": [{"preset": "bone"}], "colour": 1}"#, "unknown key 'colour'"),
        (#"{"structures": [{"preset": "bone", "treshold": 200}]}"#, "structure 1: unknown key 'treshold'"),
        (#"{"structures": [{"preset": "lungs"}]}"#, "unknown preset 'lungs'"),
        (#"{"structures": [{"preset": "tumor", "seedsMM": [[1, 2, 3]], "radiusMM": 0}]}"#, "radiusMM: 0 is out of range (expected a number at least 0.5"),
        (#"{"structures": [{"preset": "tumor"}]}"#, "needs at least one seed"),
        (#"{"structures": [{"preset": "vessels", "seedsMM": [[1, 2]]}]}"#, "three numbers"),
        (#"{"structures": [{"preset": "vessels", "seedsMM": [[1, 2, 3]], "lower": 700, "upper": 150}]}"#, "lower 700 is above upper 150"),
        (#"{"structures": [{"preset": "bone"}, {"preset": "bone"}]}"#, "appears twice"),
        (#"{"structures": [{"preset": "skin", "radiusMM": 3}]}"#, "radiusMM is for the tumor preset (skin takes lower)"),
        (#"{"structures": [{"preset": "tumor", "seeds": [[1, 2, 3]], "upper": 3}]}"#, "estimates its interval from the seeds"),
        (#"{"structures": [{"preset": "skin", "upper": 3}]}"#, "upper is for the bone or vessels preset"),
        (#"{"structures": [{"preset": 3}]}"#, "wrong type"),
        (#"[1, 2]"#, "not a JSON object"),
        (#"{"structures": []}"#, "no structure"),
        (#"{"region": {"method": "connected", "lower": 1, "upper": 2, "seeds": [[1, 2, 3]]}, "structures": []}"#, "not both"),
        (#"{"region": {"method": "grow"}}"#, "unknown method 'grow'"),
        (#"{"region": {"method": "threshold", "lower": 1, "upper": 2, "seeds": [[1, 2, 3]]}}"#, "region (threshold): takes no seeds"),
        (#"{"region": {"method": "connected", "seeds": [[1, 2, 3]]}}"#, "needs lower and upper"),
        (#"{"region": {"method": "confidence", "seeds": [[1, 2, 3]], "connectivity": 8}}"#, "connectivity must be 6, 18 or 26"),
        (#"{"region": {"method": "confidence", "seeds": [[1, 2, 3]], "within": "m.nii"}}"#, "within restricts the connected method"),
        (#"{"region": {"method": "connected", "lower": 1, "upper": 2, "seeds": [[1, 2, 3]], "colour": 1}}"#, "region: unknown key 'colour'"),
    ])
    func badRecipesNameTheProblem(text: String, expected: String) {
        do {
            _ = try Recipe.parse(Data(text.utf8), source: "r.json")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains("r.json") && error.description.contains(expected), "\(error)")
        }
    }

    @Test func anExpertRegionFromFlagsIsTheRecipeAFileGives() throws {
        var flags = RecipeFlags()
        flags.method = .connected
        (flags.lower, flags.upper, flags.connectivity, flags.maxVolumeML) = (226, 3071, 26, 500)
        flags.seedVoxels = ["256,256,60"]
        flags.seedPositions = ["10.5,-20,30"]
        let file = #"{"region": {"method": "connected", "lower": 226, "upper": 3071, "connectivity": 26, "maxVolumeML": 500, "#
            + #""seeds": [[256, 256, 60]], "seedsMM": [[10.5, -20, 30]]}}"#
        let fromFile = try Recipe.parse(Data(file.utf8), source: "r.json")
        #expect(try flags.recipe() == fromFile)
        // Written back as it was read: {"region": …}, no empty structures.
        let written = String(decoding: try JSONEncoder().encode(fromFile), as: UTF8.self)
        #expect(written.hasPrefix(#"{"region":"#) && !written.contains("structures"), "\(written)")
        // A tagged seed is a structure's, not a region's.
        flags.seedPositions = ["vessels:1,2,3"]
        #expect(throws: RecipeFlags.Problem.self) { try flags.recipe() }
        // A scene package cannot hang on a label map of this machine.
        var within = fromFile
        within.region?.within = "/home/someone/labels.nii.gz"
        within.region?.connectivity = nil
        #expect(throws: UseCaseFailure.self) { try Pipeline.check(recipe: within) }
        #expect(throws: Never.self) { try Pipeline.check(recipe: fromFile) }
    }

    @Test func aPresetsFlagsBecomeItsOwnSettingsAndNoOther() throws {
        var flags = RecipeFlags()
        flags.preset = .vessels
        (flags.lower, flags.upper, flags.maxVolumeML, flags.seedHU) = (120, 600, 300, 700)
        flags.seedPositions = ["1,2,3"]
        let recipe = try #require(try flags.recipe())
        var vessels = PresetSettings.Vessels()
        (vessels.lower, vessels.upper, vessels.maxVolumeML) = (120, 600, 300)
        #expect(recipe.structures == [Recipe.Structure(.vessels(vessels), seedsMM: [[1, 2, 3]])], "the bone's seed level stays the bone's")
        flags.preset = .skin
        flags.seedPositions = []
        do {
            _ = try flags.recipe()
            Issue.record("a skin with an upper bound was accepted")
        } catch {
            #expect(error.description == "--upper is not a setting of the skin preset (it takes lower)")
        }
    }

    @Test func theVocabularyNamesEachPresetOnce() throws {
        #expect(Set(Preset.paintingOrder) == Set(Preset.allCases) && Preset.paintingOrder.count == Preset.allCases.count)
        #expect(Set(Preset.allCases.map(\.label.value)).count == Preset.allCases.count)
        #expect(try Recipe.presets(in: "tumor, bone") == [.tumor, .bone])
        #expect(Preset.either([.skin, .vessels, .tumor]) == "skin, vessels or tumor")
        for (list, expected) in [("bone,lungs", "unknown structure 'lungs'"), ("bone,bone", "at most once"), ("", "unknown structure ''")] {
            #expect {
                _ = try Recipe.presets(in: list, source: "--structures")
            } throws: { error in
                "\(error)".contains("--structures") && "\(error)".contains(expected)
            }
        }
        // The JSON spelling is the preset's name.
        let encoded = try JSONEncoder().encode(Recipe(structures: [.init(preset: .vessels, seedsMM: [[1, 2, 3]])]))
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""preset":"vessels""#))
    }

    @Test func structuresArePaintedByPriorityWithoutOverlap() throws {
        // The tree and the lesion drawn into the sample CT; the lesion lies where skin (body)
        // and, for one voxel, maybe bone; the map must give tumor its whole mask.
        guard case .int16(let ct) = DicomLoader().load([Fixtures.sampleCT.path]).series[0].volume else {
            Issue.record("the sample CT is not 16-bit")
            return
        }
        let tree = Phantoms.headVesselTree.map(\.segment)
        let (withTree, treeTruth) = Phantoms.draw(into: ct, segments: tree, contrast: 300, noise: 0)
        let (volume, lesionTruth) = Phantoms.draw(into: withTree, ellipsoids: [Phantoms.headLesion], contrast: 40, noise: 10)
        let recipe = Recipe(structures: [
            .init(.tumor({ var t = PresetSettings.Tumor(); t.radiusMM = 7.5; return t }()), seedsMM: [[95.7, -100.5, 105]]),
            .init(preset: .vessels, seedsMM: [[125, -110, 50]]),
            .init(preset: .bone),
            .init(preset: .skin),
        ])
        let result = try RecipeRunner().run(recipe, volume: .int16(volume), modality: "CT")
        guard case .uint8(let map) = result.labels.storage else { Issue.record("UInt8 map"); return }
        #expect(result.labels.labels.map(\.value) == [1, 2, 3, 4])
        #expect(result.labels.labels.map(\.name) == ["bone", "skin", "vessels", "tumor"])
        func mask(_ value: UInt8) -> Volume<UInt8> { Volume(geometry: map.geometry, voxels: map.voxels.map { $0 == value ? 1 : 0 }) }
        let tumorDice = Overlap.dice(mask(4), lesionTruth), vesselDice = Overlap.dice(mask(3), treeTruth)
        print("recipe: tumor Dice \(tumorDice), vessels Dice \(vesselDice), " + result.structures.map { "\($0.preset) \($0.voxels)→\($0.voxelsInMap) in \($0.seconds) s" }.joined(separator: ", "))
        #expect(tumorDice >= 0.9 && vesselDice >= 0.85)
        // Counts add up: every structure's voxels are in the map once, under its label or a higher one.
        let tumor = result.structures.first { $0.preset == .tumor }!, skin = result.structures.first { $0.preset == .skin }!
        #expect(tumor.voxelsInMap == tumor.voxels)
        #expect(skin.voxelsInMap < skin.voxels)
        #expect(result.structures.reduce(0) { $0 + $1.voxelsInMap } == map.voxels.filter { $0 != 0 }.count)
    }
}
