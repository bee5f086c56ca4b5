import Foundation
import VolumeCore

/// A lesion on CT or MR from one seed (or a few) inside it.
///
/// 1. A region of interest around the seeds (the growth limit plus a margin) is smoothed with a
///    Gaussian (`smoothingMM`), which takes most of the noise out of the intensities.
/// 2. The seeds' statistics come from a ball around them (half the given radius, else 2.5 mm);
///    a first region grows within mean ± `multiplier`·σ of them (confidence growing).
/// 3. Edge: the surroundings' intensity is the median of a shell outside that region, beyond the
///    reach of the smoothing and of partial volume (1.5 mm + 2 × `smoothingMM`, 3 mm thick); the
///    final boundary sits half-way between lesion and surroundings (where a blurred step's
///    gradient magnitude peaks), and the region grows again within that.
/// 4. Leak guard: no voxel farther than the limit from a seed (1.5 × the radius, else
///    `defaultLimitMM`) joins; a region that reaches the limit has leaked into tissue of the same
///    intensity: it is opened to cut the neck, and the result says so.
/// 5. The boundary is smoothed (closing, hole filling, opening with a ball of `boundaryMM`) and
///    only the components holding a seed are kept.
public struct TumorPreset: Sendable {
    /// The lesion's expected radius (mm), if known.
    public var radiusMM: Double?
    /// The growth limit around the seeds when no radius is given (mm).
    public var defaultLimitMM: Double = 30
    public var smoothingMM: Double = 1.0
    public var multiplier: Double = 2.5
    public var boundaryMM: Double = 1.0
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
        public var warnings: [String]
    }

    public func run(_ volume: AnyVolume, modality: String, seeds: [Seed]) throws(SegmentationError) -> Result {
        guard !seeds.isEmpty else { throw .noSeeds }
        if let radiusMM, !(radiusMM > 0) {
            throw .invalidParameter(name: "radius", reason: "must be more than 0 mm (the lesion's expected radius), not \(format(radiusMM))")
        }
        guard smoothingMM >= 0, multiplier > 0, boundaryMM >= 0, defaultLimitMM > 0 else {
            throw .invalidParameter(name: "tumor preset", reason: "smoothing and boundary must be ≥ 0 mm, the multiplier and limit > 0")
        }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }
        let g = volume.geometry
        let limit = radiusMM.map { 1.5 * $0 } ?? defaultLimitMM
        let margin = 3 * smoothingMM + 2 * g.spacing.max()
        var low = g.dimensions &- 1, high = SIMD3<Int>.zero
        for seed in resolved {
            let box = g.indexBox(around: seed.patient, radius: limit + margin)
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
        let smooth = Smoothing.gaussian(raw, sigmaMM: smoothingMM, threads: threads)
        let local = resolved.map { $0.index &- low }

        // Seed statistics.
        let ball = radiusMM.map { max(1.5, min($0 / 2, 6)) } ?? 2.5
        var rawSum = 0.0, sum = 0.0, squares = 0.0, count = 0
        forEachVoxel(in: smooth.geometry, within: ball, of: resolved.map(\.patient)) { index in
            rawSum += Double(raw.voxels[index])
            let v = Double(smooth.voxels[index])
            sum += v
            squares += v * v
            count += 1
        }
        if count == 0 {
            for seed in local {
                let index = smooth.geometry.offset(seed.x, seed.y, seed.z)
                rawSum += Double(raw.voxels[index])
                sum += Double(smooth.voxels[index])
                squares += Double(smooth.voxels[index] * smooth.voxels[index])
                count += 1
            }
        }
        let seedMean = sum / Double(count), rawMean = rawSum / Double(count)
        let seedSigma = max(0, squares / Double(count) - seedMean * seedMean).squareRoot()
        if modality == "CT" {
            let place = resolved[0].given.description
            if rawMean < -300 {
                throw .invalidParameter(name: "seed \(place)", reason: "lies in air or lung (mean \(format(rawMean.rounded())) HU around it): place the seed inside the lesion")
            }
            if rawMean > 400 {
                throw .invalidParameter(name: "seed \(place)", reason: "lies in bone or calcification (mean \(format(rawMean.rounded())) HU around it): place the seed inside the soft-tissue lesion")
            }
        }
        let floor = max(1e-6, 0.01 * abs(seedMean))
        let sigma = max(seedSigma, floor)
        var warnings: [String] = []

        // First region: the seeds' confidence interval.
        let grower = RegionGrowing(connectivity: .six, limits: GrowthLimits(maxDistanceMM: limit), threads: threads)
        let roiSeeds = local.map { Seed.voxel($0) }
        let smoothVolume = AnyVolume.float32(smooth)
        let seedValues = local.map { Double(smooth[$0.x, $0.y, $0.z]) }
        let first = try grower.grow(smoothVolume, seeds: roiSeeds, criterion: .interval(
            lower: min(seedMean - multiplier * sigma, seedValues.min()!), upper: max(seedMean + multiplier * sigma, seedValues.max()!)))
        // The surroundings: a shell beyond the smoothing's and the partial volume's reach, in the
        // unsmoothed values (a median, so that bone or air in it do not pull it).
        let gap = 1.5 + 2 * smoothingMM
        let inner = Morphology.dilate(first.mask, radius: gap, threads: threads)
        let outer = Morphology.dilate(first.mask, radius: gap + 3, threads: threads)
        var shell: [Float] = [], lesionSum = 0.0, lesionSquares = 0.0
        for index in smooth.voxels.indices {
            if first.mask.voxels[index] != 0 {
                let v = Double(raw.voxels[index])
                lesionSum += v
                lesionSquares += v * v
            } else if outer.voxels[index] != 0 && inner.voxels[index] == 0 {
                shell.append(raw.voxels[index])
            }
        }
        let lesionMean = lesionSum / Double(max(first.voxelCount, 1))
        // The spread of the smoothed values (the ones grown on): the raw spread scaled down by the
        // seeds' smoothed-to-raw ratio is not needed; the seeds' own σ bounds it from below.
        let lesionSigma = max(sigma, 0.5 * max(0, lesionSquares / Double(max(first.voxelCount, 1)) - lesionMean * lesionMean).squareRoot())
        shell.sort()
        let surrounding = shell.isEmpty ? lesionMean : Double(shell[shell.count / 2])

        // Final region: from the seeds to half-way between lesion and surroundings.
        var lower = first.lower, upper = first.upper
        if abs(lesionMean - surrounding) < 2 * sigma {
            warnings.append("low contrast: lesion \(format(lesionMean.rounded())) against \(format(surrounding.rounded())) around it; " +
                            "the boundary is uncertain (the seeds' interval was used)")
        } else {
            // The edge half-way; on the other side as wide a margin (or the lesion's spread), so
            // that a heterogeneous lesion does not lose its brightest (or darkest) parts.
            let edge = (lesionMean + surrounding) / 2, spread = max(abs(lesionMean - edge), multiplier * lesionSigma)
            if lesionMean > surrounding {
                (lower, upper) = (edge, max(lesionMean + spread, seedValues.max()!))
            } else {
                (lower, upper) = (min(lesionMean - spread, seedValues.min()!), edge)
            }
        }
        for (seed, value) in zip(resolved, seedValues) where !(value >= lower && value <= upper) {
            throw .invalidParameter(name: "seed \(seed.given)", reason: "its smoothed value \(format(value.rounded())) lies on the surroundings' side of the lesion's edge (\(format(lower.rounded()))…\(format(upper.rounded()))): place it nearer the lesion's centre")
        }
        var region = try grower.grow(smoothVolume, seeds: roiSeeds, criterion: .interval(lower: lower, upper: upper)).mask

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
            warnings.append("leak guard: the region reached the \(format(limit)) mm limit around the seeds, so the lesion " +
                            "touches tissue of the same intensity; growth stopped there and the join was cut" +
                            (radiusMM == nil ? " (give --radius-mm to set the limit)" : ""))
            let opened = MaskComponents.keepConnected(Morphology.open(region, radius: max(2 * boundaryMM, 2), threads: threads), to: local,
                                                      connectivity: .six, threads: threads)
            if opened.voxels.contains(where: { $0 != 0 }) { region = opened }
        }

        // Boundary smoothing.
        var smoothed = Morphology.close(region, radius: boundaryMM, threads: threads)
        smoothed = Morphology.fillHoles(smoothed, threads: threads)
        smoothed = Morphology.open(smoothed, radius: boundaryMM, threads: threads)
        smoothed = MaskComponents.keepConnected(smoothed, to: local, connectivity: .six, threads: threads)
        if smoothed.voxels.contains(where: { $0 != 0 }) { region = smoothed }

        var mask = Volume<UInt8>(geometry: g, filledWith: 0)
        mask.paste(region, at: low)
        let voxels = region.voxels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        return Result(mask: mask, voxelCount: voxels, volumeML: Double(voxels) * g.voxelVolume / 1000,
                      maximalDiameterMM: Self.maximalDiameter(region), seeds: resolved, seedMean: seedMean,
                      seedSigma: seedSigma, seedVoxels: count, lesionMean: lesionMean, surroundingMedian: surrounding,
                      lower: lower, upper: upper, limitMM: limit, reachedLimit: reachedLimit, warnings: warnings)
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
