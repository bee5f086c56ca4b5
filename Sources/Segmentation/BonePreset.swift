import VolumeCore

/// Bone on CT: threshold-seeded region growing.
///
/// The region is every component of voxels in [lower, upper] HU that holds a seed: the given
/// seeds, or, without them, every voxel at or above `seedHU` (dense cortical bone and teeth).
/// Components smaller than `minimumIslandML` are removed, and, unless disabled, components lying
/// mostly outside the body (the scanner table, a head rest) are excluded.
///
/// - Contrast: blood with contrast (heart, aorta, dense contrast in veins) is found by its shape
///   (`ContrastPools`) and left out before the components are made, so that neither it nor the
///   bone it touches through partial volume joins; no automatic seed starts in it.
/// - Thick voxels: thin bone (a rib) in voxels thicker than `partialVolumeMM` loses brightness to
///   partial volume and breaks into pieces that meet only at edges and corners. There the seed
///   level falls in proportion to the voxel size (never below `lower` + 100 HU) and components
///   are 26-connected. Up to `partialVolumeMM` nothing changes.
/// - Metal (components above `metalHU` of at least 0.5 mL, outside contrast) is reported.
public struct BonePreset: Sendable {
    public var lower: Double = 226
    public var upper: Double = 3071
    /// Automatic seeds: voxels at or above this value (used when no seed is given).
    public var seedHU: Double = 700
    public var minimumIslandML: Double = 0.1
    public var excludeTable = true
    /// Leave contrast-filled blood out (`ContrastPools`): on by default; a study without
    /// contrast pools is unaffected.
    public var excludeContrast = true
    public var connectivity: Connectivity = .six
    /// Voxels thicker than this (largest spacing, mm) get the thick-voxel rules above.
    public var partialVolumeMM: Double = 2
    public var metalHU: Double = 2500
    public var threads: Int?

    public init() {}

    public static let label = LabelInfo(value: 1, name: "bone", color: RGBA(0.93, 0.89, 0.80))

    public struct Result: Sendable {
        public var mask: Volume<UInt8>
        public var voxelCount: Int
        public var volumeML: Double
        /// User seeds (resolved), or none when seeds were automatic.
        public var seeds: [ResolvedSeed]
        public var automaticSeedVoxels: Int
        public var islandsRemoved: Int
        /// Components left out as table or head rest: (voxels, fraction inside the body).
        public var tableComponents: [(voxels: Int, insideBody: Double)]
        /// Contrast-filled blood found and left out (nil when not looked for).
        public var contrast: ContrastPools.Finding?
        /// The automatic seed level used (after the thick-voxel rule).
        public var seedLevel: Double
        /// Metal: volume (mL) above `metalHU`, and the centre of the largest piece (LPS mm).
        public var metalML: Double
        public var metalCentre: SIMD3<Double>?
        public var warnings: [Notice]
    }

    public func run(_ volume: AnyVolume, modality: String, seeds: [Seed] = []) throws(SegmentationError) -> Result {
        guard modality == "CT" else { throw .wrongModality(structure: Self.label.name, expected: "CT", found: modality) }
        guard case .int16(let hu) = volume else {
            throw .invalidParameter(name: "volume", reason: "bone expects CT in whole Hounsfield units (Int16)")
        }
        guard lower <= upper else { throw .emptyInterval(lower: lower, upper: upper) }
        let workers = MaskComponents.resolved(threads)
        let (lo, hi) = int16Bounds(lower, upper)
        guard lo <= hi else { throw .emptyInterval(lower: lower, upper: upper) }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }
        for seed in resolved where !(seed.value >= lower && seed.value <= upper) {
            throw .seedOutsideInterval(seed: seed.given.description, value: seed.value, lower: lower, upper: upper)
        }
        var contrast: ContrastPools.Finding?
        var allowed: Volume<UInt8>?
        if excludeContrast {
            var finder = ContrastPools()
            finder.lower = lower
            finder.threads = workers
            let finding = finder.find(hu)
            contrast = finding
            if !finding.isEmpty {
                var outside = finding.mask
                for i in outside.voxels.indices { outside.voxels[i] = outside.voxels[i] == 0 ? 1 : 0 }
                allowed = outside
                for seed in resolved where finding.mask[seed.index.x, seed.index.y, seed.index.z] != 0 {
                    throw .refused(.seedInContrast, ["seed": seed.given.description],
                                   "seed \(seed.given): lies in contrast-filled blood (a blood pool or a vein with contrast), not in bone: place it in bone, or run with contrast exclusion off")
                }
            }
        }
        let thickVoxels = volume.geometry.spacing.max() > partialVolumeMM
        let seedLevel = thickVoxels ? max(lower + 100, seedHU * 1.5 / volume.geometry.spacing.max()) : seedHU
        let runs = RegionGrowing.components(hu, lower: lo, upper: hi, mask: allowed, windows: nil,
                                            connectivity: thickVoxels ? .twentySix : connectivity, threads: workers)
        var seeded = [Bool](repeating: false, count: runs.runs.count)
        var automatic = 0
        if resolved.isEmpty {
            // Roots of every run holding a voxel ≥ seedHU.
            let seedValue = Int16(clamping: Int(saturating: seedLevel.rounded(.up)))
            hu.voxels.withUnsafeBufferPointer { values in
                for row in 0..<(runs.ny * runs.nz) {
                    for index in runs.rowRange(row) {
                        let run = runs.runs[index]
                        let base = row * runs.nx
                        var count = 0
                        for x in RunComponents.x0(run)...RunComponents.x1(run) where values[base + x] >= seedValue { count += 1 }
                        if count > 0 {
                            seeded[Int(runs.label[index])] = true
                            automatic += count
                        }
                    }
                }
            }
            guard automatic > 0 else {
                throw .refused(.noBoneSeed, ["level": format(seedLevel.rounded())],
                               "no voxel at or above \(format(seedLevel.rounded())) HU to seed bone: give --seed, or a lower seed threshold")
            }
        } else {
            for seed in resolved {
                if let run = runs.run(containing: seed.index.x, y: seed.index.y, z: seed.index.z) {
                    seeded[Int(runs.label[run])] = true
                }
            }
        }
        // Component sizes, then islands and table.
        var voxels = [Int](repeating: 0, count: runs.runs.count)
        for index in 0..<runs.runs.count where seeded[Int(runs.label[index])] {
            voxels[Int(runs.label[index])] += RunComponents.x1(runs.runs[index]) - RunComponents.x0(runs.runs[index]) + 1
        }
        let minimum = minimumIslandML * 1000 / volume.geometry.voxelVolume
        var islands = 0
        for root in voxels.indices where seeded[root] && Double(voxels[root]) < minimum {
            seeded[root] = false
            islands += 1
        }
        var table: [(voxels: Int, insideBody: Double)] = []
        var warnings: [Notice] = []
        if excludeTable {
            let body = Self.body(hu, threads: workers)
            let inside = Self.voxelsPerComponent(runs, among: seeded) { body.contains($0, $1, $2) }
            for root in voxels.indices where seeded[root] {
                let fraction = Double(inside[root]) / Double(voxels[root])
                if fraction < 0.5 {
                    seeded[root] = false
                    table.append((voxels[root], fraction))
                }
            }
            if seeded.allSatisfy({ !$0 }) && !table.isEmpty {
                warnings.append(Notice(.tableOnly, text: "every bone component lay mostly outside the body and was taken for the table; " +
                    "run with table exclusion off if this study is not of a body"))
            }
        }
        // What is left of contrast beside the blood taken out (a dense streak in the atrium, the
        // rim of a vein) lies mostly next to it (within about two blocks of 3 mm); bone touches
        // it only along part of its surface.
        if let contrast, !contrast.isEmpty {
            let close = Self.voxelsPerComponent(runs, among: seeded) { contrast.isNear($0, $1, $2) }
            for root in voxels.indices where seeded[root] && 2 * close[root] >= voxels[root] { seeded[root] = false }
        }
        let selected = runs.label.map { seeded[Int($0)] }
        let mask = runs.mask(selected: selected, geometry: volume.geometry, threads: workers)
        let count = voxels.indices.reduce(0) { $0 + (seeded[$1] ? voxels[$1] : 0) }
        guard count > 0 else {
            throw .refused(.noBone, ["lower": format(lower), "upper": format(upper)], "no bone found in [\(format(lower)), \(format(upper))] HU")
        }
        let metal = Self.metal(hu, above: metalHU, allowed: allowed, threads: workers)
        return Result(mask: mask, voxelCount: count, volumeML: Double(count) * volume.geometry.voxelVolume / 1000,
                      seeds: resolved, automaticSeedVoxels: automatic, islandsRemoved: islands,
                      tableComponents: table, contrast: contrast, seedLevel: seedLevel, metalML: metal.ml,
                      metalCentre: metal.centre, warnings: warnings)
    }

    /// Per component (by root run), how many of its voxels pass `test` (x, y, z); only the
    /// components marked in `among` are looked at.
    static func voxelsPerComponent(_ runs: RunComponents, among: [Bool], where test: (Int, Int, Int) -> Bool) -> [Int] {
        var counts = [Int](repeating: 0, count: runs.runs.count)
        for row in 0..<(runs.ny * runs.nz) {
            let (y, z) = (row % runs.ny, row / runs.ny)
            for index in runs.rowRange(row) where among[Int(runs.label[index])] {
                let run = runs.runs[index]
                for x in RunComponents.x0(run)...RunComponents.x1(run) where test(x, y, z) {
                    counts[Int(runs.label[index])] += 1
                }
            }
        }
        return counts
    }

    /// Components (26-connected) above `level` of at least 0.5 mL, where `allowed` (if given) is
    /// set: their volume, and the centre of the largest. Counted on the components' runs, with no
    /// volume of its own.
    static func metal(_ hu: Volume<Int16>, above level: Double, allowed: Volume<UInt8>?, threads: Int)
        -> (ml: Double, centre: SIMD3<Double>?) {
        let threshold = Int16(clamping: Int(saturating: level.rounded(.down)))
        guard threshold < .max, hu.voxels.contains(where: { $0 > threshold }) else { return (0, nil) }
        let runs = RegionGrowing.components(hu, lower: threshold + 1, upper: .max, mask: allowed, windows: nil,
                                            connectivity: .twentySix, threads: threads)
        let minimum = 500 / hu.geometry.voxelVolume
        let kept = MaskComponents.sizes(runs).filter { Double($0.voxels) >= minimum }
        guard let largest = kept.first else { return (0, nil) }
        let voxels = kept.reduce(0) { $0 + $1.voxels }
        // The largest piece's centre: its runs' sums of x (x0 + … + x1), y and z.
        var sum = SIMD3<Double>.zero, n = 0.0
        for row in 0..<(runs.ny * runs.nz) {
            let (y, z) = (Double(row % runs.ny), Double(row / runs.ny))
            for index in runs.rowRange(row) where Int(runs.label[index]) == largest.root {
                let (x0, x1) = (Double(RunComponents.x0(runs.runs[index])), Double(RunComponents.x1(runs.runs[index])))
                let length = x1 - x0 + 1
                sum += SIMD3((x0 + x1) * length / 2, y * length, z * length)
                n += length
            }
        }
        return (Double(voxels) * hu.geometry.voxelVolume / 1000, hu.geometry.patientPosition(ofIndex: sum / max(n, 1)))
    }

    /// The body on a coarse grid (about 2 mm voxels, sampled at block centres): tissue above
    /// −400 HU, opened by 5 mm (which cuts thin contacts with a table or pad); its body parts
    /// (`BodyParts`: the largest component and every other one of at least 20 mL that is mostly
    /// soft tissue, such as an arm lying at the side or the other knee; not a table, a pad or a
    /// head rest); cavities filled.
    struct Body {
        var mask: Volume<UInt8>
        var block: SIMD3<Int>

        func contains(_ x: Int, _ y: Int, _ z: Int) -> Bool {
            let d = mask.dimensions
            return mask[min(x / block.x, d.x - 1), min(y / block.y, d.y - 1), min(z / block.z, d.z - 1)] != 0
        }
    }

    static func body(_ hu: Volume<Int16>, threads: Int) -> Body {
        let g = hu.geometry
        // 2 mm blocks, at most the volume itself.
        let block = SIMD3((0..<3).map { max(1, min(g.dimensions[$0], Int(saturating: (2.0 / g.spacing[$0]).rounded(.down)))) })
        let coarse = SIMD3((g.dimensions.x + block.x - 1) / block.x, (g.dimensions.y + block.y - 1) / block.y,
                           (g.dimensions.z + block.z - 1) / block.z)
        var geometry = g
        geometry.dimensions = coarse
        geometry.spacing = g.spacing * SIMD3<Double>(Double(block.x), Double(block.y), Double(block.z))
        var tissue = Volume<UInt8>(geometry: geometry, filledWith: 0)
        for k in 0..<coarse.z {
            for j in 0..<coarse.y {
                for i in 0..<coarse.x {
                    let x = min(i * block.x + block.x / 2, g.dimensions.x - 1)
                    let y = min(j * block.y + block.y / 2, g.dimensions.y - 1)
                    let z = min(k * block.z + block.z / 2, g.dimensions.z - 1)
                    if hu[x, y, z] > -400 { tissue[i, j, k] = 1 }
                }
            }
        }
        let opened = Morphology.open(tissue, radius: 5, threads: threads)
        let runs = MaskComponents.label(opened, .six, threads)
        let keep = BodyParts.keep(runs, sizes: MaskComponents.sizes(runs), voxelML: geometry.voxelVolume / 1000) { i, j, k in
            BodyParts.isSoftTissue(hu[min(i * block.x + block.x / 2, g.dimensions.x - 1), min(j * block.y + block.y / 2, g.dimensions.y - 1),
                                      min(k * block.z + block.z / 2, g.dimensions.z - 1)])
        }
        let kept = runs.mask(selected: runs.label.map { keep[Int($0)] }, geometry: geometry, threads: threads)
        let body = Morphology.fillHoles(kept, threads: threads)
        return Body(mask: body, block: block)
    }
}

/// Global thresholding: every voxel in [lower, upper], no seeds.
public enum Thresholding {
    public static func mask(_ volume: AnyVolume, lower: Double, upper: Double, threads: Int? = nil) throws(SegmentationError)
        -> Volume<UInt8> {
        guard lower <= upper else { throw .emptyInterval(lower: lower, upper: upper) }
        func make<V: VoxelValue>(_ v: Volume<V>, _ inside: @escaping @Sendable (V) -> Bool) -> Volume<UInt8> {
            var out = [UInt8](repeating: 0, count: v.voxels.count)
            v.voxels.withUnsafeBufferPointer { values in
                out.withUnsafeMutableBufferPointer { target in
                    let (source, dest) = (UncheckedSendable(values), UncheckedSendable(target))
                    parallelFor(0..<values.count, grain: 1 << 18, threads: threads) { range in
                        for index in range { dest.value[index] = inside(source.value[index]) ? 1 : 0 }
                    }
                }
            }
            return Volume(geometry: v.geometry, voxels: out)
        }
        switch volume {
        case .int16(let v):
            let (lo, hi) = int16Bounds(lower, upper)
            return make(v) { $0 >= lo && $0 <= hi }
        case .float32(let v):
            let (lo, hi) = (Float(lower), Float(upper))
            return make(v) { $0 >= lo && $0 <= hi }
        }
    }
}
