import Foundation
import VolumeCore

/// Stereo pairs with off-axis (asymmetric) frusta: both eyes look parallel, shifted by half the
/// interpupillary distance, and each frustum is skewed so that the plane at the convergence
/// distance is the same window for both (zero disparity there, no vertical disparity anywhere).
public struct StereoRig: Sendable {
    /// Interpupillary distance in mm (scene units).
    public var ipd: Double
    /// Distance from the eyes to the zero-disparity plane, in mm; nil = the camera's target.
    public var convergence: Double?

    public init(ipd: Double = 64, convergence: Double? = nil) {
        self.ipd = ipd
        self.convergence = convergence
    }

    /// (eye offset along the camera's right vector, frustum shift at the near plane) for each eye.
    public func eyes(for camera: Camera) -> (left: (offset: Double, shift: Double), right: (offset: Double, shift: Double)) {
        let distance = convergence ?? (camera.target - camera.eye).length
        let half = ipd / 2
        let shift = half * camera.near / max(distance, 1e-6)
        return ((-half, shift), (half, -shift))
    }

    /// Left and right side by side.
    public static func sideBySide(_ left: RGBAImage, _ right: RGBAImage) -> RGBAImage {
        var pixels = [UInt8](repeating: 0, count: left.width * 2 * left.height * 4)
        let row = left.width * 4
        for y in 0..<left.height {
            pixels.replaceSubrange((y * 2 * row)..<(y * 2 * row + row), with: left.pixels[(y * row)..<((y + 1) * row)])
            pixels.replaceSubrange((y * 2 * row + row)..<((y + 1) * 2 * row), with: right.pixels[(y * row)..<((y + 1) * row)])
        }
        return RGBAImage(width: left.width * 2, height: left.height, pixels: pixels)
    }

    /// Red–cyan anaglyph: red from the left eye's luminance, green and blue from the right's.
    public static func anaglyph(_ left: RGBAImage, _ right: RGBAImage) -> RGBAImage {
        var pixels = right.pixels
        for i in stride(from: 0, to: pixels.count, by: 4) {
            let l = 0.299 * Double(left.pixels[i]) + 0.587 * Double(left.pixels[i + 1]) + 0.114 * Double(left.pixels[i + 2])
            let r = 0.299 * Double(right.pixels[i]) + 0.587 * Double(right.pixels[i + 1]) + 0.114 * Double(right.pixels[i + 2])
            pixels[i] = UInt8(min(255, l.rounded()))
            pixels[i + 1] = UInt8(min(255, r.rounded()))
            pixels[i + 2] = UInt8(min(255, r.rounded()))
            pixels[i + 3] = 255
        }
        return RGBAImage(width: left.width, height: left.height, pixels: pixels)
    }
}
