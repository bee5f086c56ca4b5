import Foundation
import VolumeCore

/// A lesion on CT or MR from one seed (or a few) inside it, of any size and of either polarity.
///
/// 1. Size and contrast come from the image (`EdgeProbe`): rays from the seeds find where the
///    lesion ends (the strongest gradient along each), the lesion's level inside and the
///    surroundings' level beyond the edge (past partial volume), and the noise near the seeds.
///    Statistics are relative to the seed's neighbourhood, so MR works as CT does. A lesion whose
///    contrast is below `minimumContrastToNoise` times the noise of single voxels, whose edge
///    most rays miss, or (CT) whose rays meet bone before any edge cannot be bounded: the preset
///    fails and says so (never a ball). A soft-tissue lesion inside bone is not for this preset.
/// 2. The growth limit is 1.5 × the given radius, else 1.5 × the rays' 90th-percentile edge
///    distance (plus 3 mm), so a 5 mm nodule and a 9 cm mass each get their own.
/// 3. A region of interest (the limit plus a margin) is smoothed with a Gaussian (`smoothingMM`);
///    the boundary sits half-way between lesion and surroundings (where a blurred step's gradient
///    peaks), on the lesion's side of it whichever is brighter (liver metastases are darker than
///    liver), and the region grows from the seeds within that.
/// 4. Shape prior: no voxel beyond its own ray's edge by more than a quarter of that distance
///    (plus 2 mm) joins; where a ray left the lesion through a neighbour of about its own value
///    (a chest wall, an organ), its edge is borrowed from the rays around it, so the lesion does
///    not run into the neighbour. The leak guard (the limit) and an opening that cuts thin necks
///    remain.
/// 5. The boundary is smoothed (closing, hole filling, opening with a ball of `boundaryMM`) and
///    only the components holding a seed are kept. A region larger than three times the volume
///    the rays bound is not written: the preset fails (a leak).
/// 6. A lesion that fades from its centre towards its rim (an enhancing brain tumour on MR) has its
///    rays' first edges inside it. Before step 5, where the region at the half-way level stands
///    alone without the shape prior, the level is moved towards the surroundings while the region
///    stays compact (`fadingOutline`); if that reaches well beyond the first region, it is the
///    lesion's outline and the warnings say so.
public struct TumorPreset: Sendable {
    /// The lesion's expected radius (mm), if known.
    public var radiusMM: Double?
    /// Without a radius the growth limit comes from the lesion's extent, at most 4 × this (mm).
    public var defaultLimitMM: Double = 30
    public var smoothingMM: Double = 1.0
    public var multiplier: Double = 2.5
    public var boundaryMM: Double = 1.0
    public var minimumContrastToNoise: Double = 2
    /// A lesion that fades towards its rim is followed at most this far from the seeds (mm), or
    /// to its growth limit if that is farther.
    public var fadeReachMM: Double = 60
    public var threads: Int?

    public init(radiusMM: Double? = nil) {
        self.radiusMM = radiusMM
    }

    public static let label = LabelInfo(value: 4, name: "tumor", color: RGBA(0.86, 0.24, 0.2))

    public struct Result: Sendable {
        public var mask: Volume<UInt8>
        public var voxelCount: Int
        public var volumeML: Double
        /// The largest distance across the lesion (mm): between boundary voxel centres, plus half a
        /// voxel's extent along it.
        public var maximalDiameterMM: Double
        public var seeds: [ResolvedSeed]
        /// Statistics of the (smoothed) values in the ball around the seeds.
        public var seedMean: Double
        public var seedSigma: Double
        public var seedVoxels: Int
        /// Mean of the first region, and median of the shell around it.
        public var lesionMean: Double
        public var surroundingMedian: Double
        /// The interval of the final growth.
        public var lower: Double
        public var upper: Double
        public var limitMM: Double
        /// True when the region reached the limit (a leak, stopped there).
        public var reachedLimit: Bool
        /// What the rays found: the median edge distance and its 90th percentile (mm).
        public var probe: EdgeProbe.Result
        public var warnings: [Notice]
    }

    public func run(_ volume: AnyVolume, modality: String, seeds: [Seed]) throws(SegmentationError) -> Result {
        guard !seeds.isEmpty else { throw .noSeeds }
        if let radiusMM, !(radiusMM > 0) {
            throw .refused(.radiusNotPositive, ["radius": format(radiusMM)], "radius: must be more than 0 mm (the lesion's expected radius), not \(format(radiusMM))")
        }
        guard smoothingMM >= 0, multiplier > 0, boundaryMM >= 0, defaultLimitMM > 0 else {
            throw .invalidParameter(name: "tumor preset", reason: "smoothing and boundary must be ≥ 0 mm, the multiplier and limit > 0")
        }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }
        if modality == "CT" {
            let around = Statistics.values(of: volume, within: 2.5, of: resolved)
            let rawMean = around.reduce(0, +) / Double(max(around.count, 1))
            let place = resolved[0].given.description
            if rawMean < -300 {
                throw .refused(.seedInAir, ["seed": place, "mean": format(rawMean.rounded())],
                               "seed \(place): lies in air or lung (mean \(format(rawMean.rounded())) HU around it): place the seed inside the lesion")
            }
            if rawMean > 400 {
                throw .refused(.seedInCalcification, ["seed": place, "mean": format(rawMean.rounded())],
                               "seed \(place): lies in bone or calcification (mean \(format(rawMean.rounded())) HU around it): place the seed inside the soft-tissue lesion")
            }
        }
        let g = volume.geometry
        let probe = EdgeProbe(reachMM: radiusMM.map { max(10, 2.5 * $0) } ?? 80).probe(volume, from: resolved.map(\.patient))
        let place = resolved[0].given.description
        // The noise of single voxels (the rays' samples are interpolated, hence smoother).
        let near = Statistics.values(of: volume, within: 3, of: resolved).sorted()
        let centre = near[near.count / 2]
        let noise = max(1.4826 * near.map { abs($0 - centre) }.sorted()[near.count / 2], 1e-9)
        let contrastToNoise = abs(probe.inside - probe.outside) / noise
        guard contrastToNoise >= minimumContrastToNoise, 3 * probe.raysWithEdge >= probe.rays else {
            let v = ["seed": place, "inside": format(probe.inside.rounded()), "outside": format(probe.outside.rounded()), "noise": format(noise.rounded()),
                     "ratio": format((contrastToNoise * 10).rounded() / 10), "needed": format(minimumContrastToNoise),
                     "edges": String(probe.raysWithEdge), "rays": String(probe.rays)]
            throw .refused(.tooFaint, v, "the lesion at \(place) is too faint to bound: inside \(v["inside"]!) against \(v["outside"]!) around it, " +
                "with noise of \(v["noise"]!) (contrast-to-noise \(v["ratio"]!), at least \(v["needed"]!) needed); \(v["edges"]!) of \(v["rays"]!) rays " +
                "found an edge. No region was written: check the seed, or outline this lesion by hand")
        }
        if modality == "CT" && probe.outside > 300 && probe.inside < 300 {
            let (hu, out) = (format(probe.outside.rounded()), format(probe.radiusMM.rounded()))
            throw .refused(.raysMetBone, ["seed": place, "hu": hu, "distanceMM": out],
                           "the lesion at \(place) is too faint to bound: the rays met bone (\(hu) HU, \(out) mm out) before any edge of a lesion. " +
                               "No region was written: check the seed, or outline this lesion by hand")
        }
        let limit = radiusMM.map { 1.5 * $0 } ?? min(defaultLimitMM * 4, 1.5 * probe.extentMM + 3)
        // How far the outline of a lesion that fades towards its rim may be followed (step 6).
        let fadeLimit = radiusMM == nil ? max(limit, min(3 * limit, fadeReachMM)) : limit
        let margin = 3 * smoothingMM + 2 * g.spacing.max()
        /// The smoothed region of interest within `radius` of the seeds (and its first voxel).
        func interest(_ radius: Double) -> (Volume<Float>, SIMD3<Int>) {
            var low = g.dimensions &- 1, high = SIMD3<Int>.zero
            for seed in resolved {
                let box = g.indexBox(around: seed.patient, radius: radius + margin)
                low = pointwiseMin(low, box.0)
                high = pointwiseMax(high, box.1)
            }
            let raw: Volume<Float>
            switch volume {
            case .int16(let v):
                let part = v.cropped(low: low, high: high)
                raw = Volume(geometry: part.geometry, voxels: part.voxels.map { Float($0) })
            case .float32(let v): raw = v.cropped(low: low, high: high)
            }
            return (Smoothing.gaussian(raw, sigmaMM: smoothingMM, threads: threads), low)
        }
        var (smooth, low) = interest(limit)
        var local = resolved.map { $0.index &- low }

        // Seed statistics.
        let ball = max(1.5, min((radiusMM ?? probe.radiusMM) / 2, 6))
        var sum = 0.0, squares = 0.0, count = 0
        forEachVoxel(in: smooth.geometry, within: ball, of: resolved.map(\.patient)) { index in
            let v = Double(smooth.voxels[index])
            sum += v
            squares += v * v
            count += 1
        }
        if count == 0 {
            for seed in local {
                let index = smooth.geometry.offset(seed.x, seed.y, seed.z)
                sum += Double(smooth.voxels[index])
                squares += Double(smooth.voxels[index] * smooth.voxels[index])
                count += 1
            }
        }
        let seedMean = sum / Double(count)
        let seedSigma = max(0, squares / Double(count) - seedMean * seedMean).squareRoot()
        let floor = max(1e-6, 0.01 * abs(seedMean))
        let sigma = max(seedSigma, floor)
        var warnings: [Notice] = []

        let grower = RegionGrowing(connectivity: .six, limits: GrowthLimits(maxDistanceMM: limit), threads: threads)
        let roiSeeds = local.map { Seed.voxel($0) }
        let smoothVolume = AnyVolume.float32(smooth)
        let seedValues = local.map { Double(smooth[$0.x, $0.y, $0.z]) }
        let lesionMean = probe.inside, surrounding = probe.outside
        // The edge half-way; on the other side as wide a margin (or the lesion's spread), so that
        // a heterogeneous lesion does not lose its brightest (or darkest) parts.
        let bright = lesionMean > surrounding
        let edge = (lesionMean + surrounding) / 2, spread = max(abs(lesionMean - edge), multiplier * sigma)
        var lower: Double, upper: Double
        if bright {
            (lower, upper) = (edge, max(lesionMean + spread, seedValues.max()!))
        } else {
            (lower, upper) = (min(lesionMean - spread, seedValues.min()!), edge)
        }
        if abs(lesionMean - surrounding) < 2 * sigma {
            let (lesion, around) = (format(lesionMean.rounded()), format(surrounding.rounded()))
            warnings.append(Notice(.lowContrast, ["lesion": lesion, "surroundings": around],
                                   text: "low contrast: lesion \(lesion) against \(around) around it; the boundary is uncertain"))
        }
        for (seed, value) in zip(resolved, seedValues) where !(value >= lower && value <= upper) {
            let v = ["seed": seed.given.description, "value": format(value.rounded()), "lower": format(lower.rounded()), "upper": format(upper.rounded())]
            throw .refused(.seedOnSurroundings, v, "seed \(seed.given): its smoothed value \(v["value"]!) lies on the surroundings' side of the lesion's edge " +
                               "(\(v["lower"]!)…\(v["upper"]!)): place it nearer the lesion's centre")
        }
        let prior = Self.starPrior(smooth, lower: lower, upper: upper, seeds: resolved.map(\.patient), probe: probe,
                                   directions: EdgeProbe().directions)
        var region = try grower.grow(smoothVolume, seeds: roiSeeds, criterion: .intervalInMask(lower: lower, upper: upper, mask: prior)).mask

        // Leak guard: did the region reach the limit?
        let reach = limit - 1.5 * g.spacing.max()
        var reachedLimit = false
        outer: for k in 0..<region.dimensions.z {
            for j in 0..<region.dimensions.y {
                for i in 0..<region.dimensions.x where region[i, j, k] != 0 {
                    let p = region.geometry.patientPosition(ofIndex: SIMD3(i, j, k))
                    if resolved.allSatisfy({ ($0.patient - p).length >= reach }) {
                        reachedLimit = true
                        break outer
                    }
                }
            }
        }
        if reachedLimit {
            warnings.append(Notice(.leakGuardLimit, ["limitMM": format(limit)],
                                   text: "leak guard: the region reached the \(format(limit)) mm limit around the seeds, so the lesion " +
                                       "touches tissue of the same intensity; growth stopped there and the join was cut" +
                                       (radiusMM == nil ? " (give --radius-mm to set the limit)" : "")))
            let opened = MaskComponents.keepConnected(Morphology.open(region, radius: max(2 * boundaryMM, 2), threads: threads), to: local,
                                                      connectivity: .six, threads: threads)
            if opened.voxels.contains(where: { $0 != 0 }) { region = opened }
        }

        // A lesion that fades from a bright (dark) centre towards its rim: its rays' first edges lay
        // inside it. Followed outwards level by level while it stays compact.
        var fadedTo: Double?
        if radiusMM == nil {
            let step = max(sigma, abs(edge - surrounding) / 8)
            var outline = try fadingOutline(smoothVolume, seeds: roiSeeds, first: region, edge: edge, bound: bright ? upper : lower,
                                            step: step, bright: bright, limit: limit, canWiden: fadeLimit > limit)
            if case .reachedLimit = outline {
                // Followed farther, in a larger region of interest.
                let (wider, widerLow) = interest(fadeLimit)
                var first = Volume<UInt8>(geometry: wider.geometry, filledWith: 0)
                first.paste(region, at: low &- widerLow)
                let widerSeeds = resolved.map { Seed.voxel($0.index &- widerLow) }
                outline = try fadingOutline(.float32(wider), seeds: widerSeeds, first: first, edge: edge, bound: bright ? upper : lower,
                                            step: step, bright: bright, limit: fadeLimit, canWiden: false)
                if case .found = outline { (smooth, low) = (wider, widerLow) }
            }
            if case .found(let mask, let level) = outline {
                region = mask
                local = resolved.map { $0.index &- low }
                fadedTo = level
                if bright { lower = level } else { upper = level }
                // It was the lesion's rim, not a neighbour, that the limit met.
                warnings.removeAll { $0.code == .leakGuardLimit }
                let (out, half) = (format(level.rounded()), format(edge.rounded()))
                warnings.append(Notice(.lesionFades, ["level": out, "edge": half],
                                       text: "the lesion fades towards its rim: its outline was followed out to \(out) " +
                                           "(\(half) half-way from its centre), where it still stays compact"))
            }
        }

        // Boundary smoothing.
        var smoothed = Morphology.close(region, radius: boundaryMM, threads: threads)
        smoothed = Morphology.fillHoles(smoothed, threads: threads)
        smoothed = Morphology.open(smoothed, radius: boundaryMM, threads: threads)
        smoothed = MaskComponents.keepConnected(smoothed, to: local, connectivity: .six, threads: threads)
        if smoothed.voxels.contains(where: { $0 != 0 }) { region = smoothed }

        let voxels = region.voxels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        // Never more than three times what the rays bound (the star-shaped volume they outline;
        // with several seeds, the largest).
        let bounded = probe.rayEdges.map { edges in
            edges.filter { $0 >= 0 }.reduce(0) { $0 + $1 * $1 * $1 } * 4 * .pi / 3 / Double(max(edges.count, 1)) / 1000
        }.max() ?? 0
        let grownML = Double(voxels) * g.voxelVolume / 1000
        if radiusMM == nil && fadedTo == nil && grownML > 3 * bounded {
            let (ml, outlined) = (format(grownML.rounded()), format((bounded * 10).rounded() / 10))
            throw .refused(.unbounded, ["seed": place, "ml": ml, "outlinedML": outlined],
                           "the lesion at \(place) could not be bounded: the region grew to \(ml) mL, more than three times the \(outlined) mL its edges " +
                               "outline, so it leaked into the surroundings. No region was written: give --radius-mm, add seeds, or outline this lesion by hand")
        }
        var mask = Volume<UInt8>(geometry: g, filledWith: 0)
        mask.paste(region, at: low)
        return Result(mask: mask, voxelCount: voxels, volumeML: Double(voxels) * g.voxelVolume / 1000,
                      maximalDiameterMM: Self.maximalDiameter(region), seeds: resolved, seedMean: seedMean,
                      seedSigma: seedSigma, seedVoxels: count, lesionMean: lesionMean, surroundingMedian: surrounding,
                      lower: lower, upper: upper, limitMM: limit, reachedLimit: reachedLimit, probe: probe, warnings: warnings)
    }

    /// What following a fading outline gave.
    private enum FadingOutline {
        /// The lesion's outline at `level`.
        case found(Volume<UInt8>, level: Double)
        /// The region, without the prior, reached the limit while still compact.
        case reachedLimit
        /// A sharp edge, or a lesion joined to a neighbour: the first region stands.
        case none
    }

    /// Step 6 of the preset: the outline of a lesion that fades towards its rim. Without the shape
    /// prior, the region from the seeds within the half-way level must stay inside `limit` (else
    /// the lesion touches a neighbour of its own value and the prior's region stands). The level
    /// is then moved towards the surroundings by `step` at a time while the region grows by less
    /// than half at each step and stays inside the limit; the level one step short of the last
    /// compact one is taken (a margin against the noise near the surroundings' level). Taken only
    /// if it reaches more than max(3 mm, 2 voxels) beyond `first`: a lesion with a sharp edge
    /// gains just its partial-volume shell by this, and keeps its first region. The caller first
    /// tries the growth limit's region of interest and, on `.reachedLimit`, a wider one.
    private func fadingOutline(_ smooth: AnyVolume, seeds: [Seed], first: Volume<UInt8>, edge: Double, bound: Double, step: Double,
                               bright: Bool, limit: Double, canWiden: Bool) throws(SegmentationError) -> FadingOutline {
        let g = first.geometry
        let firstVoxels = first.voxels.reduce(0) { $0 + Int($1) }
        guard firstVoxels > 0, step > 0 else { return .none }
        let centres = seeds.map { seed -> SIMD3<Double> in
            if case .voxel(let index) = seed { return g.patientPosition(ofIndex: index) }
            return g.origin
        }
        let rim = limit - 1.5 * g.spacing.max()
        /// The region at `level`; nil when it passes `most` voxels or reaches the limit.
        func grown(_ level: Double, most voxels: Int) throws(SegmentationError) -> (GrowthResult?, reachedLimit: Bool) {
            var limits = GrowthLimits(maxDistanceMM: limit)
            limits.maxVolumeML = Double(voxels) * g.voxelVolume / 1000
            let grower = RegionGrowing(connectivity: .six, limits: limits, threads: threads)
            let interval = bright ? (level, bound) : (bound, level)
            let result = try grower.grow(smooth, seeds: seeds, criterion: .interval(lower: interval.0, upper: interval.1))
            guard !result.stoppedByVolumeLimit else { return (nil, false) }
            let m = result.mask, d = m.dimensions
            for k in 0..<d.z {
                for j in 0..<d.y {
                    for i in 0..<d.x where m.voxels[m.geometry.offset(i, j, k)] != 0 {
                        let p = g.patientPosition(ofIndex: SIMD3(i, j, k))
                        if centres.allSatisfy({ ($0 - p).length >= rim }) { return (nil, true) }
                    }
                }
            }
            return (result, false)
        }
        let (start, reached) = try grown(edge, most: 8 * firstVoxels)
        guard var previous = start else { return reached && canWiden ? .reachedLimit : .none }
        var history: [(GrowthResult, Double)] = [(previous, edge)]
        for n in 1...24 {
            let level = edge + (bright ? -1 : 1) * Double(n) * step
            let (next, reachedLimit) = try grown(level, most: previous.voxelCount + previous.voxelCount / 2)
            // The limit met before the region stopped being compact: a wider look may follow it.
            if reachedLimit && canWiden { return .reachedLimit }
            guard let next else { break }
            history.append((next, level))
            previous = next
        }
        guard history.count >= 3 else { return .none }
        let (chosen, level) = history[history.count - 2]
        let beyond = Morphology.squaredDistance(to: first, inside: true, threads: threads)
        var farthest: Float = 0
        for i in chosen.mask.voxels.indices where chosen.mask.voxels[i] != 0 { farthest = max(farthest, beyond[i]) }
        let needed = max(3, 2 * g.spacing.min())
        guard Double(farthest.squareRoot()) > needed else { return .none }
        return .found(chosen.mask, level: level)
    }

    /// The shape prior: voxels in [lower, upper] no farther from a seed than its ray's edge (the
    /// ray nearest in direction) by more than a quarter of that distance plus 2 mm.
    static func starPrior(_ v: Volume<Float>, lower: Double, upper: Double, seeds: [SIMD3<Double>], probe: EdgeProbe.Result,
                          directions: Int) -> Volume<UInt8> {
        let g = v.geometry
        let units = (0..<directions).map { EdgeProbe.direction($0, of: directions) }
        var out = Volume<UInt8>(geometry: g, filledWith: 0)
        let (lo, hi) = (Float(lower), Float(upper))
        let allowances = probe.rayEdges.map { $0.map { $0 >= 0 ? 1.25 * $0 + 2 : -1 } }
        let nearest = allowances.map { $0.filter { $0 >= 0 }.min() ?? 0 }, farthest = allowances.map { $0.max() ?? 0 }
        let d = g.dimensions
        for k in 0..<d.z {
            for j in 0..<d.y {
                for i in 0..<d.x {
                    let index = g.offset(i, j, k)
                    let value = v.voxels[index]
                    guard value >= lo && value <= hi else { continue }
                    let p = g.patientPosition(ofIndex: SIMD3(i, j, k))
                    for (s, seed) in seeds.enumerated() {
                        let offset = p - seed, distance = offset.length
                        // Within every ray's allowance, or beyond all of them: no search needed.
                        if distance < 2 || distance <= nearest[s] { out.voxels[index] = 1; break }
                        if distance > farthest[s] { continue }
                        var best = -2.0, ray = 0
                        for (r, u) in units.enumerated() {
                            let dot = (u * offset).sum()
                            if dot > best { (best, ray) = (dot, r) }
                        }
                        let edge = probe.rayEdges[s][ray]
                        if edge >= 0 && distance <= 1.25 * edge + 2 { out.voxels[index] = 1; break }
                    }
                }
            }
        }
        return out
    }

    /// Calls `body` with the offset of every voxel whose centre is within `radius` mm of a point.
    private func forEachVoxel(in g: VolumeGeometry, within radius: Double, of points: [SIMD3<Double>], _ body: (Int) -> Void) {
        for point in points {
            let (low, high) = g.indexBox(around: point, radius: radius)
            guard low.x <= high.x, low.y <= high.y, low.z <= high.z else { continue }
            for k in low.z...high.z {
                for j in low.y...high.y {
                    for i in low.x...high.x {
                        let p = g.patientPosition(ofIndex: SIMD3(i, j, k))
                        let nearest = points.min { ($0 - p).length < ($1 - p).length }!
                        // Each voxel once: counted for the nearest point only.
                        if (point - p).length <= radius && nearest == point { body(g.offset(i, j, k)) }
                    }
                }
            }
        }
    }

    /// The largest distance across the mask (mm; see `Result.maximalDiameterMM`): exact up to
    /// 4,000 boundary voxels, else between the extreme voxels along 98 directions and all others.
    static func maximalDiameter(_ mask: Volume<UInt8>) -> Double {
        let edge = Overlap.boundary(mask)
        var points: [SIMD3<Double>] = []
        for k in 0..<edge.dimensions.z {
            for j in 0..<edge.dimensions.y {
                for i in 0..<edge.dimensions.x where edge[i, j, k] != 0 {
                    points.append(edge.geometry.patientPosition(ofIndex: SIMD3(i, j, k)))
                }
            }
        }
        guard points.count > 1 else { return points.isEmpty ? 0 : edge.spacing.max() }
        var candidates = points
        if points.count > 4000 {
            var extremes = Set<Int>()
            let n = 49
            for d in 0..<n {  // a Fibonacci half-sphere: both ends of each direction are taken
                let z = 1 - (Double(d) + 0.5) / Double(n), r = (1 - z * z).squareRoot(), phi = Double(d) * 2.399963229728653
                let u = SIMD3(r * cos(phi), r * sin(phi), z)
                let dots = points.map { ($0 * u).sum() }
                extremes.insert(dots.indices.max { dots[$0] < dots[$1] }!)
                extremes.insert(dots.indices.min { dots[$0] < dots[$1] }!)
            }
            candidates = extremes.map { points[$0] }
        }
        var best = 0.0, pair = (points[0], points[0])
        for a in candidates {
            for b in points {
                let d = ((a - b) * (a - b)).sum()
                if d > best {
                    best = d
                    pair = (a, b)
                }
            }
        }
        // Centre-to-centre distance plus half a voxel's extent along that direction: the centres
        // of a digitised ball lie on average a quarter voxel inside its surface at each end.
        let direction = (pair.1 - pair.0) / max(best.squareRoot(), 1e-12)
        return best.squareRoot() + 0.5 * voxelExtent(direction, mask.geometry)
    }

    /// The extent of one voxel along a unit direction (mm): Σ |d · axis_i| · spacing_i.
    static func voxelExtent(_ direction: SIMD3<Double>, _ g: VolumeGeometry) -> Double {
        let axes = [g.direction.column(0), g.direction.column(1), g.direction.column(2)]
        return (0..<3).reduce(0) { $0 + abs((direction * axes[$1]).sum()) * g.spacing[$1] }
    }
}
