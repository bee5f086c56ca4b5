import Rendering
import Testing
import VolumeCore

/// The label overlay on pictures too small for it, with names wider than the picture and
/// structures outside the view: drawn clipped, never a trap.
@Suite struct LabelOverlayTests {
    @Test func labelsThatDoNotFitAreClippedNotATrap() throws {
        let font = try FontFace.standard(japanese: true)
        let camera = Camera.orbit(azimuth: 0, elevation: 0, box: (SIMD3(-10, -10, -10), SIMD3(10, 10, 10)))
        let inside: [SIMD3<Float>] = [SIMD3(0, 0, 0), SIMD3(1, 1, 1)]
        let far: [SIMD3<Float>] = [SIMD3(5000, 0, 0), SIMD3(0, -5000, 0)]
        let items = [LabelOverlay.Item(name: String(repeating: "腫瘍 tumour ", count: 20), color: RGBA(0.2, 0.8, 0.3), volumeML: 12345, points: inside),
                     LabelOverlay.Item(name: "bone", color: RGBA(0.9, 0.9, 0.8), volumeML: nil, points: far),
                     LabelOverlay.Item(name: "", color: RGBA(1, 0, 0), volumeML: 0.04, points: [])]
        for (width, height) in [(40, 20), (1, 1), (300, 12), (12, 300)] {
            var image = RGBAImage(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 4))
            LabelOverlay.draw(items, on: &image, camera: camera, font: font)
            #expect(image.pixels.count == width * height * 4)
        }
        var picture = RGBAImage(width: 200, height: 200, pixels: [UInt8](repeating: 0, count: 200 * 200 * 4))
        LabelOverlay.draw(items, on: &picture, camera: camera, font: font)
        #expect(picture.pixels.contains { $0 > 200 }, "something was written")
        #expect(LabelOverlay.volumeText(12.345) == "12.3 mL" && LabelOverlay.volumeText(2579.4) == "2579 mL")
    }
}
