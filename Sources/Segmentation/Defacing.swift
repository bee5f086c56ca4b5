import Foundation
import VolumeCore

/// Removes the face from a head CT or MR before anything is segmented, meshed or rendered
/// (DICOM PS3.15 Annex E, "Clean Recognizable Visual Features"), so that no surface, render or
/// label map made from the study can show it.
///
/// The face is found from the anatomy, in patient coordinates, whatever the series' orientation:
/// the body's outline is sampled on a grid of about 2 mm aligned with the patient's axes, and the
/// nose is looked for around the head (every 15° about the superior axis) as the profile's
/// sharpest forward peak near the midline, narrow, with the nasion above it and no such peak on
/// the opposite side (ears come in pairs, the occiput is round). From the nose tip and the
/// nasion: the face region runs from 18 mm above the nasion (the eyebrows) down to the chin's
/// lowest point (or the series' end) and back to 55 % of the head's length behind the nasion (the
/// ears' front). In it, everything within `clearanceMM` of the skin goes (skin, and the
/// bone just under it: the nasal bones, the orbits' rims), and the soft tissue that can be
/// reached from outside without crossing bone, up to `softDepthMM` deep (nose, lips, cheeks,
/// eyelids, the eyes' fronts); the skull and the brain behind bone stay. Removed voxels become
/// air (CT: −1000 HU; MR: the series' lowest value).
///
/// A series in which no face is found (not a head, or a head cut above the nose) is returned as
/// it is, with the reason.
public struct Defacing: Sendable {
    /// `auto`: deface when a face is found (every package that may leave the hospital);
    /// `on`: the same, and a head with no face found is an error; `off`: keep the face.
    public enum Mode: String, CaseIterable, Codable, Sendable {
        case auto, on, off
    }

    /// Everything this close to the skin (mm) in the face region goes, bone included.
    public var clearanceMM = 10.0
    /// Soft tissue reachable from outside without crossing bone goes down to this depth (mm).
    public var softDepthMM = 25.0
    public var threads: Int?

    public init() {}

    /// Where the face was found, in patient coordinates (LPS, mm; directions are unit vectors).
    public struct Face: Codable, Sendable, Equatable {
        public var noseTipMM: [Double]
        public var nasionMM: [Double]
        /// The direction the face looks to, and the head's superior direction.
        public var anterior: [Double]
        public var superior: [Double]
        /// The region's bounds: along `superior` (top, bottom) and along `anterior` (back).
        public var topMM: Double
        public var bottomMM: Double
        public var backMM: Double
        /// Whether the chin's lowest point is in the series (else the region runs to its end).
        public var chinFound: Bool
        /// How far the nose stands out of the profile (mm).
        public var noseProminenceMM: Double

        /// Whether a patient position (LPS, mm) lies within the face region's bounds.
        @inline(__always) func inRegion(_ p: SIMD3<Double>) -> Bool {
            p.z <= topMM && p.z >= bottomMM && p.x * anterior[0] + p.y * anterior[1] + p.z * anterior[2] >= backMM
        }
    }

    public struct Report: Sendable {
        /// Nil when no face was found; `reason` then says why.
        public var face: Face?
        public var reason: String?
        /// How far the most nose-like peak stood out (mm), when no face was found.
        public var bestProminenceMM: Double?
        public var removedVoxels: Int
        public var removedML: Double
        public var seconds: Double
    }

    /// The removed region: within `clearanceMM` of the skin (the depth field, interpolated
    /// between cells, so that the cut is smooth), and the soft tissue reached from outside (the
    /// flood's cells, interpolated likewise; bone ≥ 250 HU in them stays), both inside the face
    /// region's planes taken at each voxel. For clearing the series, checking seeds, and clearing
    /// label maps made elsewhere on the series' grid.
    public struct Region: Sendable {
        let grid: PatientGrid
        let face: Face
        let clearance: Float
        /// Per cell: depth below the skin (mm), and 1 where the soft tissue's flood reached.
        let depth: [Float]
        let soft: [Float]
        /// Per cell, what the eight cells from it (the interpolation's corners) say of every point
        /// between them: `verdict`'s 0, 1 or 2 when they agree, 3 when it must be interpolated.
        /// 0 away from the removed cells.
        let kind: [UInt8]

        init(grid: PatientGrid, face: Face, clearance: Float, depth: [Float], zone: [UInt8]) {
            (self.grid, self.face, self.clearance, self.depth) = (grid, face, clearance, depth)
            let soft: [Float] = zone.map { $0 == 1 ? 1 : 0 }
            self.soft = soft
            let d = grid.dimensions, (sy, sz) = (d.x, d.x * d.y)
            var kind = [UInt8](repeating: 0, count: zone.count)
            // The cells whose corners include a removed cell: the cell itself and those just below it.
            for n in zone.indices where zone[n] != 0 {
                let (i, j, k) = (n % d.x, (n / d.x) % d.y, n / sz)
                for dk in -1...0 { for dj in -1...0 { for di in -1...0 {
                    let (x, y, z) = (i + di, j + dj, k + dk)
                    guard x >= 0, y >= 0, z >= 0, x + 1 < d.x, y + 1 < d.y, z + 1 < d.z else { continue }
                    let base = (z * d.y + y) * d.x + x
                    guard kind[base] == 0 else { continue }
                    let corners = [base, base + 1, base + sy, base + sy + 1, base + sz, base + sz + 1, base + sz + sy, base + sz + sy + 1]
                    let hard = corners.map { depth[$0] <= clearance }, reached = corners.map { soft[$0] != 0 }
                    if hard.allSatisfy({ $0 }) {
                        kind[base] = 2
                    } else if !hard.contains(true) && !reached.contains(true) {
                        kind[base] = 4  // nothing, but near: told apart from "not looked at"
                    } else if !hard.contains(true) && !reached.contains(false) {
                        kind[base] = 1
                    } else {
                        kind[base] = 3
                    }
                }}}
            }
            self.kind = kind
        }

        /// 2: removed whatever it holds; 1: removed unless bone; 0: kept.
        @inline(__always) func verdict(_ p: SIMD3<Double>) -> Int {
            guard face.inRegion(p) else { return 0 }
            let c = (p - grid.origin) / grid.cell
            let f = SIMD3(c.x.rounded(.down), c.y.rounded(.down), c.z.rounded(.down))
            let i = Int(f.x), j = Int(f.y), k = Int(f.z)
            let d = grid.dimensions
            guard i >= 0, j >= 0, k >= 0, i + 1 < d.x, j + 1 < d.y, k + 1 < d.z else { return 0 }
            let base = (k * d.y + j) * d.x + i
            switch kind[base] {
            case 0, 4: return 0
            case 3: break
            case let agreed: return Int(agreed)
            }
            let t = SIMD3<Float>(Float(c.x - f.x), Float(c.y - f.y), Float(c.z - f.z))
            func lerp(_ field: [Float]) -> Float {
                let (sx, sy) = (1, d.x), sz = d.x * d.y
                let c00 = field[base] + (field[base + sx] - field[base]) * t.x
                let c10 = field[base + sy] + (field[base + sy + sx] - field[base + sy]) * t.x
                let c01 = field[base + sz] + (field[base + sz + sx] - field[base + sz]) * t.x
                let c11 = field[base + sz + sy] + (field[base + sz + sy + sx] - field[base + sz + sy]) * t.x
                let c0 = c00 + (c10 - c00) * t.y, c1 = c01 + (c11 - c01) * t.y
                return c0 + (c1 - c0) * t.z
            }
            if lerp(depth) <= clearance { return 2 }
            return lerp(soft) >= 0.5 ? 1 : 0
        }

        /// Whether a patient position (LPS, mm) lies in the removed region (soft tissue there).
        public func contains(_ point: SIMD3<Double>) -> Bool {
            verdict(point) > 0
        }

        /// Clears a label map on the series' grid in the region (one of another grid is left as
        /// it is); returns the voxels cleared.
        public func clear(_ labels: inout LabelMap, threads: Int? = nil) -> Int {
            switch labels.storage {
            case .uint8(var v):
                labels.storage = .uint8(Volume(geometry: VolumeGeometry(dimensions: .zero), voxels: []))
                let cleared = clear(&v, to: 0, counting: 1, bone: nil, threads: threads)
                labels.storage = .uint8(v)
                return cleared
            case .uint16(var v):
                labels.storage = .uint16(Volume(geometry: VolumeGeometry(dimensions: .zero), voxels: []))
                let cleared = clear(&v, to: 0, counting: 1, bone: nil, threads: threads)
                labels.storage = .uint16(v)
                return cleared
            }
        }

        /// Lowers the voxels in the region to `air` (air stays as it is; in the soft part, voxels
        /// of at least `bone` stay); returns how many were at least `threshold` (tissue, not air's noise).
        func clear<V: VoxelValue>(_ v: inout Volume<V>, to value: V, counting threshold: V, bone: V?, threads: Int?) -> Int {
            let source = grid.source, n = source.dimensions
            guard v.dimensions == n, let box = grid.indexBox(of: kind) else { return 0 }
            let (a, b) = box
            let counts = v.voxels.withUnsafeMutableBufferPointer { buffer in
                let voxels = UncheckedSendable(buffer.baseAddress!)
                return parallelMap(a.z..<(b.z + 1), threads: threads) { slices -> Int in
                    var changed = 0
                    let step = source.direction.column(0) * source.spacing.x
                    for k in slices {
                        for j in a.y...b.y {
                            var p = source.patientPosition(ofIndex: SIMD3(a.x, j, k))
                            for i in a.x...b.x {
                                defer { p += step }
                                let index = (k * n.y + j) * n.x + i
                                let old = voxels.value[index]
                                guard old > value else { continue }
                                let verdict = verdict(p)
                                guard verdict == 2 || (verdict == 1 && (bone.map { old < $0 } ?? true)) else { continue }
                                voxels.value[index] = value
                                if old >= threshold { changed += 1 }
                            }
                        }
                    }
                    return changed
                }
            }
            return counts.reduce(0, +)
        }

        /// The same on a study's volume (CT: bone ≥ 250 HU stays in the soft part).
        func clear(_ volume: inout AnyVolume, to air: Double, counting threshold: Double, ct: Bool, threads: Int?) -> Int {
            switch volume {
            case .int16(var v):
                volume = .int16(Volume(geometry: VolumeGeometry(dimensions: .zero), voxels: []))
                let changed = clear(&v, to: Int16(clamping: Int(air.rounded())), counting: Int16(clamping: Int(threshold.rounded(.up))),
                                    bone: ct ? 250 : nil, threads: threads)
                volume = .int16(v)
                return changed
            case .float32(var v):
                volume = .float32(Volume(geometry: VolumeGeometry(dimensions: .zero), voxels: []))
                let changed = clear(&v, to: Float(air), counting: Float(threshold), bone: ct ? 250 : nil, threads: threads)
                volume = .float32(v)
                return changed
            }
        }
    }

    public struct Result: Sendable {
        public var volume: AnyVolume
        public var report: Report
        public var region: Region?
    }

    // Profile search: the nose tip stands out of the levels 10–45 mm above and below it, within
    // 12 mm of the midline, and is at most 45 mm wide 8 mm behind its tip.
    static let bandMM = 12.0, nearMM = 10.0, farMM = 45.0, noseDepthMM = 8.0, noseWidthMM = 45.0
    static let minimumProminenceMM = 10.0, minimumAsymmetryMM = 6.0, maximumHeadWidthMM = 240.0
    static let browAboveNasionMM = 18.0, earsBehindNasion = 0.55

    /// What every step needs: the patient-aligned grid, the values sampled on it, the body.
    struct Prepared {
        var grid: PatientGrid
        var sampled: [Float]
        var threshold: Float
        var filled: Volume<UInt8>
    }

    func prepare(_ volume: AnyVolume, modality: String) -> Prepared? {
        let threshold = Float(modality == "CT" ? -400 : 0.1 * (volume.sampledPercentiles([0.99])?.first ?? 0))
        guard let grid = PatientGrid(volume.geometry) else { return nil }
        let sampled = grid.sample(volume, threads: threads)
        // The body: the largest piece above air, closed over nostrils and lips, cavities filled.
        var body = Volume<UInt8>(geometry: grid.geometry, voxels: sampled.map { $0 >= threshold ? 1 : 0 })
        body = MaskComponents.keepLargest(body, connectivity: .six, threads: threads)
        let filled = Morphology.fillHoles(Morphology.close(body, radius: 6, threads: threads), threads: threads)
        return Prepared(grid: grid, sampled: sampled, threshold: threshold, filled: filled)
    }

    /// The face, if the series holds one (nothing is changed); else why not.
    public func findFace(in volume: AnyVolume, modality: String) -> (face: Face?, reason: String?) {
        guard let prepared = prepare(volume, modality: modality) else { return (nil, "the series' orientation cannot be inverted") }
        let located = locate(prepared.filled, grid: prepared.grid)
        return (located.face, located.face == nil ? Self.reason(prominence: located.bestProminence, filled: prepared.filled) : nil)
    }

    /// The series with its face removed, when one is found (else as it is, with the reason).
    public func deface(_ volume: AnyVolume, modality: String) -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        func unchanged(_ reason: String, _ prominence: Double? = nil) -> Result {
            Result(volume: volume, report: Report(face: nil, reason: reason, bestProminenceMM: prominence, removedVoxels: 0, removedML: 0,
                                                  seconds: seconds()), region: nil)
        }
        guard let prepared = prepare(volume, modality: modality) else { return unchanged("the series' orientation cannot be inverted") }
        let (grid, filled) = (prepared.grid, prepared.filled)
        let located = locate(filled, grid: grid)
        guard let found = located.face else {
            return unchanged(Self.reason(prominence: located.bestProminence, filled: filled), located.bestProminence)
        }
        let depth = Morphology.squaredDistance(to: filled, inside: false, threads: threads)
        // Bone stops the soft tissue's removal: CT ≥ 250 HU anywhere in the cell (looked for only
        // where soft tissue could be removed); MR: dark inside the body.
        let barrier: [UInt8]
        if modality == "CT" {
            let soft = Float(softDepthMM * softDepthMM)
            let reachable = filled.voxels.indices.map { n -> UInt8 in
                filled.voxels[n] != 0 && depth[n] <= soft && found.inRegion(grid.position(ofCell: n)) ? 1 : 0
            }
            barrier = grid.indexBox(of: reachable).map { grid.anyAbove(volume, 250, within: $0, threads: threads) }
                ?? [UInt8](repeating: 0, count: grid.count)
        } else {
            barrier = zip(prepared.sampled, filled.voxels).map { $0.0 < prepared.threshold && $0.1 != 0 ? 1 : 0 }
        }
        let zone = removalZone(face: found, grid: grid, filled: filled, depth: depth, barrier: barrier)
        let region = Region(grid: grid, face: found, clearance: Float(clearanceMM), depth: depth.map { $0.squareRoot() }, zone: zone)
        let air = modality == "CT" ? -1000 : (volume.valueRange(threads: threads)?.lowerBound ?? 0)
        var out = volume
        let removed = region.clear(&out, to: air, counting: Double(prepared.threshold), ct: modality == "CT", threads: threads)
        let report = Report(face: found, reason: nil, removedVoxels: removed,
                            removedML: Double(removed) * volume.geometry.voxelVolume / 1000, seconds: seconds())
        return Result(volume: out, report: report, region: region)
    }

    /// How the face is removed, in a sentence (for manifests and reports).
    public var method: String {
        "face region (from 18 mm above the nasion to the chin's lowest point, in front of the ears) cleared to air: " +
            "everything within \(Int(clearanceMM)) mm of the skin, and the soft tissue in front of bone down to \(Int(softDepthMM)) mm"
    }

    // MARK: Finding the face

    /// Each level's outline points (x, y in mm) and centroid, on the patient-aligned grid.
    struct Levels {
        var points: [[SIMD2<Double>]]
        var centres: [SIMD2<Double>?]
        var z: [Double]
    }

    static func levels(_ filled: Volume<UInt8>, grid: PatientGrid) -> Levels {
        let d = filled.dimensions, c = grid.cell
        var points: [[SIMD2<Double>]] = [], centres: [SIMD2<Double>?] = [], z: [Double] = []
        for k in 0..<d.z {
            var outline: [SIMD2<Double>] = [], sum = SIMD2<Double>.zero, count = 0
            for j in 0..<d.y {
                let row = (k * d.y + j) * d.x
                for i in 0..<d.x where filled.voxels[row + i] != 0 {
                    let p = SIMD2(grid.origin.x + Double(i) * c, grid.origin.y + Double(j) * c)
                    sum += p
                    count += 1
                    let edge = i == 0 || j == 0 || i == d.x - 1 || j == d.y - 1 ||
                        filled.voxels[row + i - 1] == 0 || filled.voxels[row + i + 1] == 0 ||
                        filled.voxels[row + i - d.x] == 0 || filled.voxels[row + i + d.x] == 0
                    if edge { outline.append(p) }
                }
            }
            points.append(outline)
            centres.append(count > 0 ? sum / Double(count) : nil)
            z.append(grid.origin.z + Double(k) * c)
        }
        return Levels(points: points, centres: centres, z: z)
    }

    /// One direction's candidate nose: its level, prominence, and the profile.
    struct Candidate {
        var angle: Int
        var level: Int
        var prominence: Double
        var profile: [Double?]
    }

    static func direction(_ angle: Int) -> SIMD2<Double> {
        let r = Double(angle) * .pi / 180
        return SIMD2(cos(r), sin(r))
    }

    /// The forward profile along `angle` (degrees about the superior axis): per level, the
    /// farthest outline point within the midline band.
    static func profile(_ levels: Levels, angle: Int) -> [Double?] {
        let d = direction(angle), l = SIMD2(-d.y, d.x)
        return levels.points.indices.map { k in
            guard let centre = levels.centres[k] else { return nil }
            var best: Double?
            for p in levels.points[k] where abs(((p - centre) * l).sum()) <= bandMM {
                let a = (p * d).sum()
                if best == nil || a > best! { best = a }
            }
            return best
        }
    }

    /// The levels 10–45 mm from a level, in levels of `cell` mm: (nearest, farthest).
    static func window(_ cell: Double) -> (near: Int, far: Int) {
        (Int((nearMM / cell).rounded(.up)), Int((farMM / cell).rounded(.down)))
    }

    static func candidate(_ levels: Levels, angle: Int, cell: Double) -> Candidate? {
        let f = profile(levels, angle: angle)
        let d = direction(angle), l = SIMD2(-d.y, d.x)
        let (near, far) = window(cell)
        var best: Candidate?
        for k in f.indices {
            guard let tip = f[k] else { continue }
            func lowest(_ range: ClosedRange<Int>) -> Double? {
                range.clamped(to: 0...(f.count - 1)).compactMap { f[$0] }.min()
            }
            // The profile falls on both sides: above to the nasion, below to the upper lip (a
            // series that ends within 10 mm below a peak cannot tell a nose from a forehead).
            guard k + near < f.count, k - near >= 0, let above = lowest((k + near)...(k + far)),
                  let below = lowest(max(0, k - far)...(k - near)) else { continue }
            let prominence = tip - max(above, below)
            guard prominence > (best?.prominence ?? 0) else { continue }
            // Narrow, as a nose is: its width a little behind the tip.
            let across = levels.points[k].filter { ($0 * d).sum() >= tip - noseDepthMM }.map { ($0 * l).sum() }
            guard let lo = across.min(), let hi = across.max(), hi - lo <= noseWidthMM else { continue }
            best = Candidate(angle: angle, level: k, prominence: prominence, profile: f)
        }
        return best
    }

    /// The long axis of a cross-section's outline (a unit vector), or nil when it is nearly round.
    static func longAxis(_ points: [SIMD2<Double>]) -> SIMD2<Double>? {
        guard points.count >= 8 else { return nil }
        let mean = points.reduce(SIMD2<Double>.zero, +) / Double(points.count)
        var xx = 0.0, xy = 0.0, yy = 0.0
        for p in points {
            let q = p - mean
            xx += q.x * q.x
            xy += q.x * q.y
            yy += q.y * q.y
        }
        // The larger eigenvalue of [[xx, xy], [xy, yy]] and its eigenvector.
        let half = (xx + yy) / 2, root = ((xx - yy) * (xx - yy) / 4 + xy * xy).squareRoot()
        let large = half + root, small = half - root
        guard small > 0, large / small >= 1.1 else { return nil }
        let v = abs(xy) > 1e-9 ? SIMD2(large - yy, xy) : (xx >= yy ? SIMD2(1, 0) : SIMD2(0, 1))
        return v / (v * v).sum().squareRoot()
    }

    /// The face, if found; and the most prominent narrow peak in any direction (for the reason
    /// when none is).
    func locate(_ filled: Volume<UInt8>, grid: PatientGrid) -> (face: Face?, bestProminence: Double) {
        let levels = Self.levels(filled, grid: grid)
        let c = grid.cell
        let (near, far) = Self.window(c)
        let peaks = stride(from: 0, to: 360, by: 15).map { Self.candidate(levels, angle: $0, cell: c) }
        let best = peaks.compactMap { $0?.prominence }.max() ?? 0
        // A head is longer than wide: the nose lies at an end of the long axis of the cranium's
        // outline above it (the ears, at the ends of the short one, also stand out).
        let candidates = peaks.map { peak -> Candidate? in
            guard let candidate = peak else { return nil }
            let above = (candidate.level + near)...min(levels.points.count - 1, candidate.level + far)
            guard let axis = Self.longAxis(above.flatMap { levels.points[$0] }) else { return candidate }
            return abs((Self.direction(candidate.angle) * axis).sum()) >= cos(Double.pi / 4) ? candidate : nil
        }
        // The nose: the strongest peak with nothing like it on the opposite side.
        var chosen: Candidate?, margin = -Double.infinity
        for (n, candidate) in candidates.enumerated() {
            guard let candidate else { continue }
            let opposite = candidates[(n + 12) % 24]?.prominence ?? 0
            if candidate.prominence - opposite > margin {
                margin = candidate.prominence - opposite
                chosen = candidate
            }
        }
        guard let nose = chosen, nose.prominence >= Self.minimumProminenceMM, margin >= Self.minimumAsymmetryMM else { return (nil, best) }
        let f = nose.profile, k = nose.level
        let d = Self.direction(nose.angle)
        // The nasion: the deepest level 10–45 mm above the tip.
        let above = ((k + near)...min(f.count - 1, k + far)).filter { f[$0] != nil }
        guard let nasion = above.min(by: { f[$0]! < f[$1]! }), let centre = levels.centres[nasion] else { return (nil, best) }
        // The head's length at the nasion (front to back near the midline), and its width.
        let l = SIMD2(-d.y, d.x)
        let band = levels.points[nasion].filter { abs((($0 - centre) * l).sum()) <= Self.bandMM }.map { ($0 * d).sum() }
        let across = levels.points[nasion].map { ($0 * l).sum() }
        guard let back = band.min(), let lo = across.min(), let hi = across.max(), hi - lo <= Self.maximumHeadWidthMM else { return (nil, best) }
        let length = max(f[nasion]! - back, 150)
        // The chin's lowest point: going down from 40 mm below the tip, where the profile falls
        // 25 mm behind the chin (the underside of the jaw), or where the series ends.
        var bottom = levels.z[0], chin = false
        var front = -Double.infinity
        let start = k - Int((40 / c).rounded())
        if start > 0 {
            for level in stride(from: start, through: 0, by: -1) {
                if levels.z[k] - levels.z[level] > 130 { bottom = levels.z[level]; break }
                guard let value = f[level] else { bottom = levels.z[level]; chin = true; break }
                if value <= front - 25 { bottom = levels.z[level]; chin = true; break }
                front = max(front, value)
            }
        }
        func point(_ level: Int) -> [Double] {
            let pts = levels.points[level]
            let centre = levels.centres[level] ?? .zero
            let p = pts.filter { abs((($0 - centre) * l).sum()) <= Self.bandMM }.max { ($0 * d).sum() < ($1 * d).sum() } ?? centre
            return [p.x, p.y, levels.z[level]]
        }
        // Directions to 9 decimals (cos 270° is −1.8e-16, not 0).
        let anterior = [d.x, d.y, 0].map { ($0 * 1e9).rounded() / 1e9 }
        let face = Face(noseTipMM: point(k), nasionMM: point(nasion), anterior: anterior, superior: [0, 0, 1],
                        topMM: levels.z[nasion] + Self.browAboveNasionMM, bottomMM: bottom,
                        backMM: f[nasion]! - Self.earsBehindNasion * length, chinFound: chin, noseProminenceMM: nose.prominence)
        return (face, best)
    }

    /// Why no face was found, for the report.
    static func reason(prominence: Double, filled: Volume<UInt8>) -> String {
        if !filled.voxels.contains(where: { $0 != 0 }) { return "no body found in the series" }
        return "no face found: no nose stands out of the body's outline (the most prominent narrow peak stands \(Int(prominence.rounded())) mm out; " +
            "a nose stands at least \(Int(minimumProminenceMM)) mm out, on one side only)"
    }

    // MARK: The region removed

    /// Per cell: 2 within the clearance of the skin, 1 soft tissue reached from outside, 0 kept.
    func removalZone(face: Face, grid: PatientGrid, filled: Volume<UInt8>, depth: [Float], barrier: [UInt8]) -> [UInt8] {
        let d = grid.dimensions, c = grid.cell
        var zone = [UInt8](repeating: 0, count: filled.voxels.count)
        let clearance = Float(clearanceMM * clearanceMM), soft = Float(softDepthMM * softDepthMM)
        func inRegion(_ i: Int, _ j: Int, _ k: Int) -> Bool {
            face.inRegion(grid.origin + SIMD3(Double(i), Double(j), Double(k)) * c)
        }
        var queue: [Int] = [], seen = [Bool](repeating: false, count: zone.count)
        for k in 0..<d.z {
            for j in 0..<d.y {
                for i in 0..<d.x where inRegion(i, j, k) {
                    let n = (k * d.y + j) * d.x + i
                    // Outside the body too: the skin's outermost voxels lie in cells whose
                    // centre is air (and a mask or a pad on the face goes with the face).
                    if depth[n] <= clearance { zone[n] = 2 }
                    guard filled.voxels[n] != 0 else { continue }
                    // Soft tissue is reached from the outline's cells that are not bone.
                    if depth[n] <= Float(c * c) * 1.01 && (barrier[n] == 0 || zone[n] == 2) {
                        seen[n] = true
                        queue.append(n)
                    }
                }
            }
        }
        var head = 0
        while head < queue.count {
            let n = queue[head]
            head += 1
            if zone[n] == 0 { zone[n] = 1 }
            let i = n % d.x, j = (n / d.x) % d.y, k = n / (d.x * d.y)
            for (di, dj, dk) in [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)] {
                let (x, y, z) = (i + di, j + dj, k + dk)
                guard x >= 0, y >= 0, z >= 0, x < d.x, y < d.y, z < d.z else { continue }
                let m = (z * d.y + y) * d.x + x
                guard !seen[m], filled.voxels[m] != 0, depth[m] <= soft, barrier[m] == 0 || zone[m] == 2, inRegion(x, y, z) else { continue }
                seen[m] = true
                queue.append(m)
            }
        }
        return zone
    }
}
