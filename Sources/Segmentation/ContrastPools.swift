import VolumeCore

/// Contrast-filled blood on CT, found from the image alone, so that bone thresholds leave it out.
///
/// Blood with contrast and bone overlap in Hounsfield units (arterial blood 250–600 HU, cortical
/// bone from about 400 HU up, undiluted contrast in a vein up to the top of the scale), so a
/// threshold cannot tell them apart. Their shapes can:
///
/// - **Blood pools** (heart chambers, aorta, pulmonary arteries) are thick and homogeneous: a
///   core at least `coreRadiusMM` from anything below the bone threshold, whose neighbourhood
///   varies little, and the region of values around the core's own (median ± 3σ) is mostly near
///   that median, and less than `maximumBrighterBorder` of its border is brighter. Marrow and
///   trabecular bone are thinner, spread over the whole range up to the cortex, or enclosed by
///   a brighter cortex, so their regions are not.
/// - **Dense contrast in veins** (the injected arm's vein, the brachiocephalic veins and the
///   superior vena cava before the contrast mixes) is brighter than most bone, but a solid
///   tube: a core of ≥ `denseHU` at least `coreRadiusMM` thick (cortex is thinner), which
///   touches a blood pool, and whatever is ≥ `denseHU` and connected to it.
///
/// Everything works on a coarse grid of block means (blocks of about `blockMM`), which smooths
/// the noise and keeps the cost a small part of a bone segmentation. A study without such pools
/// (no contrast, or portal-venous blood below the bone threshold) gives an empty result, and
/// the bone label is then what a threshold gives.
public struct ContrastPools: Sendable {
    public var lower: Double = 226
    public var blockMM: Double = 3
    public var coreRadiusMM: Double = 3
    /// A pool's core: at most this mean (denser homogeneous regions are bone, e.g. petrous bone).
    public var poolMaximumHU: Double = 900
    /// A pool's core must hold at least this volume (mL).
    public var minimumCoreML: Double = 2
    /// Fraction of a pool's region within 1.5σ of its median.
    public var minimumHomogeneity: Double = 0.6
    /// Largest fraction of a pool's border that may be brighter than the pool.
    public var maximumBrighterBorder: Double = 0.35
    public var denseHU: Double = 700
    public var threads: Int?

    public init() {}

    public struct Pool: Sendable, Equatable {
        public var volumeML: Double
        public var medianHU: Double
        public var lower: Double
        public var upper: Double
    }

    public struct Finding: Sendable {
        /// Voxels (on the study's grid) to leave out of bone: 1 where contrast-filled blood lies.
        /// When nothing was found (`isEmpty`), `mask` and `veins` hold no voxels at all (a grid of
        /// zero size), so that a study without contrast costs no volume of zeros.
        public var mask: Volume<UInt8>
        /// Voxels in the mask at or above `lower` (those a bone threshold would have taken).
        public var pools: [Pool]
        /// The dense contrast alone (veins with undiluted contrast), on the study's grid: every
        /// voxel within a block of it.
        public var veins: Volume<UInt8>
        /// Blocks (of `block` voxels) within two blocks of the blood found, on the coarse grid.
        public var nearBlocks: Volume<UInt8>
        public var block: SIMD3<Int>
        /// Dense contrast (veins) on the coarse grid, mL.
        public var denseML: Double
        public var excludedVoxels: Int

        public var isEmpty: Bool { excludedVoxels == 0 }

        /// Whether voxel (x, y, z) of the study lies within about two blocks of the blood found.
        public func isNear(_ x: Int, _ y: Int, _ z: Int) -> Bool {
            let d = nearBlocks.dimensions
            guard d.x > 0 else { return false }
            return nearBlocks[min(x / block.x, d.x - 1), min(y / block.y, d.y - 1), min(z / block.z, d.z - 1)] != 0
        }
    }

    public func find(_ hu: Volume<Int16>) -> Finding {
        let g = hu.geometry
        let block = SIMD3((0..<3).map { max(1, Int(saturating: (blockMM / g.spacing[$0] + 1e-6).rounded(.down))) })
        let coarse = Self.blockMeans(hu, block: block, threads: threads)
        let c = coarse.geometry
        let (nx, ny, nz) = (c.dimensions.x, c.dimensions.y, c.dimensions.z)
        let count = c.voxelCount
        let m = coarse.voxels
        let voxelML = c.voxelVolume / 1000
        let low = Float(lower)

        // Cores: thick (eroded), not too dense, locally homogeneous.
        var above = Volume<UInt8>(geometry: c, filledWith: 0)
        for i in 0..<count where m[i] >= low { above.voxels[i] = 1 }
        let thick = Morphology.erode(above, radius: coreRadiusMM, threads: threads)
        var core = Volume<UInt8>(geometry: c, filledWith: 0)
        for i in 0..<count where thick.voxels[i] != 0 && Double(m[i]) <= poolMaximumHU {
            let (localMean, localSD) = Self.localStatistics(coarse, at: i)
            if localSD <= max(60, 0.2 * localMean) { core.voxels[i] = 1 }
        }
        let cores = Self.label(core.voxels, nx, ny, nz) { _ in true }
        var pool = [Bool](repeating: false, count: count)
        var pools: [Pool] = []
        for members in cores.sorted(by: { $0.count > $1.count }) {
            guard Double(members.count) * voxelML >= minimumCoreML else { break }
            if members.contains(where: { pool[$0] }) { continue }
            let values = members.map { Double(m[$0]) }.sorted()
            let median = values[values.count / 2]
            let mean = values.reduce(0, +) / Double(values.count)
            let sigma = max(30, (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot())
            let (lo, hi) = (max(150, median - 3 * sigma), median + 3 * sigma)
            let region = Self.flood(from: members, nx, ny, nz) { Double(m[$0]) >= lo && Double(m[$0]) <= hi }
            let near = region.reduce(0) { $0 + (abs(Double(m[$1]) - median) <= 1.5 * sigma ? 1 : 0) }
            guard Double(near) >= minimumHomogeneity * Double(region.count) else { continue }
            // Not enclosed by something brighter (marrow inside its cortex is).
            var inRegion = [Bool](repeating: false, count: count)
            for i in region { inRegion[i] = true }
            var outside = 0, brighter = 0
            for i in region {
                let x = i % nx, y = (i / nx) % ny, z = i / (nx * ny)
                for (n, ok) in [(i - 1, x > 0), (i + 1, x < nx - 1), (i - nx, y > 0), (i + nx, y < ny - 1),
                                (i - nx * ny, z > 0), (i + nx * ny, z < nz - 1)] where ok && !inRegion[n] {
                    outside += 1
                    if Double(m[n]) > hi { brighter += 1 }
                }
            }
            guard Double(brighter) < maximumBrighterBorder * Double(max(outside, 1)) else { continue }
            for i in region { pool[i] = true }
            pools.append(Pool(volumeML: Double(region.count) * voxelML, medianHU: median, lower: lo, upper: hi))
        }
        guard !pools.isEmpty else {
            var none = g
            none.dimensions = .zero
            return Finding(mask: Volume(geometry: none, filledWith: 0), pools: [], veins: Volume(geometry: none, filledWith: 0),
                           nearBlocks: Volume(geometry: c, filledWith: 0), block: block, denseML: 0, excludedVoxels: 0)
        }

        // Dense contrast: solid cores ≥ denseHU near a pool, and what is ≥ denseHU connected to them.
        let dense = Float(denseHU)
        var denseMask = Volume<UInt8>(geometry: c, filledWith: 0)
        for i in 0..<count where m[i] >= dense { denseMask.voxels[i] = 1 }
        let denseCore = Morphology.erode(denseMask, radius: coreRadiusMM, threads: threads)
        var poolMask = Volume<UInt8>(geometry: c, filledWith: 0)
        for i in 0..<count where pool[i] { poolMask.voxels[i] = 1 }
        let nearPool = Morphology.dilate(poolMask, radius: 2 * c.spacing.max() + 1e-3, threads: threads)
        var starts: [Int] = []
        for members in Self.label(denseCore.voxels, nx, ny, nz, { _ in true })
        where members.contains(where: { nearPool.voxels[$0] != 0 }) {
            starts += members
        }
        let veins = Self.flood(from: starts, nx, ny, nz) { m[$0] >= dense }

        // Back to the study's grid: within a block of a pool, voxels up to the pools' upper bound;
        // within a block of dense contrast, every voxel.
        var poolNear = poolMask
        var veinMask = Volume<UInt8>(geometry: c, filledWith: 0)
        for i in veins { veinMask.voxels[i] = 1 }
        poolNear = Morphology.dilate(poolNear, radius: c.spacing.max() + 1e-3, threads: threads)
        let veinNear = Morphology.dilate(veinMask, radius: c.spacing.max() + 1e-3, threads: threads)
        let ceiling = Int16(clamping: Int(saturating: (pools.map(\.upper).max() ?? 0).rounded(.down)))
        var out = Volume<UInt8>(geometry: g, filledWith: 0), veinsOut = out
        let d = g.dimensions
        var excluded = 0
        let lowest = Int16(clamping: Int(saturating: lower.rounded(.up)))
        hu.voxels.withUnsafeBufferPointer { values in
            out.voxels.withUnsafeMutableBufferPointer { target in
              veinsOut.voxels.withUnsafeMutableBufferPointer { veinTarget in
                for z in 0..<d.z {
                    let cz = min(z / block.z, nz - 1)
                    for y in 0..<d.y {
                        let cy = min(y / block.y, ny - 1)
                        let row = (z * d.y + y) * d.x, coarseRow = (cz * ny + cy) * nx
                        for x in 0..<d.x {
                            let ci = coarseRow + min(x / block.x, nx - 1)
                            let v = values[row + x]
                            if veinNear.voxels[ci] != 0 || (poolNear.voxels[ci] != 0 && v <= ceiling) {
                                target[row + x] = 1
                                if v >= lowest { excluded += 1 }
                            }
                            if veinNear.voxels[ci] != 0 { veinTarget[row + x] = 1 }
                        }
                    }
                }
              }
            }
        }
        var both = poolNear
        for i in both.voxels.indices where veinNear.voxels[i] != 0 { both.voxels[i] = 1 }
        let nearBlocks = Morphology.dilate(both, radius: c.spacing.max() + 1e-3, threads: threads)
        return Finding(mask: out, pools: pools, veins: veinsOut, nearBlocks: nearBlocks, block: block,
                       denseML: Double(veins.count) * voxelML, excludedVoxels: excluded)
    }

    /// Means over blocks (the last block along an axis may be partial).
    static func blockMeans(_ hu: Volume<Int16>, block: SIMD3<Int>, threads: Int? = nil) -> Volume<Float> {
        let g = hu.geometry
        let d = g.dimensions
        let n = SIMD3((d.x + block.x - 1) / block.x, (d.y + block.y - 1) / block.y, (d.z + block.z - 1) / block.z)
        var geometry = g
        geometry.dimensions = n
        geometry.spacing = g.spacing * SIMD3<Double>(Double(block.x), Double(block.y), Double(block.z))
        // The coarse voxel's centre is the block's centre.
        let shift = SIMD3<Double>(Double(block.x - 1), Double(block.y - 1), Double(block.z - 1)) * 0.5
        geometry.origin = g.patientPosition(ofIndex: shift)
        var sums = [Double](repeating: 0, count: n.x * n.y * n.z)
        var counts = [Int32](repeating: 0, count: sums.count)
        // Each block's row segment summed as integers (exact, as the sums in Double are: they
        // hold integers far below 2^53), one slab of blocks per job.
        hu.voxels.withUnsafeBufferPointer { values in
            sums.withUnsafeMutableBufferPointer { sumBuffer in
                counts.withUnsafeMutableBufferPointer { countBuffer in
                    let (v, total, number) = (UncheckedSendable(values.baseAddress!), UncheckedSendable(sumBuffer.baseAddress!),
                                              UncheckedSendable(countBuffer.baseAddress!))
                    parallelFor(0..<n.z, grain: 1, threads: MaskComponents.resolved(threads)) { slabs in
                        for cz in slabs {
                            for z in (cz * block.z)..<min((cz + 1) * block.z, d.z) {
                                for y in 0..<d.y {
                                    let row = v.value + (z * d.y + y) * d.x, coarseRow = (cz * n.y + y / block.y) * n.x
                                    for bx in 0..<n.x {
                                        let (x0, x1) = (bx * block.x, min((bx + 1) * block.x, d.x))
                                        var sum = 0
                                        for x in x0..<x1 { sum &+= Int(row[x]) }
                                        total.value[coarseRow + bx] += Double(sum)
                                        number.value[coarseRow + bx] += Int32(x1 - x0)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Volume(geometry: geometry, voxels: zip(sums, counts).map { Float($0 / Double(max($1, 1))) })
    }

    /// Mean and standard deviation over a voxel's 3 × 3 × 3 neighbourhood (clipped at the border).
    static func localStatistics(_ v: Volume<Float>, at index: Int) -> (mean: Double, sd: Double) {
        let d = v.dimensions
        let x = index % d.x, y = (index / d.x) % d.y, z = index / (d.x * d.y)
        var s = 0.0, s2 = 0.0, n = 0.0
        for zz in max(0, z - 1)...min(d.z - 1, z + 1) {
            for yy in max(0, y - 1)...min(d.y - 1, y + 1) {
                let row = (zz * d.y + yy) * d.x
                for xx in max(0, x - 1)...min(d.x - 1, x + 1) {
                    let value = Double(v.voxels[row + xx])
                    s += value
                    s2 += value * value
                    n += 1
                }
            }
        }
        let mean = s / n
        return (mean, max(0, s2 / n - mean * mean).squareRoot())
    }

    /// 6-connected components of the non-zero voxels (offsets per component).
    static func label(_ mask: [UInt8], _ nx: Int, _ ny: Int, _ nz: Int, _ include: (Int) -> Bool) -> [[Int]] {
        var seen = [Bool](repeating: false, count: mask.count)
        var components: [[Int]] = []
        for i in mask.indices where mask[i] != 0 && !seen[i] {
            components.append(flood(from: [i], nx, ny, nz, seen: &seen) { mask[$0] != 0 && include($0) })
        }
        return components
    }

    /// Every voxel 6-connected to `starts` through voxels that pass `inside` (the starts included).
    static func flood(from starts: [Int], _ nx: Int, _ ny: Int, _ nz: Int, _ inside: (Int) -> Bool) -> [Int] {
        var seen = [Bool](repeating: false, count: nx * ny * nz)
        return flood(from: starts, nx, ny, nz, seen: &seen, inside)
    }

    private static func flood(from starts: [Int], _ nx: Int, _ ny: Int, _ nz: Int, seen: inout [Bool],
                              _ inside: (Int) -> Bool) -> [Int] {
        var queue: [Int] = []
        for s in starts where !seen[s] {
            seen[s] = true
            queue.append(s)
        }
        var head = 0
        let plane = nx * ny
        while head < queue.count {
            let i = queue[head]
            head += 1
            let x = i % nx, y = (i / nx) % ny, z = i / plane
            for (n, ok) in [(i - 1, x > 0), (i + 1, x < nx - 1), (i - nx, y > 0), (i + nx, y < ny - 1),
                            (i - plane, z > 0), (i + plane, z < nz - 1)] where ok && !seen[n] && inside(n) {
                seen[n] = true
                queue.append(n)
            }
        }
        return queue
    }
}
