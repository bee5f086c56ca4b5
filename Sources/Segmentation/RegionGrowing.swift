import Foundation
import VolumeCore

/// Which voxels may join a region.
public enum InclusionCriterion: Sendable {
    /// Values in [lower, upper] (inclusive).
    case interval(lower: Double, upper: Double)
    /// Values in [lower, upper] where `mask` is non-zero (same grid as the volume).
    case intervalInMask(lower: Double, upper: Double, mask: Volume<UInt8>)
    /// ITK's ConfidenceConnected: [mean − m·σ, mean + m·σ], first from the seeds' neighbourhoods
    /// (cubes of `initialRadius` voxels), then re-estimated from the grown region `iterations`
    /// times (stopping early when the interval no longer changes).
    case confidence(multiplier: Double = 2.5, iterations: Int = 4, initialRadius: Int = 1)
}

/// Limits that stop a leak.
public struct GrowthLimits: Sendable, Equatable {
    /// Stop growing (breadth-first from the seeds, whole waves) before the region exceeds this volume.
    public var maxVolumeML: Double?
    /// Only voxels within this Euclidean distance (mm) of a seed may join.
    public var maxDistanceMM: Double?

    public init(maxVolumeML: Double? = nil, maxDistanceMM: Double? = nil) {
        self.maxVolumeML = maxVolumeML
        self.maxDistanceMM = maxDistanceMM
    }
}

/// A grown region.
public struct GrowthResult: Sendable {
    public var mask: Volume<UInt8>
    public var voxelCount: Int
    public var volumeML: Double
    public var seeds: [ResolvedSeed]
    /// The interval finally used (for confidence growing, the last estimate).
    public var lower: Double
    public var upper: Double
    /// Confidence growing: estimates made (1 = from the seeds only).
    public var iterations: Int
    /// True when the volume limit cut the region short.
    public var stoppedByVolumeLimit: Bool
    public var warnings: [Notice]
}

/// Seeded region growing: multithreaded, exact (the result is the set of voxels connected to a
/// seed through voxels that pass the criterion), and deterministic whatever the thread count.
public struct RegionGrowing: Sendable {
    public var connectivity: Connectivity
    public var limits: GrowthLimits
    /// Worker threads; 1 runs serially on the calling thread. Default: all cores.
    public var threads: Int

    public init(connectivity: Connectivity = .six, limits: GrowthLimits = GrowthLimits(), threads: Int? = nil) {
        self.connectivity = connectivity
        self.limits = limits
        self.threads = max(1, threads ?? Parallelism.defaultThreadCount)
    }

    public func grow(_ volume: AnyVolume, seeds: [Seed], criterion: InclusionCriterion) throws(SegmentationError)
        -> GrowthResult {
        guard !seeds.isEmpty else { throw .noSeeds }
        if let max = limits.maxVolumeML, !(max > 0) {
            throw .invalidParameter(name: "maximum volume", reason: "must be more than 0 mL")
        }
        if let max = limits.maxDistanceMM, !(max > 0) {
            throw .invalidParameter(name: "maximum distance", reason: "must be more than 0 mm")
        }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }

        switch criterion {
        case .interval(let lower, let upper):
            return try grow(volume, resolved, lower: lower, upper: upper, mask: nil)
        case .intervalInMask(let lower, let upper, let mask):
            guard mask.dimensions == volume.geometry.dimensions else {
                throw .gridMismatch(what: "the mask", expected: volume.geometry.dimensions, found: mask.dimensions)
            }
            return try grow(volume, resolved, lower: lower, upper: upper, mask: mask)
        case .confidence(let multiplier, let iterations, let radius):
            guard multiplier > 0 else { throw .invalidParameter(name: "multiplier", reason: "must be more than 0") }
            guard iterations >= 0 else { throw .invalidParameter(name: "iterations", reason: "must be 0 or more") }
            guard radius >= 0 else { throw .invalidParameter(name: "initial radius", reason: "must be 0 or more voxels") }
            return try growConfident(volume, resolved, multiplier: multiplier, iterations: iterations, radius: radius)
        }
    }

    // MARK: Interval growing

    private func grow(_ volume: AnyVolume, _ seeds: [ResolvedSeed], lower: Double, upper: Double,
                      mask: Volume<UInt8>?) throws(SegmentationError) -> GrowthResult {
        finish(try growRuns(volume, seeds, lower: lower, upper: upper, mask: mask, summary: nil), volume.geometry,
               seeds, iterations: 1)
    }

    /// The grown region as selected runs (no mask yet).
    private func growRuns(_ volume: AnyVolume, _ seeds: [ResolvedSeed], lower: Double, upper: Double,
                          mask: Volume<UInt8>?, summary: RowSummary?) throws(SegmentationError) -> GrownRegion {
        guard lower <= upper else { throw .emptyInterval(lower: lower, upper: upper) }
        for seed in seeds where !(seed.value >= lower && seed.value <= upper) {
            throw .seedOutsideInterval(seed: seed.given.description, value: seed.value, lower: lower, upper: upper)
        }
        if let mask {
            for seed in seeds where mask[seed.index.x, seed.index.y, seed.index.z] == 0 {
                throw .invalidParameter(name: "seed \(seed.given)", reason: "lies outside the mask")
            }
        }
        let windows = limits.maxDistanceMM.map { DistanceWindows(geometry: volume.geometry, seeds: seeds, radius: $0) }
        let components: RunComponents
        switch volume {
        case .int16(let v):
            let (lo, hi) = int16Bounds(lower, upper)
            guard lo <= hi else { throw .emptyInterval(lower: lower, upper: upper) }
            components = Self.components(v, lower: lo, upper: hi, mask: mask, windows: windows, summary: summary,
                                         connectivity: connectivity, threads: threads)
        case .float32(let v):
            components = Self.components(v, lower: Float(lower), upper: Float(upper), mask: mask, windows: windows,
                                         summary: summary, connectivity: connectivity, threads: threads)
        }
        return region(components, volume.geometry, seeds, lower: lower, upper: upper)
    }

    private func finish(_ region: GrownRegion, _ geometry: VolumeGeometry, _ seeds: [ResolvedSeed],
                        iterations: Int) -> GrowthResult {
        let mask = region.components.mask(selected: region.selected, geometry: geometry, threads: threads)
        return GrowthResult(mask: mask, voxelCount: region.voxelCount,
                            volumeML: Double(region.voxelCount) * geometry.voxelVolume / 1000, seeds: seeds,
                            lower: region.lower, upper: region.upper, iterations: iterations,
                            stoppedByVolumeLimit: region.limited, warnings: region.warnings)
    }

    /// Runs of voxels in [lower, upper] (and in the mask and distance windows, when given).
    static func components<V: VoxelValue>(_ volume: Volume<V>, lower: V, upper: V, mask: Volume<UInt8>?,
                                          windows: DistanceWindows?, summary: RowSummary? = nil,
                                          connectivity: Connectivity, threads: Int) -> RunComponents {
        let (lowerD, upperD) = (lower.doubleValue, upper.doubleValue)
        let (nx, ny, nz) = (volume.dimensions.x, volume.dimensions.y, volume.dimensions.z)
        return volume.voxels.withUnsafeBufferPointer { buffer in
            let voxels = UncheckedSendable(buffer.baseAddress!)
            return withOptionalPointer(mask?.voxels) { maskBase in
                let maskPointer = maskBase.map { UncheckedSendable($0) }
                return RunComponents.build(nx: nx, ny: ny, nz: nz, connectivity: connectivity, threads: threads) { y, z, append in
                    if let summary, !summary.mayHold(row: z * ny + y, lower: lowerD, upper: upperD) { return }
                    let rowBase = (z * ny + y) * nx
                    let row = voxels.value + rowBase
                    // Emits the runs of [from, to] that pass the interval (then cut by the mask).
                    func scan(_ from: Int, _ to: Int) {
                        func emit(_ start: Int, _ end: Int) {
                            guard let maskPointer else { return append(start, end) }
                            let maskRow = maskPointer.value + rowBase
                            var m = start
                            while m <= end {
                                while m <= end && maskRow[m] == 0 { m += 1 }
                                let s = m
                                while m <= end && maskRow[m] != 0 { m += 1 }
                                if m > s { append(s, m - 1) }
                            }
                        }
                        if V.self == Int16.self {
                            // The common case (CT in HU): sixteen voxels per test.
                            let row16 = UnsafeRawPointer(row).assumingMemoryBound(to: Int16.self)
                            scanInt16(row16, from, to, lower: lower as! Int16, upper: upper as! Int16, emit)
                            return
                        }
                        var x = from
                        while x <= to {
                            while x <= to && !(row[x] >= lower && row[x] <= upper) { x += 1 }
                            if x > to { break }
                            let start = x
                            while x <= to && row[x] >= lower && row[x] <= upper { x += 1 }
                            emit(start, x - 1)
                        }
                    }
                    if let windows {
                        windows.forEachWindow(y: y, z: z, nx: nx) { scan($0, $1) }
                    } else {
                        scan(0, nx - 1)
                    }
                }
            }
        }
    }

    /// The region from labelled runs: the components holding the seeds, cut by the volume limit.
    private func region(_ components: RunComponents, _ geometry: VolumeGeometry, _ seeds: [ResolvedSeed],
                        lower: Double, upper: Double) -> GrownRegion {
        var seedRuns: [Int] = []
        for seed in seeds {
            if let run = components.run(containing: seed.index.x, y: seed.index.y, z: seed.index.z) {
                seedRuns.append(run)
            }
        }
        var selected = [Bool](repeating: false, count: components.runs.count)
        var roots = Set<Int32>()
        for run in seedRuns { roots.insert(components.label[run]) }
        // Components are chosen by root; a flag per root keeps the fill pass a plain lookup.
        var isRoot = [Bool](repeating: false, count: components.runs.count)
        for r in roots { isRoot[Int(r)] = true }
        var voxelCount = 0
        for index in 0..<components.runs.count where isRoot[Int(components.label[index])] {
            selected[index] = true
            voxelCount += RunComponents.x1(components.runs[index]) - RunComponents.x0(components.runs[index]) + 1
        }
        var warnings: [Notice] = []
        var limited = false
        if let maxML = limits.maxVolumeML {
            let maxVoxels = Int(saturating: (maxML * 1000 / geometry.voxelVolume).rounded(.down))
            if voxelCount > maxVoxels {
                let walk = components.breadthFirst(from: seedRuns, connectivity: connectivity, maxVoxels: maxVoxels)
                selected = walk.selected
                voxelCount = walk.voxels
                limited = true
                let connected = format(Double(components.voxels(where: isRoot)) * geometry.voxelVolume / 1000)
                warnings.append(Notice(.volumeLimitWaves, ["limitML": format(maxML), "waves": String(walk.waves), "connectedML": connected],
                                       text: "the region reached the volume limit of \(format(maxML)) mL: growth stopped after " +
                                           "\(walk.waves) breadth-first wave(s) from the seeds (the connected region holds \(connected) mL)"))
            }
        }
        return GrownRegion(components: components, selected: selected, voxelCount: voxelCount, limited: limited,
                           warnings: warnings, lower: lower, upper: upper)
    }

    // MARK: Confidence growing

    private func growConfident(_ volume: AnyVolume, _ seeds: [ResolvedSeed], multiplier: Double, iterations: Int,
                               radius: Int) throws(SegmentationError) -> GrowthResult {
        // Every estimate is grown again from the seeds. Small regions grow by the breadth-first
        // flood, whose cost follows the region; once a region is large, by scans that skip rows
        // outside the interval (row minima and maxima are taken once).
        if limits.maxDistanceMM != nil || limits.maxVolumeML != nil {
            return try growConfidentByScan(volume, seeds, multiplier: multiplier, iterations: iterations,
                                           radius: radius, summary: nil)
        }
        let smallRegion = max(4096, volume.geometry.voxelCount / 1000)
        func flood(_ lower: Double, _ upper: Double) throws(SegmentationError) -> RunFlood {
            guard lower <= upper else { throw .emptyInterval(lower: lower, upper: upper) }
            let indices = seeds.map(\.index)
            switch volume {
            case .int16(let v):
                let (lo, hi) = int16Bounds(lower, upper)
                return RunFlood.grow(v, lower: lo, upper: hi, seeds: indices, connectivity: connectivity, maxVoxels: smallRegion)
            case .float32(let v):
                return RunFlood.grow(v, lower: Float(lower), upper: Float(upper), seeds: indices,
                                     connectivity: connectivity, maxVoxels: smallRegion)
            }
        }
        func statistics(_ region: RunFlood) -> Statistics {
            switch volume {
            case .int16(let v): return region.statistics(v)
            case .float32(let v): return region.statistics(v)
            }
        }
        var (lower, upper) = confidenceInterval(Statistics.neighbourhoods(volume, seeds.map(\.index), radius: radius),
                                                multiplier, seeds, volume)
        var estimates = 1
        var region = try flood(lower, upper)
        while !region.limited {
            guard estimates <= iterations else {
                let geometry = volume.geometry
                return GrowthResult(mask: region.mask(geometry: geometry, threads: threads), voxelCount: region.voxels,
                                    volumeML: Double(region.voxels) * geometry.voxelVolume / 1000, seeds: seeds,
                                    lower: lower, upper: upper, iterations: estimates, stoppedByVolumeLimit: false,
                                    warnings: [])
            }
            let stats = statistics(region)
            let (nextLower, nextUpper) = confidenceInterval(stats, multiplier, seeds, volume)
            if stats.count <= 1 || (nextLower == lower && nextUpper == upper) {
                estimates = iterations + 1  // converged: return this region
                continue
            }
            (lower, upper) = (nextLower, nextUpper)
            region = try flood(lower, upper)
            estimates += 1
        }
        // The region outgrew the flood: go on with scans from the current estimate.
        let summary: RowSummary
        switch volume {
        case .int16(let v): summary = RowSummary(v, threads: threads)
        case .float32(let v): summary = RowSummary(v, threads: threads)
        }
        let scanned = try growRuns(volume, seeds, lower: lower, upper: upper, mask: nil, summary: summary)
        return try refine(scanned, volume, seeds, multiplier: multiplier,
                          remaining: iterations - (estimates - 1), estimates: estimates, summary: summary)
    }

    /// Re-estimates the interval from the grown region up to `remaining` times (stopping when it
    /// no longer changes), growing by scans; then makes the mask of the last region.
    private func refine(_ first: GrownRegion, _ volume: AnyVolume, _ seeds: [ResolvedSeed], multiplier: Double,
                        remaining: Int, estimates: Int, summary: RowSummary?) throws(SegmentationError) -> GrowthResult {
        var region = first, estimates = estimates
        for _ in 0..<max(0, remaining) {
            let stats = region.statistics(volume, threads: threads)
            guard stats.count > 1 else { break }
            let (nextLower, nextUpper) = confidenceInterval(stats, multiplier, seeds, volume)
            if nextLower == region.lower && nextUpper == region.upper { break }
            region = try growRuns(volume, seeds, lower: nextLower, upper: nextUpper, mask: nil, summary: summary)
            estimates += 1
        }
        return finish(region, volume.geometry, seeds, iterations: estimates)
    }

    /// Confidence growing where every estimate is a full scan (used with growth limits).
    private func growConfidentByScan(_ volume: AnyVolume, _ seeds: [ResolvedSeed], multiplier: Double,
                                     iterations: Int, radius: Int, summary: RowSummary?) throws(SegmentationError)
        -> GrowthResult {
        let (lower, upper) = confidenceInterval(Statistics.neighbourhoods(volume, seeds.map(\.index), radius: radius),
                                                multiplier, seeds, volume)
        let region = try growRuns(volume, seeds, lower: lower, upper: upper, mask: nil, summary: summary)
        return try refine(region, volume, seeds, multiplier: multiplier, remaining: iterations, estimates: 1,
                          summary: summary)
    }

    /// [mean − m·σ, mean + m·σ], widened to hold every seed's value. For integer data the bounds
    /// are cut to whole numbers toward zero, as ITK's ConfidenceConnected does (a cast to the pixel
    /// type), so that regions match SimpleITK's voxel for voxel.
    private func confidenceInterval(_ stats: Statistics, _ multiplier: Double, _ seeds: [ResolvedSeed],
                                    _ volume: AnyVolume) -> (Double, Double) {
        var (lower, upper) = stats.interval(multiplier)
        if case .int16 = volume { (lower, upper) = (lower.rounded(.towardZero), upper.rounded(.towardZero)) }
        for seed in seeds {
            lower = min(lower, seed.value)
            upper = max(upper, seed.value)
        }
        return (lower, upper)
    }
}

/// Whole-number bounds for Int16 data: [⌈lower⌉, ⌊upper⌋], clamped to the Int16 range.
func int16Bounds(_ lower: Double, _ upper: Double) -> (Int16, Int16) {
    (Int16(clamping: Int(saturating: lower.rounded(.up))),
     Int16(clamping: Int(saturating: upper.rounded(.down))))
}

/// Per row, the x ranges within `radius` mm of at least one seed (any direction matrix).
struct DistanceWindows: Sendable {
    let geometry: VolumeGeometry
    let seeds: [SIMD3<Double>]
    let radius: Double

    init(geometry: VolumeGeometry, seeds: [ResolvedSeed], radius: Double) {
        self.geometry = geometry
        self.seeds = seeds.map(\.patient)
        self.radius = radius
    }

    /// Calls `body(x0, x1)` for each merged window of row (y, z), in increasing x.
    func forEachWindow(y: Int, z: Int, nx: Int, _ body: (Int, Int) -> Void) {
        let step = geometry.direction.column(0) * geometry.spacing.x
        let base = geometry.patientPosition(ofIndex: SIMD3<Double>(0, Double(y), Double(z)))
        let a = step.dot(step)
        var windows: [(Int, Int)] = []
        for seed in seeds {
            // |base + i·step − seed|² ≤ r²  ⇔  a·i² + b·i + c ≤ 0
            let d = base - seed
            let b = 2 * step.dot(d), c = d.dot(d) - radius * radius
            let discriminant = b * b - 4 * a * c
            guard discriminant >= 0 else { continue }
            let root = discriminant.squareRoot()
            let lo = max(0, Int(saturating: ((-b - root) / (2 * a)).rounded(.up)))
            let hi = min(nx - 1, Int(saturating: ((-b + root) / (2 * a)).rounded(.down)))
            if lo <= hi { windows.append((lo, hi)) }
        }
        windows.sort { $0.0 < $1.0 }
        var current: (Int, Int)?
        for window in windows {
            if let c = current, window.0 <= c.1 + 1 {
                current = (c.0, max(c.1, window.1))
            } else {
                if let c = current { body(c.0, c.1) }
                current = window
            }
        }
        if let c = current { body(c.0, c.1) }
    }
}

/// Calls `body` with the base address of `array`, or with nil when there is no array.
func withOptionalPointer<T, R>(_ array: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Runs of `row[from...to]` within [lower, upper], testing sixteen voxels at a time where they
/// are all outside or all inside (most of a CT row is one or the other).
@inline(__always)
func scanInt16(_ row: UnsafePointer<Int16>, _ from: Int, _ to: Int, lower: Int16, upper: Int16,
               _ emit: (Int, Int) -> Void) {
    // v ∈ [lower, upper]  ⇔  (v − lower) as unsigned ≤ upper − lower
    let span = UInt16(bitPattern: upper &- lower)
    let lanesLower = SIMD16<Int16>(repeating: lower), lanesSpan = SIMD16<UInt16>(repeating: span)
    let end = to + 1
    var x = from, inRun = false, start = 0
    while x < end {
        if x + 16 <= end {
            let values = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD16<Int16>.self)
            let inside = SIMD16<UInt16>(truncatingIfNeeded: values &- lanesLower) .<= lanesSpan
            // The lane mask as four words: all zero = none inside, all ones = all inside.
            // (Cheaper than any()/all(), which reduce lane by lane.)
            let words = unsafeBitCast(inside, to: SIMD4<UInt64>.self)
            let uniform = inRun ? (words.x & words.y & words.z & words.w) == .max
                                : (words.x | words.y | words.z | words.w) == 0
            if uniform {
                x += 16
                continue
            }
        }
        let stop = min(end, x + 16)
        while x < stop {
            let inside = UInt16(bitPattern: row[x] &- lower) <= span
            if inside != inRun {
                if inside { start = x } else { emit(start, x - 1) }
                inRun = inside
            }
            x += 1
        }
    }
    if inRun { emit(start, end - 1) }
}

/// A grown region before its mask is made: labelled runs and the ones selected.
struct GrownRegion {
    var components: RunComponents
    var selected: [Bool]
    var voxelCount: Int
    var limited: Bool
    var warnings: [Notice]
    var lower: Double
    var upper: Double

    /// Mean and variance of the region's values: sums per slice in parallel, then added slice
    /// by slice (the same result whatever the thread count).
    func statistics(_ volume: AnyVolume, threads: Int) -> Statistics {
        func compute<V: VoxelValue>(_ v: Volume<V>) -> Statistics {
            let (nx, ny, nz) = (components.nx, components.ny, components.nz)
            var perSlice = [Statistics](repeating: Statistics(count: 0, sum: 0, sumOfSquares: 0), count: nz)
            v.voxels.withUnsafeBufferPointer { values in
                perSlice.withUnsafeMutableBufferPointer { out in
                    let (source, target) = (UncheckedSendable(values), UncheckedSendable(out))
                    parallelFor(0..<nz, threads: threads) { slices in
                        for z in slices {
                            var stats = Statistics(count: 0, sum: 0, sumOfSquares: 0)
                            for row in (z * ny)..<((z + 1) * ny) {
                                for index in components.rowRange(row) where selected[index] {
                                    let run = components.runs[index]
                                    let (x0, x1) = (RunComponents.x0(run), RunComponents.x1(run))
                                    for x in x0...x1 {
                                        let value = source.value[row * nx + x].doubleValue
                                        stats.sum += value
                                        stats.sumOfSquares += value * value
                                    }
                                    stats.count += x1 - x0 + 1
                                }
                            }
                            target.value[z] = stats
                        }
                    }
                }
            }
            return perSlice.reduce(Statistics(count: 0, sum: 0, sumOfSquares: 0)) {
                Statistics(count: $0.count + $1.count, sum: $0.sum + $1.sum, sumOfSquares: $0.sumOfSquares + $1.sumOfSquares)
            }
        }
        switch volume {
        case .int16(let v): return compute(v)
        case .float32(let v): return compute(v)
        }
    }
}
