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
        /// Window voxels left out as the edge of brighter structures (bone).
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
        let workers = MaskComponents.resolved(threads)
        let (low, high) = try window(volume, modality: modality, seeds: resolved)
        for seed in resolved where !(seed.value >= low && seed.value <= high) {
            let hint = modality == "CT" && seed.value < low
                ? "is this CT contrast-enhanced? On a CT without contrast vessels are not brighter than soft tissue; for this study give --lower/--upper, or place the seed in the contrast-filled lumen"
                : "place the seed inside the vessel's lumen, or give --lower/--upper"
            throw .invalidParameter(name: "seed \(seed.given)", reason: "has value \(format(seed.value.rounded())), outside the vessel window \(format(low))…\(format(high)): \(hint)")
        }
        // Eligible voxels: in the window and not at the edge of something brighter.
        var eligible = Volume<UInt8>(geometry: g, filledWith: 0)
        var bright = Volume<UInt8>(geometry: g, filledWith: 0)
        eligible.voxels.withUnsafeMutableBufferPointer { e in
            bright.voxels.withUnsafeMutableBufferPointer { b in
                let (inWindow, above) = (UncheckedSendable(e), UncheckedSendable(b))
                switch volume {
                case .int16(let v):
                    let (lo, hi) = int16Bounds(low, high)
                    v.voxels.withUnsafeBufferPointer { source in
                        let values = UncheckedSendable(source)
                        parallelFor(0..<source.count, grain: 1 << 16, threads: workers) { range in
                            for i in range {
                                let x = values.value[i]
                                inWindow.value[i] = x >= lo && x <= hi ? 1 : 0
                                above.value[i] = x > hi ? 1 : 0
                            }
                        }
                    }
                case .float32(let v):
                    let (lo, hi) = (Float(low), Float(high))
                    v.voxels.withUnsafeBufferPointer { source in
                        let values = UncheckedSendable(source)
                        parallelFor(0..<source.count, grain: 1 << 16, threads: workers) { range in
                            for i in range {
                                let x = values.value[i]
                                inWindow.value[i] = x >= lo && x <= hi ? 1 : 0
                                above.value[i] = x > hi ? 1 : 0
                            }
                        }
                    }
                }
            }
        }
        var excluded = 0
        if boneMarginMM > 0 {
            let radii = SIMD3<Int>((0..<3).map { Int((boneMarginMM / g.spacing[$0]).rounded(.up)) })
            let band = Self.dilated(bright, radii: radii, threads: workers)
            for i in eligible.voxels.indices where eligible.voxels[i] != 0 && band.voxels[i] != 0 {
                eligible.voxels[i] = 0
                excluded += 1
            }
        }
        for seed in resolved where eligible[seed.index.x, seed.index.y, seed.index.z] == 0 {
            throw .invalidParameter(name: "seed \(seed.given)", reason: "lies within \(format(boneMarginMM)) mm of a voxel brighter than the window (bone or calcification above \(format(high))): place it in the vessel's lumen, away from bone")
        }
        // Breadth-first growth, voxel by voxel, with the leak guards.
        let growth = grow(&eligible, from: resolved.map(\.index),
                          maxVoxels: Int((maxVolumeML * 1000 / g.voxelVolume).rounded(.down)))
        var warnings: [String] = []
        if let stoppedBy = growth.stoppedBy { warnings.append(stoppedBy) }
        if growth.voxels < 30 {
            warnings.append("only \(growth.voxels) voxel(s) grew from the seeds: the window \(format(low))…\(format(high)) may not suit this study")
        }
        return Result(mask: eligible, voxelCount: growth.voxels, volumeML: Double(growth.voxels) * g.voxelVolume / 1000,
                      seeds: resolved, lower: low, upper: high, edgeVoxelsExcluded: excluded, waves: growth.waves,
                      stoppedBy: growth.stoppedBy, warnings: warnings)
    }

    /// Grows through the voxels set to 1 in `mask` from `seeds`, wave by wave (a wave: the
    /// voxels one step further from the seeds), and leaves `mask` holding the region (1) only.
    /// Stops before a wave wider than `widening` × the median of the last 30 waves (and than
    /// `minimumFront`), or one that would pass `maxVoxels`.
    private func grow(_ mask: inout Volume<UInt8>, from seeds: [SIMD3<Int>], maxVoxels: Int) -> (voxels: Int, waves: Int, stoppedBy: String?) {
        let d = mask.dimensions
        let (nx, ny, nz) = (d.x, d.y, d.z)
        let offsets = connectivity.offsets
        var wave: [Int] = [], fronts: [Int] = []
        var total = 0, waves = 0
        var stoppedBy: String?
        mask.voxels.withUnsafeMutableBufferPointer { voxels in
            for seed in seeds {
                let index = (seed.z * ny + seed.y) * nx + seed.x
                if voxels[index] == 1 {
                    voxels[index] = 2
                    wave.append(index)
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
                        if voxels[neighbour] == 1 {
                            voxels[neighbour] = 3  // claimed for the next wave
                            next.append(neighbour)
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
                if stoppedBy != nil {
                    for index in next { voxels[index] = 1 }
                    break
                }
                for index in next { voxels[index] = 2 }
                fronts.append(next.count)
                total += next.count
                waves += 1
                wave = next
            }
            for index in 0..<voxels.count { voxels[index] = voxels[index] == 2 ? 1 : 0 }
        }
        return (total, waves, stoppedBy)
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

    /// `mask` dilated by a box of `radii` voxels (separable running maxima, per axis).
    static func dilated(_ mask: Volume<UInt8>, radii: SIMD3<Int>, threads: Int) -> Volume<UInt8> {
        let d = mask.dimensions
        var values = mask.voxels, scratch = mask.voxels
        for axis in 0..<3 where radii[axis] > 0 && d[axis] > 1 {
            let r = radii[axis]
            let (length, stride): (Int, Int) = axis == 0 ? (d.x, 1) : axis == 1 ? (d.y, d.x) : (d.z, d.x * d.y)
            let lines = d.x * d.y * d.z / length
            values.withUnsafeBufferPointer { input in
                scratch.withUnsafeMutableBufferPointer { output in
                    let (source, target) = (UncheckedSendable(input), UncheckedSendable(output))
                    parallelFor(0..<lines, grain: 256, threads: threads) { range in
                        for line in range {
                            let start: Int
                            switch axis {
                            case 0: start = line * d.x
                            case 1: start = (line / d.x) * d.x * d.y + line % d.x
                            default: start = line
                            }
                            // Distance to the last set voxel seen going forward, then backward.
                            var last = -r - 1
                            for n in 0..<length {
                                if source.value[start + n * stride] != 0 { last = n }
                                target.value[start + n * stride] = n - last <= r ? 1 : 0
                            }
                            last = length + r + 1
                            for n in Swift.stride(from: length - 1, through: 0, by: -1) {
                                if source.value[start + n * stride] != 0 { last = n }
                                if last - n <= r { target.value[start + n * stride] = 1 }
                            }
                        }
                    }
                }
            }
            swap(&values, &scratch)
        }
        return Volume(geometry: mask.geometry, voxels: values)
    }
}
