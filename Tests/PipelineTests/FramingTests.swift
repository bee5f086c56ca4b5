import Foundation
import Pipeline
import Rendering
import ScenePackage
import Testing
import TestSupport
import VolumeCore

/// Pictures for patients and audiences: the anatomy fills the frame (issue "Pictures for patients
/// and audiences", framing), whatever the view, in volume renders and in the package's renders.
@Suite struct FramingTests {
    /// The box of the pixels that are not the background (its corner pixel), as fractions of the
    /// image's width and height: (x0, y0, x1, y1).
    static func anatomyBox(_ image: RGBAImage) -> (Double, Double, Double, Double)? {
        let background = image.pixel(0, 0)
        var (x0, y0, x1, y1) = (Int.max, Int.max, -1, -1)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = image.pixel(x, y)
                let difference = (0..<3).map { abs(Int(p[$0]) - Int(background[$0])) }.max()!
                if difference > 12 { (x0, y0, x1, y1) = (min(x0, x), min(y0, y), max(x1, x), max(y1, y)) }
            }
        }
        guard x1 >= 0 else { return nil }
        let (w, h) = (Double(image.width), Double(image.height))
        return (Double(x0) / w, Double(y0) / h, Double(x1 + 1) / w, Double(y1 + 1) / h)
    }

    /// The anatomy fills 80–90 % of the square frame's side (its larger extent) and is centred.
    static func checkFill(_ image: RGBAImage, _ what: String) {
        guard let (x0, y0, x1, y1) = anatomyBox(image) else {
            Issue.record("\(what): nothing drawn")
            return
        }
        let fill = max(x1 - x0, y1 - y0)
        #expect(fill >= 0.80 && fill <= 0.90, "\(what): the anatomy fills \(fill) of the frame (box \(x0), \(y0), \(x1), \(y1))")
        #expect(abs((x0 + x1) / 2 - 0.5) < 0.05 && abs((y0 + y1) / 2 - 0.5) < 0.05, "\(what): not centred: box \(x0), \(y0), \(x1), \(y1)")
    }

    @Test(arguments: Camera.View.allCases)
    func aVolumeRenderFillsTheFrameFromEveryView(view: Camera.View) throws {
        let folder = try Fixtures.temporaryFolder("framing-\(view.rawValue)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var request = RenderImages()
        request.study = [Fixtures.sampleCT.path]
        request.size = ImageSize(width: 256, height: 256)
        request.view = view
        request.shaders = Fixtures.root.appendingPathComponent("Shaders")
        let result = try request.run(writingTo: folder)
        Self.checkFill(try RGBAImage.readPNG(from: result.written[0].file), "ct-bone, \(view.rawValue)")
    }

    @Test func theStereoPairAndThumbnailOfAPackageFillTheirFrames() throws {
        let folder = try Fixtures.temporaryFolder("framing-package")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = PipelineTests.options()
        options.recipe = Recipe(structures: [.init(preset: .bone)])
        let out = folder.appendingPathComponent("p")
        _ = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: out)
        for kind in ["left", "right", "thumbnail"] {
            Self.checkFill(try RGBAImage.readPNG(from: out.appendingPathComponent("renders/anterior-\(kind).png")), "package, \(kind)")
        }
    }
}
