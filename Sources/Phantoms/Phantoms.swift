import Foundation
import VolumeCore

/// Ground truth for the segmentation presets: lesions and vessel trees drawn into a real CT, with
/// their exact masks (a voxel belongs to a shape when its centre lies inside it). Used by the
/// tests and by `vrprep bench segment --phantom`.
public enum Phantoms {
    /// An ellipsoid centred at `centre` with semi-axes `radii` along the patient axes (mm).
    public struct Ellipsoid: Sendable, Equatable {
        public var centre: SIMD3<Double>
        public var radii: SIMD3<Double>

        public init(centre: SIMD3<Double>, radii: SIMD3<Double>) {
            self.centre = centre
            self.radii = radii
        }

        public init(centre: SIMD3<Double>, diameter: Double) {
            self.init(centre: centre, radii: SIMD3(repeating: diameter / 2))
        }

        public func contains(_ p: SIMD3<Double>) -> Bool {
            let q = (p - centre) / radii
            return (q * q).sum() <= 1
        }
    }

    /// A tube segment with a radius going linearly from `r0` at `p0` to `r1` at `p1` (mm), with
    /// rounded ends (so that segments sharing an end join without a gap).
    public struct Segment: Sendable, Equatable {
        public var p0: SIMD3<Double>, p1: SIMD3<Double>
        public var r0: Double, r1: Double

        public init(_ p0: SIMD3<Double>, _ p1: SIMD3<Double>, r0: Double, r1: Double) {
            (self.p0, self.p1, self.r0, self.r1) = (p0, p1, r0, r1)
        }

        /// Distance from `p` to the segment's surface (negative inside).
        public func signedDistance(_ p: SIMD3<Double>) -> Double {
            let d = p1 - p0
            let t = max(0, min(1, ((p - p0) * d).sum() / max((d * d).sum(), 1e-12)))
            let q = p0 + d * t
            let r = r0 + (r1 - r0) * t
            return ((p - q) * (p - q)).sum().squareRoot() - r
        }

        var maxRadius: Double { max(r0, r1) }
    }

    /// The vessel tree drawn into the sample head CT by the tests: a trunk of radius 4 mm and
    /// branches down to 1.5 mm, in the brain; branch "B2" (1.5 mm) runs along the lateral wall of
    /// the skull about 2 mm from the bone.
    public static let headVesselTree: [(name: String, segment: Segment)] = [
        ("trunk", Segment(SIMD3(125, -110, 45), SIMD3(125, -110, 85), r0: 4, r1: 3.5)),
        ("A", Segment(SIMD3(125, -110, 85), SIMD3(160, -105, 95), r0: 3, r1: 2.5)),
        ("B1", Segment(SIMD3(160, -105, 95), SIMD3(184, -96, 105), r0: 2, r1: 1.5)),
        ("B2", Segment(SIMD3(184, -96, 105), SIMD3(184, -78, 105), r0: 1.5, r1: 1.5)),
        ("C", Segment(SIMD3(125, -110, 85), SIMD3(80, -120, 110), r0: 2.5, r1: 1.5)),
        ("D", Segment(SIMD3(125, -110, 65), SIMD3(125, -160, 80), r0: 2, r1: 1.5)),
    ]

    /// A 15 mm lesion in the sample head CT's brain (white matter of the right hemisphere).
    public static let headLesion = Ellipsoid(centre: SIMD3(95.7, -100.5, 105), diameter: 15)

    /// `volume` with the shapes added, with partial volume: each voxel gets `contrast` times the
    /// fraction of it inside a shape (from 4 × 4 × 4 sub-samples) added to its value, so the
    /// background's texture stays and edges are blurred as a scanner blurs them; then every voxel
    /// gets Gaussian noise of `noise` (standard deviation, same units) from a fixed random seed.
    /// Returns the volume and the exact mask (voxels whose centre lies inside a shape).
    public static func draw(into volume: Volume<Int16>, ellipsoids: [Ellipsoid] = [], segments: [Segment] = [],
                            contrast: Double, noise: Double, randomSeed: UInt64 = 1) -> (Volume<Int16>, Volume<UInt8>) {
        let g = volume.geometry
        var out = volume
        var mask = Volume<UInt8>(geometry: g, filledWith: 0)
        var done = Volume<UInt8>(geometry: g, filledWith: 0)
        func inside(_ p: SIMD3<Double>) -> Bool {
            ellipsoids.contains { $0.contains(p) } || segments.contains { $0.signedDistance(p) <= 0 }
        }
        // A lower bound of the distance from `p` to the shapes' surfaces (negative inside): voxels
        // farther from a surface than half their diagonal are wholly in or out.
        func distance(_ p: SIMD3<Double>) -> Double {
            var d = Double.infinity
            for e in ellipsoids {
                let q = (p - e.centre) / e.radii
                d = min(d, (((q * q).sum()).squareRoot() - 1) * (((q * q).sum()).squareRoot() >= 1 ? e.radii.min() : e.radii.max()))
            }
            for s in segments { d = min(d, s.signedDistance(p)) }
            return d
        }
        let halfDiagonal = (g.spacing * g.spacing).sum().squareRoot() / 2
        var boxes: [(SIMD3<Int>, SIMD3<Int>)] = []
        for e in ellipsoids { boxes.append(g.indexBox(around: e.centre, radius: e.radii.max() + 2)) }
        for s in segments {
            let centre = (s.p0 + s.p1) / 2
            boxes.append(g.indexBox(around: centre, radius: ((s.p1 - s.p0) * (s.p1 - s.p0)).sum().squareRoot() / 2 + s.maxRadius + 2))
        }
        let steps = 4
        for (low, high) in boxes where low.x <= high.x && low.y <= high.y && low.z <= high.z {
            for k in low.z...high.z {
                for j in low.y...high.y {
                    for i in low.x...high.x where done[i, j, k] == 0 {
                        done[i, j, k] = 1
                        let centre = g.patientPosition(ofIndex: SIMD3(i, j, k))
                        if inside(centre) { mask[i, j, k] = 1 }
                        let d = distance(centre)
                        if d > halfDiagonal { continue }
                        if d < -halfDiagonal {
                            out[i, j, k] = Int16(clamping: Int((Double(out[i, j, k]) + contrast).rounded()))
                            continue
                        }
                        var covered = 0
                        for c in 0..<(steps * steps * steps) {
                            let sub = SIMD3<Double>(Double(c % steps), Double((c / steps) % steps), Double(c / (steps * steps)))
                            let offset = (sub + 0.5) / Double(steps) - 0.5
                            if inside(g.patientPosition(ofIndex: SIMD3<Double>(Double(i), Double(j), Double(k)) + offset)) { covered += 1 }
                        }
                        if covered > 0 {
                            let added = contrast * Double(covered) / Double(steps * steps * steps)
                            out[i, j, k] = Int16(clamping: Int((Double(out[i, j, k]) + added).rounded()))
                        }
                    }
                }
            }
        }
        if noise > 0 {
            var random = SplitMix64(seed: randomSeed)
            for index in out.voxels.indices {
                let value = Double(out.voxels[index]) + random.gaussian() * noise
                out.voxels[index] = Int16(clamping: Int(value.rounded()))
            }
        }
        return (out, mask)
    }
}

/// A small, fast, seedable generator (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014), so that phantoms are the same on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal deviate (Box–Muller).
    public mutating func gaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300), u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
