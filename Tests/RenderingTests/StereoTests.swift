import Foundation
@testable import Rendering
import Testing
import VolumeCore

/// The stereo rig: only horizontal disparity, none at the convergence distance.
@Suite struct StereoTests {
    static func project(_ p: SIMD3<Double>, _ camera: Camera, offset: Double, shift: Double) -> SIMD2<Double> {
        let eye = camera.shifted(by: offset)
        let c = (eye.projectionMatrix(aspect: 1, shift: shift) * eye.viewMatrix).transform(p)
        return SIMD2((c.x / c.w + 1) * 512, (1 - c.y / c.w) * 512)  // 1024 × 1024 pixels
    }

    @Test(arguments: Camera.View.allCases)
    func disparityIsHorizontalAndZeroAtConvergence(view: Camera.View) {
        let camera = Camera.fitted(view, box: (SIMD3(-80, -100, -60), SIMD3(90, 110, 70)))
        let rig = StereoRig(ipd: 64)
        let eyes = rig.eyes(for: camera)
        let forward = (camera.target - camera.eye).normalized
        for point in [SIMD3<Double>(10, -20, 30), SIMD3(-70, 90, -50), SIMD3(80, -90, 60)] {
            let l = Self.project(point, camera, offset: eyes.left.offset, shift: eyes.left.shift)
            let r = Self.project(point, camera, offset: eyes.right.offset, shift: eyes.right.shift)
            #expect(abs(l.y - r.y) <= 1, "vertical disparity \(abs(l.y - r.y)) px")
            // Nearer than the convergence plane: crossed disparity (left image point to the right).
            let depth = (point - camera.eye).dot(forward), convergence = (camera.target - camera.eye).length
            if depth < convergence - 1 { #expect(l.x > r.x) } else if depth > convergence + 1 { #expect(l.x < r.x) }
        }
        // A point on the convergence plane (the target) has no disparity.
        let l = Self.project(camera.target, camera, offset: eyes.left.offset, shift: eyes.left.shift)
        let r = Self.project(camera.target, camera, offset: eyes.right.offset, shift: eyes.right.shift)
        #expect(abs(l.x - r.x) < 1e-3 && abs(l.y - r.y) < 1e-3)  // pixels (float matrices)
        #expect(abs(l.x - 512) < 1e-3)
    }

    @Test func sideBySideAndAnaglyphKeepTheEyes() {
        let left = RGBAImage(width: 2, height: 1, pixels: [255, 255, 255, 255, 0, 0, 0, 255])
        let right = RGBAImage(width: 2, height: 1, pixels: [0, 0, 0, 255, 255, 255, 255, 255])
        let pair = StereoRig.sideBySide(left, right)
        #expect(pair.width == 4 && pair.pixel(0, 0).x == 255 && pair.pixel(2, 0).x == 0 && pair.pixel(3, 0).x == 255)
        let anaglyph = StereoRig.anaglyph(left, right)
        #expect(anaglyph.pixel(0, 0) == SIMD4(255, 0, 0, 255))
        #expect(anaglyph.pixel(1, 0) == SIMD4(0, 255, 255, 255))
    }
}
