import Foundation
import VolumeCore

/// Where a structure around a seed ends, read along rays: the size-adaptive start of the tumor
/// and vessel presets.
///
/// From the seed, rays go out in `directions` directions spread evenly over the sphere (a
/// Fibonacci lattice). Each ray samples the volume every `stepMM` (trilinear) out to `reachMM`;
/// its profile is smoothed over `smoothingMM`, and its edge is the first place it leaves the
/// seed's level by more than four times the noise, moved to the steepest point within
/// `lookAheadMM` after it (where a
/// blurred step is steepest, i.e. half-way between its two levels): the first boundary met, not
/// a stronger one farther out (the lung's edge beyond a nodule, the skull beyond a tumour). The structure's level is the median of the profiles' values inside half the edge
/// distance; the surroundings' level is the median of their values from `gapMM` to
/// `gapMM` + 3 mm beyond the edge, past partial volume. Medians over the rays make one ray that
/// leaves through a neighbour (a lesion against the chest wall, a vessel's own axis) count for
/// little. Modality-free: it works on HU and on MR's arbitrary units alike.
public struct EdgeProbe: Sendable {
    public var directions = 98
    public var stepMM = 0.5
    public var reachMM = 40.0
    public var smoothingMM = 1.5
    public var gapMM = 2.0
    /// How far past the first departure the steepest point is looked for.
    public var lookAheadMM = 3.0
    /// A ray's edge this many times farther than its reliable neighbours' is not trusted.
    public var outlier = 1.5

    public init(reachMM: Double = 40) {
        self.reachMM = reachMM
    }

    public struct Result: Sendable, Equatable {
        /// Median distance from the seeds to the edge (mm), and its 90th percentile.
        public var radiusMM: Double
        public var extentMM: Double
        /// Median level inside and outside the edge.
        public var inside: Double
        public var outside: Double
        /// Spread of the values near the seeds (1.4826 × median absolute deviation, unsmoothed).
        public var noise: Double
        /// Rays that found an edge before `reachMM`.
        public var raysWithEdge: Int
        public var rays: Int
        /// Each ray's edge distance (mm; `reachMM` where it found none, -1 where the ray left the
        /// grid at once), seed by seed, in the order of `EdgeProbe.direction`.
        public var rayEdges: [[Double]]
        /// Whether each ray met the lesion's surroundings (its edge was measured, not borrowed).
        public var rayReliable: [[Bool]]

        /// Contrast in units of noise.
        public var contrastToNoise: Double { abs(inside - outside) / max(noise, 1e-9) }
    }

    /// The unit direction of ray `d` of `count` (a Fibonacci lattice on the sphere).
    public static func direction(_ d: Int, of count: Int) -> SIMD3<Double> {
        let z = 1 - 2 * (Double(d) + 0.5) / Double(count)
        let r = (1 - z * z).squareRoot(), phi = Double(d) * 2.399963229728653
        return SIMD3(r * cos(phi), r * sin(phi), z)
    }

    /// Probes from each seed; the rays of all seeds are pooled.
    public func probe(_ volume: AnyVolume, from seeds: [SIMD3<Double>]) -> Result {
        let sampler = Sampler(volume)
        let steps = max(2, Int((reachMM / stepMM).rounded(.down)))
        let window = max(1, Int((smoothingMM / stepMM / 2).rounded()))
        func median(_ values: [Double]) -> Double {
            guard !values.isEmpty else { return .nan }
            let sorted = values.sorted()
            return sorted[sorted.count / 2]
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            guard !values.isEmpty else { return .nan }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
        }
        // The profiles (raw), and the values within 3 mm of the seeds for the noise.
        var profiles: [[[Double]]] = []
        var near: [Double] = []
        let nearSteps = Int(3 / stepMM)
        for seed in seeds {
            var rows: [[Double]] = []
            for d in 0..<directions {
                let u = Self.direction(d, of: directions)
                var profile: [Double] = []
                profile.reserveCapacity(steps + 1)
                for s in 0...steps {
                    guard let v = sampler.value(at: seed + u * (Double(s) * stepMM)) else { break }
                    profile.append(v)
                    if s <= nearSteps { near.append(v) }
                }
                rows.append(profile)
            }
            profiles.append(rows)
        }
        let centre = median(near)
        let noise = near.isEmpty ? 0 : 1.4826 * median(near.map { abs($0 - centre) })
        // Each ray's edge: the first place its smoothed profile leaves the seed's level by more
        // than `departure`, moved on to the steepest point within `lookAheadMM`; its outside: the
        // median of the profile from `gapMM` to `gapMM` + 3 mm beyond. First with a departure
        // of four times the noise and the outside read over 10 mm; then again with half the
        // contrast to the surroundings that pass found (if larger), so that a lesion brighter at
        // its centre than at its rim is bounded where it meets its surroundings, not where it
        // starts to fade.
        var edges: [Double] = [], insides: [Double] = []
        var rayEdges: [[Double]] = [], rayOutside: [[Double]] = []
        var found = 0, rays = 0
        func pass(departure: Double, outsideMM: Double) {
            (edges, insides, rayEdges, rayOutside, rays) = ([], [], [], [], 0)
            for rows in profiles {
                var edgeRow = [Double](repeating: -1, count: directions), outsideRow = [Double](repeating: .nan, count: directions)
                for (d, profile) in rows.enumerated() {
                    let last = profile.count - 1
                    guard last >= 4 else { continue }
                    rays += 1
                    var smooth = [Double](repeating: 0, count: last + 1)
                    for s in 0...last {
                        let a = max(0, s - window), b = min(last, s + window)
                        smooth[s] = profile[a...b].reduce(0, +) / Double(b - a + 1)
                    }
                    var at = -1
                    let start = max(1, Int((1 / stepMM).rounded()))
                    if start < last, let first = (start..<last).first(where: { abs(smooth[$0] - centre) > departure }) {
                        var best = -1.0
                        for s in max(start, first - Int(2 / stepMM))...min(last - 1, first + Int(lookAheadMM / stepMM)) {
                            let g = abs(smooth[s + 1] - smooth[s - 1])
                            if g > best { (best, at) = (g, s) }
                        }
                    }
                    let edge = at > 0 ? Double(at) * stepMM : reachMM
                    edges.append(edge)
                    edgeRow[d] = edge
                    let innerEnd = max(0, at > 0 ? at / 2 : last / 2)
                    insides.append(smooth[0...innerEnd].reduce(0, +) / Double(innerEnd + 1))
                    let outerStart = at + Int((gapMM / stepMM).rounded()), outerEnd = min(last, outerStart + Int((outsideMM / stepMM).rounded()))
                    if at > 0 && outerStart <= outerEnd {
                        outsideRow[d] = median(Array(profile[outerStart...outerEnd]))
                    }
                }
                rayEdges.append(edgeRow)
                rayOutside.append(outsideRow)
            }
        }
        let noiseDeparture = max(4 * noise, 1e-6 * max(abs(centre), 1))
        pass(departure: noiseDeparture, outsideMM: 10)
        let firstOutside = median(rayOutside.flatMap { $0 }.filter { !$0.isNaN })
        if firstOutside.isFinite && 0.5 * abs(centre - firstOutside) > noiseDeparture {
            pass(departure: 0.5 * abs(centre - firstOutside), outsideMM: 3)
        } else {
            pass(departure: noiseDeparture, outsideMM: 3)
        }
        let inside = median(insides)
        // Rays whose outside differs from the inside (on the side most rays see) by at least three
        // times the noise and a tenth of the strongest contrasts met the lesion's surroundings; the
        // others left through a neighbour of about the lesion's own value (a chest wall, an
        // organ), and their edge is taken from the reliable rays within 45° (their median, at
        // most the median of all reliable rays: a lesion does not bulge into its neighbour).
        let contrasts = rayOutside.flatMap { $0 }.filter { !$0.isNaN }.map { inside - $0 }
        let polarity: Double = median(contrasts) < 0 ? -1 : 1
        let typical = percentile(contrasts.map { $0 * polarity }.filter { $0 > 0 }, 0.75)
        var reliable = [[Bool]](), outsides: [Double] = [], reliableEdges: [Double] = []
        for (s, row) in rayOutside.enumerated() {
            reliable.append(row.enumerated().map { d, value in
                !value.isNaN && typical.isFinite && (inside - value) * polarity >= max(3 * noise, 0.1 * typical) && rayEdges[s][d] < reachMM })
            for d in row.indices where reliable[s][d] {
                outsides.append(row[d])
                reliableEdges.append(rayEdges[s][d])
            }
            found += reliable[s].filter { $0 }.count
        }
        let units = (0..<directions).map { Self.direction($0, of: directions) }
        let fallback = median(reliableEdges)
        // A ray whose edge lies more than `outlier` times farther out than the median of the
        // reliable rays within 45° ran on through a neighbour of the lesion's own value and out
        // of its far side: it is not reliable either (a lesion's outline does not jump).
        for s in rayEdges.indices {
            let measured = rayEdges[s]
            for d in measured.indices where reliable[s][d] {
                let near = measured.indices.filter { $0 != d && reliable[s][$0] && (units[$0] * units[d]).sum() >= 0.7071 }.map { measured[$0] }
                if !near.isEmpty && measured[d] > outlier * median(near) {
                    reliable[s][d] = false
                    found -= 1
                }
            }
        }
        for s in rayEdges.indices {
            let measured = rayEdges[s]
            for d in measured.indices where !reliable[s][d] && measured[d] >= 0 {
                let near = measured.indices.filter { reliable[s][$0] && (units[$0] * units[d]).sum() >= 0.7071 }.map { measured[$0] }
                rayEdges[s][d] = fallback.isFinite ? (near.isEmpty ? fallback : min(median(near), fallback)) : measured[d]
            }
        }
        let all = rayEdges.flatMap { $0 }.filter { $0 >= 0 }
        return Result(radiusMM: median(all), extentMM: percentile(all, 0.9), inside: inside,
                      outside: outsides.isEmpty ? inside : median(outsides), noise: noise.isFinite ? noise : 0,
                      raysWithEdge: found, rays: rays, rayEdges: rayEdges, rayReliable: reliable)
    }

    /// Trilinear samples of a volume at patient positions (nil outside the grid).
    struct Sampler {
        let volume: AnyVolume
        let inverse: Matrix3
        let origin: SIMD3<Double>
        let spacing: SIMD3<Double>
        let dimensions: SIMD3<Int>

        init(_ volume: AnyVolume) {
            self.volume = volume
            let g = volume.geometry
            inverse = g.direction.transposed
            origin = g.origin
            spacing = g.spacing
            dimensions = g.dimensions
        }

        func value(at p: SIMD3<Double>) -> Double? {
            let c = (inverse * (p - origin)) / spacing
            guard c.x >= 0, c.y >= 0, c.z >= 0,
                  c.x <= Double(dimensions.x - 1), c.y <= Double(dimensions.y - 1), c.z <= Double(dimensions.z - 1) else { return nil }
            let i = min(Int(c.x), max(dimensions.x - 2, 0)), j = min(Int(c.y), max(dimensions.y - 2, 0)), k = min(Int(c.z), max(dimensions.z - 2, 0))
            let fx = c.x - Double(i), fy = c.y - Double(j), fz = c.z - Double(k)
            let i1 = min(i + 1, dimensions.x - 1), j1 = min(j + 1, dimensions.y - 1), k1 = min(k + 1, dimensions.z - 1)
            func at(_ x: Int, _ y: Int, _ z: Int) -> Double { volume.value(x, y, z) }
            let c00 = at(i, j, k) * (1 - fx) + at(i1, j, k) * fx
            let c10 = at(i, j1, k) * (1 - fx) + at(i1, j1, k) * fx
            let c01 = at(i, j, k1) * (1 - fx) + at(i1, j, k1) * fx
            let c11 = at(i, j1, k1) * (1 - fx) + at(i1, j1, k1) * fx
            return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz
        }
    }
}
