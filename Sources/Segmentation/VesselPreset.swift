import Foundation
import VolumeCore

/// Contrast-filled vessels on CT angiography (or bright vessels on MR angiography), grown from
/// one or more seeds in the lumen.
///
/// - Window: voxels in [lower, upper] (CT default 150…700 HU; MR: from half the seeds' mean up).
/// - Local contrast: a window voxel within `boneMarginMM` (along each axis) of a voxel brighter
///   than the window is the edge of bone (or of a calcification), not vessel: it is left out, so
///   growth cannot cross from a vessel into bone of similar values at its border.
/// - Leak guards: growth goes breadth-first, voxel by voxel, in waves (the voxels one step further
///   from the seeds: in a tube a wave is about its cross-section) and stops before a wave
///   `widening` times wider than the median of the last 30 (a vessel opening into an organ of the
///   same intensity), or one that would pass `maxVolumeML`.
/// - Only what is connected to a seed is kept.
public struct VesselPreset: Sendable {
    public var lower: Double?
    public var upper: Double?
    public var boneMarginMM: Double = 1.0
    public var maxVolumeML: Double = 500
    public var widening: Double = 4
    /// Fronts of fewer voxels than this never count as widened.
    public var minimumFront = 30
    public var connectivity: Connectivity = .six
    public var threads: Int?

    public init(lower: Double? = nil, upper: Double? = nil) {
        self.lower = lower
        self.upper = upper
    }

    public static let label = LabelInfo(value: 3, name: "vessels", color: RGBA(0.8, 0.1, 0.12))

    public struct Result: Sendable {
        public var mask: Volume<UInt8>
        public var voxelCount: Int
        public var volumeML: Double
        public var seeds: [ResolvedSeed]
        public var lower: Double
        public var upper: Double
        /// Window voxels next to the region left out as the edge of brighter structures (bone).
        public var edgeVoxelsExcluded: Int
        public var waves: Int
        /// Why growth ended early, if it did (front widening or the volume limit).
        public var stoppedBy: String?
        public var warnings: [String]
    }

    public func run(_ volume: AnyVolume, modality: String, seeds: [Seed]) throws(SegmentationError) -> Result {
        guard !seeds.isEmpty else { throw .noSeeds }
        guard boneMarginMM >= 0, maxVolumeML > 0, widening > 1 else {
            throw .invalidParameter(name: "vessel preset", reason: "the bone margin must be ≥ 0 mm, the volume limit > 0 mL, widening > 1")
        }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }
        let g = volume.geometry
        let (low, high) = try window(volume, modality: modality, seeds: resolved)
        for seed in resolved where !(seed.value >= low && seed.value <= high) {
            let hint = modality == "CT" && seed.value < low
                ? "is this CT contrast-enhanced? On a CT without contrast vessels are not brighter than soft tissue; for this study give --lower/--upper, or place the seed in the contrast-filled lumen"
                : "place the seed inside the vessel's lumen, or give --lower/--upper"
            throw .invalidParameter(name: "seed \(seed.given)", reason: "has value \(format(seed.value.rounded())), outside the vessel window \(format(low))…\(format(high)): \(hint)")
        }
        // Breadth-first growth, voxel by voxel, with the leak guards; a voxel is eligible when it
        // is in the window and no voxel brighter than the window lies within the bone margin
        // (checked only for the voxels the growth reaches).
        let radii = SIMD3<Int>((0..<3).map { boneMarginMM > 0 ? min(g.dimensions[$0], Int(saturating: (boneMarginMM / g.spacing[$0]).rounded(.up))) : 0 })
        let maxVoxels = Int(saturating: (maxVolumeML * 1000 / g.voxelVolume).rounded(.down))
        let growth: Growth
        switch volume {
        case .int16(let v):
            let (lo, hi) = int16Bounds(low, high)
            growth = try grow(v, lower: lo, upper: hi, radii: radii, seeds: resolved, maxVoxels: maxVoxels)
        case .float32(let v):
            growth = try grow(v, lower: Float(low), upper: Float(high), radii: radii, seeds: resolved, maxVoxels: maxVoxels)
        }
        var warnings: [String] = []
        if let stoppedBy = growth.stoppedBy { warnings.append(stoppedBy) }
        if growth.voxels < 30 {
            warnings.append("only \(growth.voxels) voxel(s) grew from the seeds: the window \(format(low))…\(format(high)) may not suit this study")
        }
        return Result(mask: growth.mask, voxelCount: growth.voxels, volumeML: Double(growth.voxels) * g.voxelVolume / 1000,
                      seeds: resolved, lower: low, upper: high, edgeVoxelsExcluded: growth.edgeVoxels, waves: growth.waves,
                      stoppedBy: growth.stoppedBy, warnings: warnings)
    }

    private struct Growth {
        var mask: Volume<UInt8>
        var voxels: Int
        var waves: Int
        var edgeVoxels: Int
        var stoppedBy: String?
    }

    /// Grows from `seeds` through eligible voxels, wave by wave (a wave: the voxels one step
    /// further from the seeds). Stops before a wave wider than `widening` × the median of the last
    /// 30 waves (and than `minimumFront`), or one that would pass `maxVoxels`.
    private func grow<V: VoxelValue>(_ volume: Volume<V>, lower: V, upper: V, radii: SIMD3<Int>, seeds: [ResolvedSeed],
                                     maxVoxels: Int) throws(SegmentationError) -> Growth {
        let d = volume.dimensions
        let (nx, ny, nz) = (d.x, d.y, d.z)
        let offsets = connectivity.offsets
        // 0: not looked at, 1: in the region, 2: claimed by the next wave, 3: not eligible.
        var state = [UInt8](repeating: 0, count: volume.geometry.voxelCount)
        var wave: [Int] = [], fronts: [Int] = []
        var total = 0, waves = 0, edgeVoxels = 0
        var stoppedBy: String?
        var seedError: SegmentationError?
        volume.voxels.withUnsafeBufferPointer { values in
            state.withUnsafeMutableBufferPointer { state in
                /// In the window, and not within the margin of a brighter voxel.
                func eligible(_ x: Int, _ y: Int, _ z: Int, _ index: Int) -> Bool {
                    let v = values[index]
                    guard v >= lower && v <= upper else { return false }
                    for zz in max(0, z - radii.z)...min(nz - 1, z + radii.z) {
                        for yy in max(0, y - radii.y)...min(ny - 1, y + radii.y) {
                            let row = (zz * ny + yy) * nx
                            for xx in max(0, x - radii.x)...min(nx - 1, x + radii.x) where values[row + xx] > upper {
                                edgeVoxels += 1
                                return false
                            }
                        }
                    }
                    return true
                }
                for seed in seeds {
                    let index = (seed.index.z * ny + seed.index.y) * nx + seed.index.x
                    guard state[index] == 0 else { continue }
                    if eligible(seed.index.x, seed.index.y, seed.index.z, index) {
                        state[index] = 1
                        wave.append(index)
                    } else {
                        seedError = .invalidParameter(name: "seed \(seed.given)", reason: "lies within \(format(boneMarginMM)) mm of a voxel brighter than the window (bone or calcification above \(format(upper.doubleValue))): place it in the vessel's lumen, away from bone")
                        return
                    }
                }
                total = wave.count
                while !wave.isEmpty {
                    var next: [Int] = []
                    for index in wave {
                        let x = index % nx, y = (index / nx) % ny, z = index / (nx * ny)
                        for (dx, dy, dz) in offsets {
                            let (xx, yy, zz) = (x + dx, y + dy, z + dz)
                            guard xx >= 0, yy >= 0, zz >= 0, xx < nx, yy < ny, zz < nz else { continue }
                            let neighbour = (zz * ny + yy) * nx + xx
                            guard state[neighbour] == 0 else { continue }
                            if eligible(xx, yy, zz, neighbour) {
                                state[neighbour] = 2
                                next.append(neighbour)
                            } else {
                                state[neighbour] = 3
                            }
                        }
                    }
                    if next.isEmpty { break }
                    let recent = fronts.suffix(30).sorted()
                    if recent.count >= 8 {
                        let median = recent[recent.count / 2]
                        if Double(next.count) > widening * Double(max(median, minimumFront)) {
                            stoppedBy = "leak guard: the growth front widened from about \(median) to \(next.count) voxels " +
                                "\(waves + 1) steps from the seeds (a vessel opening into tissue of the same intensity); growth stopped before it"
                        }
                    }
                    if stoppedBy == nil && total + next.count > maxVoxels {
                        stoppedBy = "the region reached the volume limit of \(format(maxVolumeML)) mL; growth stopped there"
                    }
                    if stoppedBy != nil { break }
                    for index in next { state[index] = 1 }
                    fronts.append(next.count)
                    total += next.count
                    waves += 1
                    wave = next
                }
                let region = UncheckedSendable(state)
                parallelFor(0..<state.count, grain: 1 << 18, threads: threads) { range in
                    for i in range { region.value[i] = region.value[i] == 1 ? 1 : 0 }
                }
            }
        }
        if let seedError { throw seedError }
        return Growth(mask: Volume(geometry: volume.geometry, voxels: state), voxels: total, waves: waves,
                      edgeVoxels: edgeVoxels, stoppedBy: stoppedBy)
    }

    /// The window: given bounds, else CT 150…700 HU, MR from half the seeds' mean to the maximum.
    private func window(_ volume: AnyVolume, modality: String, seeds: [ResolvedSeed]) throws(SegmentationError) -> (Double, Double) {
        if modality == "CT" {
            let (low, high) = (lower ?? 150, upper ?? 700)
            guard low <= high else { throw .emptyInterval(lower: low, upper: high) }
            return (low, high)
        }
        let mean = seeds.map(\.value).reduce(0, +) / Double(seeds.count)
        let maximum = volume.valueRange()?.upperBound ?? mean
        let (low, high) = (lower ?? mean / 2, upper ?? maximum)
        guard low <= high else { throw .emptyInterval(lower: low, upper: high) }
        return (low, high)
    }
}
