import Foundation
import VolumeCore

/// Contrast-filled vessels on CT angiography (or bright vessels on MR angiography), grown from
/// one or more seeds in the lumen.
///
/// - Window: from the study, not fixed. On CT, the blood's value μ is the median of a 3 mm ball
///   around the seeds (σ from its median absolute deviation); the window runs from half-way
///   between soft tissue (40 HU) and μ up to μ + max(4σ, 0.6·(μ − 40)), so arterial,
///   portal-venous and late phases each get their own. A seed whose neighbourhood is below 100 HU is not in
///   contrast-filled blood and is refused. That half-way bound is a floor: the bound starts just
///   below the blood and moves down to it only while growth through the window stays gradual
///   (`settledLower`), so that an enhanced organ around a vein (the liver around the portal vein)
///   or marrow behind an unresolved cortex does not join. On MR: from half the seeds' mean to the maximum.
///   Given bounds replace these.
/// - Bone (CT): what the bone preset finds (contrast-aware), with its marrow (holes of up to
///   `marrowAreaCM2` in each slice filled) and a margin of `boneMarginMM` (at least a voxel), is
///   left out, so that growth cannot cross into vertebrae whose trabecular bone lies in the
///   window (the bone is closed by max(3 mm, 1.5 voxels) before its holes are filled, since a
///   vertebra's cortex is not always whole at the bone threshold). When a seed lies in that (its vessel touches bone, so the bone label took it), bone
///   is told by brightness alone, as on MR. On MR, a window
///   voxel within the margin of a voxel brighter than the window is left out.
/// - Heart chambers: after growing, parts thicker than a vessel are cut off. The region is eroded
///   by `chamberCoreMM` (then 1.5 and 2 times that, until something parts), which parts it at its
///   necks (valves, vessels pressed together); a part whose largest inscribed ball is wider than
///   max(1.4 × the vessel at the seed, `chamberRadiusMM`) and that holds no seed is a chamber, and
///   it is removed with its surroundings up to the erosion's reach. What stays connected to a
///   seed is the vessel. On CT a chamber's thickness is measured with the contrast brighter than
///   the window beside it (and pockets of up to 1 mm³ enclosed by both), so that a chamber whose
///   values straddle the window's top (a mixing right atrium, a left ventricle seen from a darker
///   false lumen) is not a sponge of thin pieces; the vessel it is compared with is measured as
///   grown. Veins full of undiluted contrast (found by `ContrastPools`) are left
///   out unless a seed lies in them.
/// - Leak guards: growth goes breadth-first in waves and stops before a wave `widening` times
///   wider than the median of the last 30 (a vessel opening into an organ of the same intensity),
///   or one that would pass `maxVolumeML`; either is reported.
public struct VesselPreset: Sendable {
    public var lower: Double?
    public var upper: Double?
    public var boneMarginMM: Double = 2
    /// CT: leave the bone preset's bone out (off: only the window bounds growth).
    public var excludeBone = true
    public var marrowAreaCM2: Double = 15
    public var chamberRadiusMM: Double = 18
    public var chamberCoreMM: Double = 4.5
    public var maxVolumeML: Double = 500
    public var widening: Double?
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
        /// CT: the blood's value around the seeds (median) the window was taken from.
        public var seedMedian: Double?
        /// MR: window voxels next to the region left out as the edge of brighter structures.
        public var edgeVoxelsExcluded: Int
        /// CT: voxels left out as bone (the bone preset's label, its marrow and the margin).
        public var boneVoxelsExcluded: Int
        /// Heart chambers (or other parts thicker than a vessel) cut off, mL.
        public var chambersRemovedML: Double
        public var waves: Int
        /// Why growth ended early, if it did (front widening or the volume limit).
        public var stop: GrowthStop?
        public var warnings: [Notice]
    }

    public func run(_ volume: AnyVolume, modality: String, seeds: [Seed]) throws(SegmentationError) -> Result {
        guard !seeds.isEmpty else { throw .noSeeds }
        guard boneMarginMM >= 0, maxVolumeML > 0, (widening ?? 2) > 1, chamberRadiusMM > 0, chamberCoreMM > 0, marrowAreaCM2 >= 0 else {
            throw .invalidParameter(name: "vessel preset", reason: "the bone margin must be ≥ 0 mm, the volume limit > 0 mL, widening > 1, the chamber sizes > 0 mm")
        }
        var resolved: [ResolvedSeed] = []
        for seed in seeds { resolved.append(try seed.resolve(in: volume)) }
        let g = volume.geometry
        let (floor, high, blood) = try window(volume, modality: modality, seeds: resolved)
        let median = blood?.median
        let maxVoxels = Int(saturating: (maxVolumeML * 1000 / g.voxelVolume).rounded(.down))
        let exploration = maxVoxels.multipliedReportingOverflow(by: 4).overflow ? .max : 4 * maxVoxels
        // CT without a given lower bound: raised above an organ or marrow that would join (below).
        // One working grid for every growth that keeps no region (it comes back all zero), handed
        // on to the first that does: the volume's size is filled once, not at every step.
        var scratch: [UInt8] = []
        var low = floor, reached: Reach?, jump: (from: Double, to: Double)?
        if lower == nil, let blood, case .int16(let hu) = volume {
            (low, reached, jump) = try settledLower(hu, blood: blood, floor: floor, upper: high, seeds: resolved, cap: exploration, scratch: &scratch)
        }
        for seed in resolved where !(seed.value >= low && seed.value <= high) {
            let hint = modality == "CT" && seed.value < low
                ? "is this CT contrast-enhanced? On a CT without contrast vessels are not brighter than soft tissue; for this study give --lower/--upper, or place the seed in the contrast-filled lumen"
                : "place the seed inside the vessel's lumen, or give --lower/--upper"
            let v = ["seed": seed.given.description, "value": format(seed.value.rounded()), "low": format(low.rounded()), "high": format(high.rounded())]
            throw .refused(modality == "CT" && seed.value < low ? .seedBelowWindow : .seedOutsideWindow, v,
                           "seed \(seed.given): has value \(v["value"]!), outside the vessel window \(v["low"]!)…\(v["high"]!): \(hint)")
        }
        // MR (and CT without the bone rule): the local margin around brighter voxels.
        func grown(within allowed: Excluded?, limit: Int) throws(SegmentationError) -> Growth {
            var state: [UInt8] = []
            swap(&state, &scratch)
            switch volume {
            case .int16(let v):
                let (lo, hi) = int16Bounds(low, high)
                return try grow(v, lower: lo, upper: hi, radii: radii, excluded: allowed, seeds: resolved, maxVoxels: limit, state: &state)
            case .float32(let v):
                return try grow(v, lower: Float(low), upper: Float(high), radii: radii, excluded: allowed, seeds: resolved, maxVoxels: limit, state: &state)
            }
        }
        // CT: bone as the bone preset finds it, marrow filled, with a margin; made only in the box
        // that growth through the window alone reaches (it can only shrink from there).
        var excluded: Excluded?
        var boneVoxels = 0, boneFallback = false
        if modality == "CT", excludeBone, case .int16(let hu) = volume {
            let explored: Reach
            if let reached { explored = reached } else {
                explored = try reach(hu, lower: low, upper: high, seeds: resolved, maxVoxels: exploration, scratch: &scratch)
            }
            if let box = explored.box {
                let pad = SIMD3<Int>((0..<3).map { Int((10 / g.spacing[$0]).rounded(.up)) })
                let lo = pointwiseMax(box.0 &- pad, .zero), hi = pointwiseMin(box.1 &+ pad, g.dimensions &- 1)
                let part = hu.cropped(low: lo, high: hi)
                var bone = BonePreset()
                bone.excludeTable = false
                bone.threads = threads
                if let found = try? bone.run(.int16(part), modality: modality) {
                    // The marrow: holes in each slice of the bone closed by a few millimetres (a
                    // vertebra's cortex is not always whole at the bone threshold).
                    let closed = Morphology.close(found.mask, radius: max(3, 1.5 * g.spacing.max()), threads: threads)
                    var local = Self.fillSmallHoles(closed, maximumAreaMM2: marrowAreaCM2 * 100)
                    for i in local.voxels.indices where found.mask.voxels[i] != 0 { local.voxels[i] = 1 }
                    // Veins full of undiluted contrast (the injected side's veins, the superior
                    // vena cava, the atrium they fill) are not the arteries seeded: left out too.
                    // (A finding with nothing in it holds no grid to read.)
                    if let contrast = found.contrast, !contrast.isEmpty,
                       !resolved.contains(where: { contrast.veins[$0.index.x - lo.x, $0.index.y - lo.y, $0.index.z - lo.z] != 0 }) {
                        for i in local.voxels.indices where contrast.veins.voxels[i] != 0 { local.voxels[i] = 1 }
                    }
                    local = Morphology.dilate(local, radius: boneMarginMM > 0 ? max(boneMarginMM, 1.01 * g.spacing.max()) : 0, threads: threads)
                    if resolved.contains(where: { local[$0.index.x - lo.x, $0.index.y - lo.y, $0.index.z - lo.z] != 0 }) {
                        // The vessel touches bone and joined the bone label: bone is then told by
                        // its brightness alone (the local margin).
                        boneFallback = true
                    } else {
                        boneVoxels = local.voxels.reduce(0) { $0 + Int($1) }
                        // Outside the box is left out too: growth through the window alone stayed in it.
                        excluded = Excluded(inside: local, at: lo)
                    }
                }
            }
        }
        let radii = excluded == nil && (modality != "CT" || excludeBone)
            ? SIMD3<Int>((0..<3).map { boneMarginMM > 0 ? min(g.dimensions[$0], Int(saturating: (boneMarginMM / g.spacing[$0]).rounded(.up))) : 0 })
            : SIMD3<Int>(repeating: 0)
        var growth = try grown(within: excluded, limit: exploration)
        // CT: contrast brighter than the window (not bone) counts as blood when thickness is
        // measured, so a chamber whose values straddle the window's top is seen whole.
        var brighter: Volume<UInt8>?
        if let excluded, case .int16(let hu) = volume, let box = growth.box {
            // Only next to the region counts (the chamber cut looks no further than its box).
            let top = int16Bounds(low, high).1
            let a = pointwiseMax(box.0 &- 1, .zero), b = pointwiseMin(box.1 &+ 1, g.dimensions &- 1)
            var above = Volume<UInt8>(geometry: VolumeGeometry(dimensions: b &- a &+ 1, spacing: g.spacing), filledWith: 0)
            for z in a.z...b.z {
                for y in a.y...b.y {
                    for x in a.x...b.x where hu[x, y, z] > top && !excluded.excludes(x, y, z) { above[x - a.x, y - a.y, z - a.z] = 1 }
                }
            }
            brighter = above
        }
        let cut = cutChambers(&growth.mask, box: growth.box, seeds: resolved, brighter: brighter)
        growth.voxels -= cut
        if growth.voxels > maxVoxels {
            // Held to the limit: grown again inside what was kept, nearest the seeds first.
            var outside = growth.mask
            for i in outside.voxels.indices { outside.voxels[i] = outside.voxels[i] == 0 ? 1 : 0 }
            let waves = growth.waves, edge = growth.edgeVoxels
            growth = try grown(within: Excluded(inside: outside, at: .zero), limit: maxVoxels)
            (growth.waves, growth.edgeVoxels) = (max(waves, growth.waves), edge)
        } else if case .volumeLimit = growth.stop {
            growth.stop = nil
        }
        var warnings: [Notice] = []
        if let jump {
            let values = ["low": format(low.rounded()), "floor": format(floor.rounded()), "fromML": format(jump.from.rounded()), "toML": format(jump.to.rounded())]
            warnings.append(Notice(.windowRaised, values,
                                   text: "the window starts at \(values["low"]!) HU, not \(values["floor"]!): one step lower, growth through the " +
                                       "window alone went from \(values["fromML"]!) mL to more than \(values["toML"]!) mL (an organ or " +
                                       "bone marrow of that value next to the vessel)"))
        }
        if let stop = growth.stop { warnings.append(stop.notice) }
        if boneFallback {
            warnings.append(Notice(.seedInBone, ["marginMM": format(boneMarginMM)],
                                   text: "a seed lies in what the bone preset takes for bone (a vessel touching bone joins it): " +
                                       "bone was left out by brightness alone, within \(format(boneMarginMM)) mm of voxels above the window"))
        }
        if cut > 0 {
            let ml = format((Double(cut) * g.voxelVolume / 1000).rounded())
            warnings.append(Notice(.chambersCut, ["ml": ml], text: "cut off \(ml) mL thicker than a vessel (a heart chamber, or a vessel " +
                                       "pressed against one): the region stops at its neck"))
        }
        if growth.voxels < 30 {
            let (from, to) = (format(low.rounded()), format(high.rounded()))
            warnings.append(Notice(.fewVoxels, ["voxels": String(growth.voxels), "low": from, "high": to],
                                   text: "only \(growth.voxels) voxel(s) grew from the seeds: the window \(from)…\(to) may not suit this study"))
        }
        return Result(mask: growth.mask, voxelCount: growth.voxels, volumeML: Double(growth.voxels) * g.voxelVolume / 1000,
                      seeds: resolved, lower: low, upper: high, seedMedian: median, edgeVoxelsExcluded: growth.edgeVoxels,
                      boneVoxelsExcluded: boneVoxels, chambersRemovedML: Double(cut) * g.voxelVolume / 1000, waves: growth.waves,
                      stop: growth.stop, warnings: warnings)
    }

    /// This preset with only the window bounding growth.
    private func windowOnly() -> VesselPreset {
        var plain = self
        plain.excludeBone = false
        plain.boneMarginMM = 0
        return plain
    }

    /// CT: the window's lower bound. From just below the blood (μ − 2σ, or the darkest seed) it is
    /// moved down towards `floor` in steps of max(σ, (μ − 40) / 20) while growth through the
    /// window alone at most doubles at each step; a step that more than doubles it has reached an
    /// organ or bone marrow lying between soft tissue and the blood (a portal vein in an enhanced
    /// liver, an aorta against a vertebra whose cortex the scan does not resolve), and the bound
    /// stays one step above it. Returns the bound, the growth at it (for the bone preset's box)
    /// and, when the bound was held, the volumes (mL) of the jump.
    private func settledLower(_ hu: Volume<Int16>, blood: (median: Double, sigma: Double), floor: Double, upper: Double,
                              seeds: [ResolvedSeed], cap: Int, scratch: inout [UInt8]) throws(SegmentationError) -> (Double, Reach?, (from: Double, to: Double)?) {
        let ml = hu.geometry.voxelVolume / 1000
        var level = min(blood.median - 2 * blood.sigma, seeds.map(\.value).min()!)
        guard level > floor else { return (floor, nil, nil) }
        let step = max(blood.sigma, (blood.median - 40) / 20, 1)
        var last = try reach(hu, lower: level, upper: upper, seeds: seeds, maxVoxels: cap, scratch: &scratch)
        // Already past the cap just below the blood: the bound does not decide, the floor stands.
        guard last.stop == nil else { return (floor, nil, nil) }
        while level > floor {
            let next = max(level - step, floor)
            let most = min(cap, 2 * max(last.voxels, 1))
            let grown = try reach(hu, lower: next, upper: upper, seeds: seeds, maxVoxels: most, scratch: &scratch)
            if grown.stop != nil {
                return (level, last, (Double(last.voxels) * ml, Double(most) * ml))
            }
            (level, last) = (next, grown)
        }
        return (floor, last, nil)
    }

    /// Cuts parts thicker than a vessel off `mask` (see the type's notes), whose voxels lie in
    /// `box`; `brighter` covers the box and a voxel around it. Returns the voxels removed.
    private func cutChambers(_ mask: inout Volume<UInt8>, box: (SIMD3<Int>, SIMD3<Int>)?, seeds: [ResolvedSeed], brighter: Volume<UInt8>?) -> Int {
        let g = mask.geometry
        guard let box else { return 0 }
        let low = pointwiseMax(box.0 &- 1, .zero), high = pointwiseMin(box.1 &+ 1, g.dimensions &- 1)
        let region = mask.cropped(low: low, high: high)
        let c = region.geometry
        var solid = region
        if let brighter {
            // Made over the same box (one voxel around the region).
            for i in solid.voxels.indices where brighter.voxels[i] != 0 { solid.voxels[i] = 1 }
            // Pockets of noise enclosed by blood (up to 1 mm³ … 8 voxels) are blood too: one
            // would cap the depth. Larger cavities (tissue ringed by vessels) stay.
            solid = Morphology.fillHoles(solid, maximumVoxels: max(8, Int(1 / c.voxelVolume)), threads: threads)
        }
        // Nothing can be thicker than `chamberRadiusMM` (the usual case: vessels only)? A bound
        // from a grid four times coarser says so at a sixty-fourth of the cost.
        if Self.deepestBound(solid, threads: threads) <= chamberRadiusMM { return 0 }
        let depth = Morphology.squaredDistance(to: solid, inside: false, threads: threads).map { $0.squareRoot() }
        guard depth.contains(where: { Double($0) > chamberRadiusMM }) else { return 0 }
        // The vessel at the seeds: the deepest point within 5 mm of each, in the region as grown
        // (a chamber is measured with its brighter part, the vessel it is compared with is not).
        let grownDepth = brighter == nil ? depth
            : Morphology.squaredDistance(to: region, inside: false, threads: threads).map { $0.squareRoot() }
        var vessel = 0.0
        for seed in seeds {
            let local = seed.index &- low
            let reach = SIMD3<Int>((0..<3).map { Int((5 / c.spacing[$0]).rounded(.up)) })
            let a = pointwiseMax(local &- reach, .zero), b = pointwiseMin(local &+ reach, c.dimensions &- 1)
            for k in a.z...b.z { for j in a.y...b.y { for i in a.x...b.x { vessel = max(vessel, Double(grownDepth[c.offset(i, j, k)])) } } }
        }
        let chamber = max(1.4 * vessel, chamberRadiusMM)
        guard depth.contains(where: { Double($0) > chamber }) else { return 0 }
        // Eroded by the core radius, then by 1.5 and 2 times it until a chamber parts from the
        // seeds' part (a wide join, such as a dissected aorta against the heart, needs more).
        var found: Volume<UInt8>?
        for radius in [chamberCoreMM, 1.5 * chamberCoreMM, 2 * chamberCoreMM] {
            var cores = Volume<UInt8>(geometry: c, filledWith: 0)
            for i in depth.indices where Double(depth[i]) > radius { cores.voxels[i] = 1 }
            let runs = MaskComponents.label(cores, .six, threads)
            var deepest = [Float](repeating: 0, count: runs.runs.count)
            var holdsSeed = [Bool](repeating: false, count: runs.runs.count)
            for row in 0..<(runs.ny * runs.nz) {
                let base = row * runs.nx
                for index in runs.rowRange(row) {
                    let run = runs.runs[index], root = Int(runs.label[index])
                    for x in RunComponents.x0(run)...RunComponents.x1(run) { deepest[root] = max(deepest[root], depth[base + x]) }
                }
            }
            for seed in seeds {
                let local = seed.index &- low
                if let run = runs.run(containing: local.x, y: local.y, z: local.z) { holdsSeed[Int(runs.label[run])] = true }
            }
            let chambers = runs.label.map { Double(deepest[Int($0)]) > chamber && !holdsSeed[Int($0)] }
            guard chambers.contains(true) else { continue }
            found = Morphology.dilate(runs.mask(selected: chambers, geometry: c, threads: MaskComponents.resolved(threads)),
                                      radius: radius + 1.5 * c.spacing.max(), threads: threads)
            break
        }
        guard let zone = found else { return 0 }
        var rest = region
        for i in rest.voxels.indices where zone.voxels[i] != 0 { rest.voxels[i] = 0 }
        let kept = MaskComponents.keepConnected(rest, to: seeds.map { $0.index &- low }, connectivity: connectivity, threads: threads)
        let before = region.voxels.reduce(0) { $0 + Int($1) }, after = kept.voxels.reduce(0) { $0 + Int($1) }
        guard after > 0 else { return 0 }
        var out = Volume<UInt8>(geometry: g, filledWith: 0)
        out.paste(kept, at: low)
        mask = out
        return before - after
    }

    /// An upper bound (mm) on the distance from any voxel of `mask` to the nearest voxel outside
    /// it (outside the grid does not count), from the mask pooled into cells of 4³ voxels: a cell
    /// is in when any of its voxels is. A voxel lies within 1.5 voxels (per axis) of its cell's
    /// centre, so its depth is at most its cell's depth plus twice that half-diagonal.
    static func deepestBound(_ mask: Volume<UInt8>, threads: Int?) -> Double {
        let d = mask.dimensions, cell = 4
        let coarse = SIMD3<Int>((0..<3).map { (d[$0] + cell - 1) / cell })
        var pooled = Volume<UInt8>(geometry: VolumeGeometry(dimensions: coarse, spacing: mask.spacing * Double(cell)), filledWith: 0)
        for z in 0..<d.z {
            for y in 0..<d.y {
                let row = (z * d.y + y) * d.x, target = ((z / cell) * coarse.y + y / cell) * coarse.x
                for x in 0..<d.x where mask.voxels[row + x] != 0 { pooled.voxels[target + x / cell] = 1 }
            }
        }
        let deepest = Morphology.squaredDistance(to: pooled, inside: false, threads: threads).max() ?? 0
        let halfDiagonal = (1.5 * mask.spacing * 1.5 * mask.spacing).sum().squareRoot()
        return Double(deepest).squareRoot() + 2 * halfDiagonal
    }

    /// Fills, slice by slice (along the third axis), background regions enclosed by the mask of
    /// at most `maximumAreaMM2` (the marrow inside a vertebra's cortex; not the skull's or the
    /// pelvis's contents).
    static func fillSmallHoles(_ mask: Volume<UInt8>, maximumAreaMM2: Double) -> Volume<UInt8> {
        let d = mask.dimensions
        let maximum = Int(saturating: (maximumAreaMM2 / (mask.spacing.x * mask.spacing.y)).rounded(.down))
        var out = mask
        // Each slice's background as runs along x, joined into 4-connected components by the runs
        // they overlap in the row before (union–find); a component is a hole when it touches no
        // edge of the slice and holds at most `maximum` pixels.
        out.voxels.withUnsafeMutableBufferPointer { target in
            let shared = UncheckedSendable(target)
            mask.voxels.withUnsafeBufferPointer { source in
                let voxels = UncheckedSendable(source)
                parallelFor(0..<d.z, grain: 1) { slices in
                    var starts: [Int32] = [], ends: [Int32] = [], parent: [Int32] = [], rowStart: [Int] = []
                    var size: [Int] = [], border: [Bool] = []
                    func root(_ run: Int32) -> Int32 {
                        var r = run
                        while parent[Int(r)] != r { parent[Int(r)] = parent[Int(parent[Int(r)])]; r = parent[Int(r)] }
                        return r
                    }
                    for k in slices {
                        let base = k * d.x * d.y
                        starts.removeAll(keepingCapacity: true); ends.removeAll(keepingCapacity: true)
                        parent.removeAll(keepingCapacity: true); rowStart.removeAll(keepingCapacity: true)
                        for y in 0..<d.y {
                            rowStart.append(starts.count)
                            let row = voxels.value.baseAddress! + base + y * d.x
                            var x = 0
                            while x < d.x {
                                if row[x] != 0 { x += 1; continue }
                                let x0 = x
                                while x < d.x && row[x] == 0 { x += 1 }
                                let run = Int32(starts.count)
                                starts.append(Int32(x0)); ends.append(Int32(x - 1)); parent.append(run)
                            }
                            // Join with the previous row's runs that overlap this row's.
                            guard y > 0 else { continue }
                            var a = rowStart[y - 1], b = rowStart[y]
                            let (aEnd, bEnd) = (rowStart[y], starts.count)
                            while a < aEnd && b < bEnd {
                                if ends[a] >= starts[b] && ends[b] >= starts[a] {
                                    let (ra, rb) = (root(Int32(a)), root(Int32(b)))
                                    if ra != rb { parent[Int(max(ra, rb))] = min(ra, rb) }
                                }
                                if ends[a] < ends[b] { a += 1 } else { b += 1 }
                            }
                        }
                        rowStart.append(starts.count)
                        size = [Int](repeating: 0, count: starts.count)
                        border = [Bool](repeating: false, count: starts.count)
                        for y in 0..<d.y {
                            for run in rowStart[y]..<rowStart[y + 1] {
                                let r = Int(root(Int32(run)))
                                size[r] += Int(ends[run] - starts[run]) + 1
                                if y == 0 || y == d.y - 1 || starts[run] == 0 || Int(ends[run]) == d.x - 1 { border[r] = true }
                            }
                        }
                        for y in 0..<d.y {
                            for run in rowStart[y]..<rowStart[y + 1] {
                                let r = Int(root(Int32(run)))
                                guard !border[r] && size[r] <= maximum else { continue }
                                let row = shared.value.baseAddress! + base + y * d.x
                                for x in Int(starts[run])...Int(ends[run]) { row[x] = 1 }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Voxels growth may not enter: those set in `mask`, placed at `low` in the study's grid, and
    /// every voxel outside it.
    private struct Excluded {
        let mask: Volume<UInt8>
        let low: SIMD3<Int>

        init(inside mask: Volume<UInt8>, at low: SIMD3<Int>) {
            self.mask = mask
            self.low = low
        }

        @inline(__always) func excludes(_ x: Int, _ y: Int, _ z: Int) -> Bool {
            let (i, j, k) = (x - low.x, y - low.y, z - low.z)
            let d = mask.dimensions
            guard i >= 0, j >= 0, k >= 0, i < d.x, j < d.y, k < d.z else { return true }
            return mask.voxels[(k * d.y + j) * d.x + i] != 0
        }
    }

    /// How far growth reached (its region not kept).
    private struct Reach {
        var voxels: Int
        var box: (SIMD3<Int>, SIMD3<Int>)?
        var stop: GrowthStop?
    }

    private struct Growth {
        var mask: Volume<UInt8>
        /// The region's bounding box (voxel indices, inclusive), nil when it is empty.
        var box: (SIMD3<Int>, SIMD3<Int>)?
        var voxels: Int
        var waves: Int
        var edgeVoxels: Int
        var stop: GrowthStop?
    }

    /// Grows from `seeds` through eligible voxels, wave by wave (a wave: the voxels one step
    /// further from the seeds). Stops before a wave wider than `widening` × the median of the last
    /// 30 waves (and than `minimumFront`), or one that would pass `maxVoxels`.
    private func grow<V: VoxelValue>(_ volume: Volume<V>, lower: V, upper: V, radii: SIMD3<Int>, excluded: Excluded?,
                                     seeds: [ResolvedSeed], maxVoxels: Int, state: inout [UInt8]) throws(SegmentationError) -> Growth {
        if state.isEmpty { state = [UInt8](repeating: 0, count: volume.geometry.voxelCount) }
        let r = try flood(volume, lower: lower, upper: upper, radii: radii, excluded: excluded, seeds: seeds, maxVoxels: maxVoxels,
                          state: &state, keepRegion: true)
        return Growth(mask: Volume(geometry: volume.geometry, voxels: state), box: r.box, voxels: r.voxels, waves: r.waves,
                      edgeVoxels: r.edgeVoxels, stop: r.stop)
    }

    /// Growth through the window alone (no bone, no margin): how far it reaches, with `scratch`
    /// (all zero, the volume's size) as its working grid, left all zero again.
    private func reach(_ hu: Volume<Int16>, lower: Double, upper: Double, seeds: [ResolvedSeed], maxVoxels: Int,
                       scratch: inout [UInt8]) throws(SegmentationError) -> Reach {
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: hu.geometry.voxelCount) }
        let (lo, hi) = int16Bounds(lower, upper)
        let r = try windowOnly().flood(hu, lower: lo, upper: hi, radii: .zero, excluded: nil, seeds: seeds, maxVoxels: maxVoxels,
                                       state: &scratch, keepRegion: false)
        return Reach(voxels: r.voxels, box: r.box, stop: r.stop)
    }

    /// Grows in `state` (all zero on entry): with `keepRegion` it holds the region (1) after,
    /// else it is all zero again (only the voxels looked at are reset, never the whole grid).
    private func flood<V: VoxelValue>(_ volume: Volume<V>, lower: V, upper: V, radii: SIMD3<Int>, excluded: Excluded?,
                                      seeds: [ResolvedSeed], maxVoxels: Int, state: inout [UInt8], keepRegion: Bool)
        throws(SegmentationError) -> (voxels: Int, waves: Int, edgeVoxels: Int, stop: GrowthStop?, box: (SIMD3<Int>, SIMD3<Int>)?) {
        let d = volume.dimensions
        let (nx, ny, nz) = (d.x, d.y, d.z)
        let offsets = connectivity.offsets
        // 0: not looked at, 1: in the region, 2: claimed by the next wave, 3: not eligible.
        // Voxels looked at and left out (state 3, or 2 when growth stopped), and without
        // `keepRegion` the region too: reset at the end.
        var refused: [Int] = []
        var boxLow = SIMD3<Int>(repeating: .max), boxHigh = SIMD3<Int>(repeating: .min)
        var wave: [Int] = [], fronts: [Int] = []
        var total = 0, waves = 0, edgeVoxels = 0
        var stop: GrowthStop?
        var seedError: SegmentationError?
        volume.voxels.withUnsafeBufferPointer { values in
            state.withUnsafeMutableBufferPointer { state in
                /// In the window, and not within the margin of a brighter voxel.
                func eligible(_ x: Int, _ y: Int, _ z: Int, _ index: Int) -> Bool {
                    let v = values[index]
                    guard v >= lower && v <= upper else { return false }
                    if let excluded { return !excluded.excludes(x, y, z) }
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
                        if !keepRegion { refused.append(index) }
                        boxLow = pointwiseMin(boxLow, seed.index)
                        boxHigh = pointwiseMax(boxHigh, seed.index)
                    } else {
                        seedError = .refused(.seedNearBright, ["seed": seed.given.description, "marginMM": format(boneMarginMM), "upper": format(upper.doubleValue)],
                                             "seed \(seed.given): lies within \(format(boneMarginMM)) mm of a voxel brighter than the window (bone or calcification above " +
                                                 "\(format(upper.doubleValue))): place it in the vessel's lumen, away from bone")
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
                                refused.append(neighbour)
                            }
                        }
                    }
                    if next.isEmpty { break }
                    let recent = fronts.suffix(30).sorted()
                    if recent.count >= 8 {
                        let median = recent[recent.count / 2]
                        if let widening, Double(next.count) > widening * Double(max(median, minimumFront)) {
                            stop = .widenedFront(from: median, to: next.count, steps: waves + 1)
                        }
                    }
                    if stop == nil && total + next.count > maxVoxels {
                        stop = .volumeLimit(ml: maxVolumeML)
                    }
                    if stop != nil {
                        refused += next
                        break
                    }
                    if !keepRegion { refused += next }
                    for index in next {
                        state[index] = 1
                        let point = SIMD3(index % nx, (index / nx) % ny, index / (nx * ny))
                        boxLow = pointwiseMin(boxLow, point)
                        boxHigh = pointwiseMax(boxHigh, point)
                    }
                    fronts.append(next.count)
                    total += next.count
                    waves += 1
                    wave = next
                }
                for index in refused { state[index] = 0 }
            }
        }
        if let seedError { throw seedError }
        return (total, waves, edgeVoxels, stop, total > 0 ? (boxLow, boxHigh) : nil)
    }

    /// The window (see the type's notes) and, on CT, the blood's median around the seeds.
    private func window(_ volume: AnyVolume, modality: String, seeds: [ResolvedSeed]) throws(SegmentationError) -> (Double, Double, (median: Double, sigma: Double)?) {
        if modality == "CT" {
            var blood: (median: Double, sigma: Double)?
            var (low, high) = (lower ?? 0, upper ?? 0)
            if lower == nil || upper == nil {
                let values = Statistics.values(of: volume, within: 3, of: seeds).sorted()
                let mu = values[values.count / 2]
                let sigma = 1.4826 * values.map { abs($0 - mu) }.sorted()[values.count / 2]
                blood = (mu, sigma)
                if lower == nil {
                    guard mu >= 100 else {
                        throw .refused(.notContrastBlood, ["seed": seeds[0].given.description, "mean": format(mu.rounded())],
                                       "seed \(seeds[0].given): its neighbourhood is \(format(mu.rounded())) HU, not contrast-filled blood " +
                                           "(blood without contrast is 30–60 HU): is this CT contrast-enhanced? Place the seed in the contrast-filled lumen, or give --lower/--upper")
                    }
                    low = 40 + 0.5 * (mu - 40)
                }
                if upper == nil { high = mu + max(4 * sigma, 0.6 * (mu - 40)) }
            }
            guard low <= high else { throw .emptyInterval(lower: low, upper: high) }
            return (low, high, blood)
        }
        let mean = seeds.map(\.value).reduce(0, +) / Double(seeds.count)
        let maximum = volume.valueRange()?.upperBound ?? mean
        let (low, high) = (lower ?? mean / 2, upper ?? maximum)
        guard low <= high else { throw .emptyInterval(lower: low, upper: high) }
        return (low, high, nil)
    }
}
