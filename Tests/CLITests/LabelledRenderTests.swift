import Foundation
import Rendering
import Testing
import TestSupport
import VolumeCore
import VolumeIO

/// `vrprep render --labelled --lang …`: a legend and leader labels over the render, drawn with
/// FreeType. The Japanese words are found in the picture by the glyphs the same font draws for
/// them, and not by the box a font draws for a character it lacks.
@Suite struct LabelledRenderTests {
    static let shaders = ["--shaders", Fixtures.root.appendingPathComponent("Shaders").path]

    /// Two balls of 2 mm voxels: bone (label 1, radius 12 voxels) and tumor (label 2, radius 6).
    /// Returns the bone's volume in mL.
    @discardableResult
    static func twoBalls(to url: URL) throws -> Double {
        let n = 48
        let geometry = VolumeGeometry(dimensions: SIMD3(n, n, n), spacing: SIMD3(2, 2, 2))
        var voxels = [UInt8](repeating: 0, count: n * n * n)
        for k in 0..<n { for j in 0..<n { for i in 0..<n {
            let d1 = SIMD3<Double>(Double(i - 18), Double(j - 24), Double(k - 24)), d2 = SIMD3<Double>(Double(i - 36), Double(j - 24), Double(k - 24))
            if (d1 * d1).sum() <= 144 { voxels[(k * n + j) * n + i] = 1 } else if (d2 * d2).sum() <= 36 { voxels[(k * n + j) * n + i] = 2 }
        } } }
        let map = LabelMap(storage: .uint8(Volume(geometry: geometry, voxels: voxels)),
                           labels: [LabelInfo(value: 1, name: "bone", color: RGBA(0.9, 0.85, 0.75)),
                                    LabelInfo(value: 2, name: "tumor", color: RGBA(0.2, 0.8, 0.3))])
        try NIfTI.write(map, to: url)
        return Double(voxels.filter { $0 == 1 }.count) * 8 / 1000
    }

    /// The least mean difference of `template` (white text on black) placed anywhere in the image's
    /// region `within` (x, y, width, height), over the template's inked pixels and around them.
    static func bestMatch(_ template: RGBAImage, in image: RGBAImage, within: (Int, Int, Int, Int)) -> Double {
        // The template's inked box.
        var (x0, y0, x1, y1) = (template.width, template.height, -1, -1)
        for y in 0..<template.height { for x in 0..<template.width where template.pixel(x, y).x > 0 {
            (x0, y0, x1, y1) = (min(x0, x), min(y0, y), max(x1, x), max(y1, y))
        } }
        guard x1 >= x0 else { return .infinity }
        var best = Double.infinity
        for oy in within.1..<(within.1 + within.3 - (y1 - y0)) {
            for ox in within.0..<(within.0 + within.2 - (x1 - x0)) {
                var sum = 0
                for y in y0...y1 { for x in x0...x1 {
                    sum += abs(Int(template.pixel(x, y).x) - Int(image.pixel(ox + x - x0, oy + y - y0).x))
                } }
                best = min(best, Double(sum) / Double((x1 - x0 + 1) * (y1 - y0 + 1)))
            }
        }
        return best
    }

    @Test func aJapaneseLabelledRenderShowsTheGlyphsNotBoxes() throws {
        let folder = try Fixtures.temporaryFolder("labelled")
        defer { try? FileManager.default.removeItem(at: folder) }
        let map = folder.appendingPathComponent("balls.nii.gz")
        let boneML = try Self.twoBalls(to: map)
        let size = 384
        for (language, word) in [("ja", "骨"), ("es", "hueso")] {
            let out = folder.appendingPathComponent(language)
            let run = try CommandLineTool.run(["render", "--labels", map.path, "--labelled", "--lang", language, "--size", "\(size)x\(size)",
                                               "--smooth", "2", "--out", out.path] + Self.shaders)
            #expect(run.status == 0, "\(run.standardError)")
            let picture = try RGBAImage.readPNG(from: out.appendingPathComponent("anterior.png"))
            // The legend's line, the word and the bone's volume, drawn by the same font at the size the labels use.
            let font = try FontFace.standard(japanese: true)
            let pixels = LabelOverlay.textPixels(height: size)
            let line = word + "  " + LabelOverlay.volumeText(boneML)
            var reference = RGBAImage(width: pixels * 12, height: pixels * 2, pixels: [UInt8](repeating: 0, count: pixels * 24 * pixels * 4))
            font.draw(line, into: &reference, x: 2, baseline: pixels * 3 / 2, pixels: pixels, color: RGBA(1, 1, 1))
            // A character the font lacks (a private-use one) is drawn as its box.
            var box = RGBAImage(width: pixels * 6, height: pixels * 2, pixels: [UInt8](repeating: 0, count: pixels * 12 * pixels * 4))
            font.draw("\u{E000}", into: &box, x: 2, baseline: pixels * 3 / 2, pixels: pixels, color: RGBA(1, 1, 1))
            #expect(!font.covers("\u{E000}") && font.covers(word))
            let legend = (0, 0, size / 2, size / 3)
            let found = Self.bestMatch(reference, in: picture, within: legend)
            let boxed = Self.bestMatch(box, in: picture, within: legend)
            #expect(found < 3, "\(language): '\(line)' found with a mean difference of \(found) grey levels")
            #expect(boxed > 10 * max(found, 1), "\(language): a box matches at \(boxed), the word at \(found)")
            let plain = try CommandLineTool.run(["render", "--labels", map.path, "--size", "\(size)x\(size)", "--smooth", "2",
                                                 "--out", folder.appendingPathComponent("\(language)-plain").path] + Self.shaders)
            let unlabelled = try RGBAImage.readPNG(from: folder.appendingPathComponent("\(language)-plain/anterior.png"))
            #expect(plain.status == 0 && unlabelled.pixels != picture.pixels, "the labels changed the picture")
        }
    }

    @Test func labelOptionsAreChecked() throws {
        let folder = try Fixtures.temporaryFolder("labelled-usage")
        defer { try? FileManager.default.removeItem(at: folder) }
        let map = folder.appendingPathComponent("balls.nii.gz")
        try Self.twoBalls(to: map)
        let out = folder.appendingPathComponent("out").path
        let usage: [([String], String)] = [
            (["render", "--labels", map.path, "--labelled", "--lang", "fr", "--out", out], "--lang"),
            (["render", "--labels", map.path, "--labelled", "--stereo", "--out", out], "--labelled"),
            (["render", Fixtures.sampleCT.path, "--labelled", "--out", out], "--labelled"),
        ]
        for (arguments, word) in usage {
            let result = try CommandLineTool.run(arguments + Self.shaders)
            #expect(result.status == 2 && result.standardError.contains(word), "\(arguments): \(result.status) \(result.standardError)")
        }
    }
}
