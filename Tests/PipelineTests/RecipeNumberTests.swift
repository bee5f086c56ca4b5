import Foundation
import Pipeline
import Segmentation
import Testing
import VolumeCore

/// Every number of a recipe against the values that trapped or slipped through before:
/// each is refused with its key and range named, or accepted and run without a trap.
@Suite struct RecipeNumberTests {
    /// A small CT: air, a 300 HU ball (a vessel or a lesion) inside a 1,000 HU shell (bone).
    static let volume: AnyVolume = {
        var ct = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(40, 40, 40), spacing: SIMD3(0.8, 0.8, 1.2)),
                               filledWith: -1000)
        for k in 0..<40 {
            for j in 0..<40 {
                for i in 0..<40 {
                    let r = ((Double(i) - 20) * (Double(i) - 20) + (Double(j) - 20) * (Double(j) - 20)
                             + (Double(k) - 20) * (Double(k) - 20)).squareRoot()
                    ct[i, j, k] = r < 6 ? 300 : r < 12 ? 40 : r < 15 ? 1000 : -1000
                }
            }
        }
        return .int16(ct)
    }()

    /// The preset that carries each key, and the rest of its structure.
    static func structure(_ key: String) -> [String: Any] {
        switch key {
        case "radiusMM": return ["preset": "tumor", "seeds": [[20, 20, 20]]]
        case "seedHU", "minIslandML": return ["preset": "bone"]
        default: return ["preset": "vessels", "seeds": [[20, 20, 20]]]
        }
    }

    static let keys = Recipe.ranges.map(\.key) + ["seedsMM"]
    static let values: [Double] = [0, -1, 1e-30, 1e300, .nan, .infinity, -.infinity]

    @Test(arguments: keys)
    func everyValueIsRefusedByNameOrRunsWithoutATrap(key: String) throws {
        for value in Self.values {
            var fields = Self.structure(key)
            fields[key] = key == "seedsMM" ? [[value, 0, 0]] : value
            if key == "seedsMM" { fields["seeds"] = nil }
            let structure = try Self.decode(fields)
            let recipe = Recipe(structures: [structure])
            do {
                try recipe.validate(source: "r.json")
            } catch {
                #expect(error.description.contains(key) && error.description.contains("r.json"), "\(key)=\(value): \(error)")
                continue
            }
            // Accepted: the value must be finite, within its range, and the structure must run
            // to a result or a segmentation error (a trap would end the test run).
            #expect(value.isFinite && abs(value) < 1e7, "\(key)=\(value) was accepted")
            do {
                _ = try RecipeRunner(threads: 2).run(recipe, volume: Self.volume, modality: "CT")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test(arguments: keys)
    func aWrongTypeIsRefusedByName(key: String) {
        for wrong in [#""7""#, "true", "[1]", "{}"] {
            let rest = Self.structure(key).filter { $0.key != key && !(key == "seedsMM" && $0.key == "seeds") }
            let restJSON = String(decoding: try! JSONSerialization.data(withJSONObject: rest), as: UTF8.self)
            let text = #"{"structures": ["# + restJSON.dropLast() + #", "\#(key)": \#(wrong)}]}"#
            do {
                _ = try Recipe.parse(Data(text.utf8), source: "r.json")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.contains("r.json") && error.description.contains(key), "\(text): \(error)")
            }
        }
    }

    @Test func voxelSeedsOutOfAnyGridAreRefused() {
        for seed in [[-1, 0, 0], [0, 70_000, 0], [Int.max, 0, 0]] {
            let recipe = Recipe(structures: [.init(preset: .vessels, seeds: [seed])])
            #expect(throws: SegmentationError.self) { try recipe.validate(source: "r.json") }
        }
    }

    /// Builds a structure from fields that JSON cannot carry (NaN, infinities) by setting them.
    static func decode(_ fields: [String: Any]) throws -> Recipe.Structure {
        var structure = Recipe.Structure(preset: Preset(rawValue: fields["preset"] as! String)!)
        structure.seeds = fields["seeds"] as? [[Int]]
        for (key, value) in fields where key != "preset" && key != "seeds" {
            switch (key, value) {
            case ("seedsMM", let v as [[Double]]): structure.seedsMM = v
            case (_, let v as Double): if !structure.settings.set(key, v) { Issue.record("\(structure.preset) has no \(key)") }
            default: Issue.record("no field for \(key)")
            }
        }
        return structure
    }
}
