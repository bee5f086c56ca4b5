import Foundation
import VolumeCore

/// A 4×4 matrix of floats, column-major (as GL takes it).
public struct Matrix4: Equatable, Sendable {
    public var m: [Float]  // 16 values, column-major

    public static let identity = Matrix4(m: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])

    public subscript(row: Int, column: Int) -> Float {
        get { m[column * 4 + row] }
        set { m[column * 4 + row] = newValue }
    }

    public static func * (a: Matrix4, b: Matrix4) -> Matrix4 {
        var out = Matrix4(m: [Float](repeating: 0, count: 16))
        for r in 0..<4 { for c in 0..<4 { out[r, c] = (0..<4).reduce(0) { $0 + a[r, $1] * b[$1, c] } } }
        return out
    }

    public func transform(_ p: SIMD3<Double>) -> SIMD4<Double> {
        let v = [p.x, p.y, p.z, 1.0]
        let out = (0..<4).map { r in (0..<4).reduce(0.0) { $0 + Double(self[r, $1]) * v[$1] } }
        return SIMD4(out[0], out[1], out[2], out[3])
    }
}

/// Where the eye is and what it sees, in patient space (LPS mm).
public struct Camera: Equatable, Sendable {
    public var eye: SIMD3<Double>
    public var target: SIMD3<Double>
    public var up: SIMD3<Double>
    /// Vertical field of view in degrees; 0 = orthographic with `orthographicHeight` mm.
    public var fieldOfView: Double
    public var orthographicHeight: Double
    public var near: Double
    public var far: Double

    /// Anatomical views: the direction the camera looks along, and its up direction.
    public enum View: String, CaseIterable, Sendable {
        case anterior, posterior, left, right, superior, inferior

        /// (forward, up) in LPS: anterior looks from the front toward posterior, head up, so the
        /// patient's right is on the image's left.
        var axes: (SIMD3<Double>, SIMD3<Double>) {
            switch self {
            case .anterior: return (SIMD3(0, 1, 0), SIMD3(0, 0, 1))
            case .posterior: return (SIMD3(0, -1, 0), SIMD3(0, 0, 1))
            case .left: return (SIMD3(-1, 0, 0), SIMD3(0, 0, 1))
            case .right: return (SIMD3(1, 0, 0), SIMD3(0, 0, 1))
            case .superior: return (SIMD3(0, 0, -1), SIMD3(0, -1, 0))
            case .inferior: return (SIMD3(0, 0, 1), SIMD3(0, -1, 0))
            }
        }
    }

    /// A camera looking along `view` at a box, fitted so the whole box is in frame with a margin.
    public static func fitted(_ view: View, box: (SIMD3<Double>, SIMD3<Double>), fieldOfView: Double = 30,
                              aspect: Double = 1, margin: Double = 1.1) -> Camera {
        let (forward, up) = view.axes
        return fitted(forward: forward, up: up, box: box, fieldOfView: fieldOfView, aspect: aspect, margin: margin)
    }

    /// A camera orbiting a box, fitted to it: azimuth 0° looks from the front (anterior view),
    /// 90° from the patient's left, 180° from behind, 270° from the right (about the superior
    /// axis); elevation 90° looks from above, −90° from below.
    public static func orbit(azimuth: Double, elevation: Double, box: (SIMD3<Double>, SIMD3<Double>), fieldOfView: Double = 30,
                             aspect: Double = 1, margin: Double = 1.1) -> Camera {
        let (a, e) = (azimuth * .pi / 180, elevation * .pi / 180)
        let horizontal = SIMD3<Double>(sin(a), -cos(a), 0)  // from the centre toward the eye, level
        let toEye = horizontal * cos(e) + SIMD3(0, 0, sin(e))
        let up = SIMD3<Double>(0, 0, 1) * cos(e) - horizontal * sin(e)
        return fitted(forward: -toEye, up: up, box: box, fieldOfView: fieldOfView, aspect: aspect, margin: margin)
    }

    private static func fitted(forward: SIMD3<Double>, up: SIMD3<Double>, box: (SIMD3<Double>, SIMD3<Double>),
                               fieldOfView: Double, aspect: Double, margin: Double) -> Camera {
        let centre = (box.0 + box.1) / 2
        let radius = max(1e-3, (box.1 - box.0).length / 2) * margin
        let fit = fieldOfView > 0 ? radius / sin(fieldOfView * .pi / 360) / min(1, aspect) : radius * 3
        return Camera(eye: centre - forward * fit, target: centre, up: up, fieldOfView: fieldOfView,
                      orthographicHeight: 2 * radius / min(1, aspect), near: max(1e-3, fit - radius * 1.5), far: fit + radius * 1.5)
    }

    /// A camera looking along `view` that frames `points` (the visible anatomy: a mesh's
    /// vertices, the corners of a volume's visible bricks): their picture is centred and fills
    /// `fill` of the frame in its tighter direction (0.85: 85 % of the side of a square frame),
    /// perspective included. nil when there are no points.
    public static func framing(_ view: View, points: [SIMD3<Double>], fieldOfView: Double = 30, aspect: Double = 1,
                               fill: Double = 0.85) -> Camera? {
        let (forward, up) = view.axes
        return framing(forward: forward, up: up, points: points, fieldOfView: fieldOfView, aspect: aspect, fill: fill)
    }

    /// `orbit`'s camera at (azimuth, elevation), framing `points` as `framing` does.
    public static func framingOrbit(azimuth: Double, elevation: Double, points: [SIMD3<Double>], fieldOfView: Double = 30,
                                    aspect: Double = 1, fill: Double = 0.85) -> Camera? {
        guard !points.isEmpty else { return nil }
        var lo = points[0], hi = points[0]
        for p in points {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        let axes = orbit(azimuth: azimuth, elevation: elevation, box: (lo, hi))
        return framing(forward: (axes.target - axes.eye).normalized, up: axes.up, points: points, fieldOfView: fieldOfView,
                       aspect: aspect, fill: fill)
    }

    private static func framing(forward: SIMD3<Double>, up: SIMD3<Double>, points: [SIMD3<Double>], fieldOfView: Double,
                                aspect: Double, fill: Double) -> Camera? {
        guard var lo = points.first else { return nil }
        var hi = lo
        for p in points {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        let f = forward.normalized, right = f.cross(up).normalized
        let u = right.cross(f)
        var centre = (lo + hi) / 2
        let radius = max(1e-3, (hi - lo).length / 2)
        guard fieldOfView > 0 else {
            // Orthographic: the points' extent across and up, centred.
            var (x0, x1, y0, y1) = (Double.infinity, -Double.infinity, Double.infinity, -Double.infinity)
            for p in points {
                let d = p - centre
                (x0, x1) = (min(x0, d.dot(right)), max(x1, d.dot(right)))
                (y0, y1) = (min(y0, d.dot(u)), max(y1, d.dot(u)))
            }
            centre += right * (x0 + x1) / 2 + u * (y0 + y1) / 2
            let height = max((y1 - y0), (x1 - x0) / aspect, 1e-3) / fill
            return Camera(eye: centre - f * radius * 3, target: centre, up: u, fieldOfView: 0, orthographicHeight: height,
                          near: max(1e-3, radius), far: radius * 5)
        }
        // Each point at lateral offsets (x, y) and depth z beyond the target is in frame at
        // distance D when |x| / (D + z) ≤ tan(half width) · fill, and so for y: D is the largest
        // such bound. Then the picture is centred (its middle moved to the frame's) and D
        // found again; twice is enough for the small asymmetry perspective gives.
        let tanY = tan(fieldOfView * .pi / 360) * fill, tanX = tanY * aspect
        var distance = 0.0
        for _ in 0..<3 {
            distance = 0
            for p in points {
                let d = p - centre
                let z = d.dot(f)
                distance = max(distance, abs(d.dot(right)) / tanX - z, abs(d.dot(u)) / tanY - z)
            }
            let (low, high) = pictureExtent(points, centre: centre, distance: distance, forward: f, right: right, up: u)
            let middle = (low + high) / 2
            centre += (right * middle.x + u * middle.y) * distance
        }
        // The same fill once centred: the extent, not the larger half, sets the distance.
        let (low, high) = pictureExtent(points, centre: centre, distance: distance, forward: f, right: right, up: u)
        let spread = max((high.x - low.x) / 2 / tanX, (high.y - low.y) / 2 / tanY)
        if spread > 0 { distance *= spread }
        var (nearest, farthest) = (Double.infinity, 0.0)
        for p in points {
            let depth = distance + (p - centre).dot(f)
            (nearest, farthest) = (min(nearest, depth), max(farthest, depth))
        }
        return Camera(eye: centre - f * distance, target: centre, up: u, fieldOfView: fieldOfView, orthographicHeight: 2 * radius,
                      near: max(1e-3, nearest - radius * 0.25), far: farthest + radius * 0.25)
    }

    /// The smallest and largest picture coordinates (tangents across and up) of `points` seen
    /// from `distance` before `centre` along `forward`.
    private static func pictureExtent(_ points: [SIMD3<Double>], centre: SIMD3<Double>, distance: Double, forward: SIMD3<Double>,
                                      right: SIMD3<Double>, up: SIMD3<Double>) -> (SIMD2<Double>, SIMD2<Double>) {
        var low = SIMD2<Double>(repeating: .infinity), high = SIMD2<Double>(repeating: -.infinity)
        for p in points {
            let d = p - centre
            let depth = max(distance + d.dot(forward), 1e-6)
            let picture = SIMD2(d.dot(right), d.dot(up)) / depth
            low = pointwiseMin(low, picture)
            high = pointwiseMax(high, picture)
        }
        return (low, high)
    }

    /// The camera moved sideways by `offset` mm along its right vector (one eye of a stereo pair).
    public func shifted(by offset: Double) -> Camera {
        guard offset != 0 else { return self }
        let right = (target - eye).normalized.cross(up).normalized
        var moved = self
        moved.eye += right * offset
        moved.target += right * offset
        return moved
    }

    /// World (LPS mm) → eye coordinates (right-handed, looking down −z).
    public var viewMatrix: Matrix4 {
        let f = (target - eye).normalized
        let s = f.cross(up).normalized
        let u = s.cross(f)
        var m = Matrix4.identity
        for (c, v) in [s, u, -f].enumerated() {
            m[c, 0] = Float(v.x)
            m[c, 1] = Float(v.y)
            m[c, 2] = Float(v.z)
        }
        m[0, 3] = Float(-s.dot(eye))
        m[1, 3] = Float(-u.dot(eye))
        m[2, 3] = Float(f.dot(eye))
        return m
    }

    /// Projection for an image of `aspect` = width / height, with an optional horizontal shift of
    /// the frustum (off-axis stereo) in eye units at the near plane.
    public func projectionMatrix(aspect: Double, shift: Double = 0) -> Matrix4 {
        var m = Matrix4(m: [Float](repeating: 0, count: 16))
        let (n, f) = (near, far)
        if fieldOfView > 0 {
            let top = n * tan(fieldOfView * .pi / 360), right = top * aspect
            let (l, r) = (-right + shift, right + shift)
            m[0, 0] = Float(2 * n / (r - l))
            m[0, 2] = Float((r + l) / (r - l))
            m[1, 1] = Float(n / top)
            m[2, 2] = Float(-(f + n) / (f - n))
            m[2, 3] = Float(-2 * f * n / (f - n))
            m[3, 2] = -1
        } else {
            let top = orthographicHeight / 2, right = top * aspect
            m[0, 0] = Float(1 / right)
            m[1, 1] = Float(1 / top)
            m[2, 2] = Float(-2 / (f - n))
            m[2, 3] = Float(-(f + n) / (f - n))
            m[3, 3] = 1
        }
        return m
    }
}
