import VolumeCore

/// Binary morphology with a ball of a radius in millimetres (anisotropic voxels handled), built
/// on an exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of
/// Sampled Functions", Theory of Computing 8, 2012: separable lower envelopes of parabolas).
public enum Morphology {
    /// Voxels within `radius` mm of the mask.
    public static func dilate(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        guard radius > 0 else { return mask }
        // A ball a few voxels across: on rows of bits, the same voxels (`ballDilation`).
        if windowed(reach(radius), mask.spacing) {
            return Volume(geometry: mask.geometry, voxels: ballDilation(of: mask, inside: true, bound: ballBound(radius), threads: threads))
        }
        let distance = squaredDistance(to: mask, inside: true, limit: reach(radius), threads: threads)
        return threshold(distance, radius * radius, geometry: mask.geometry, threads: threads)
    }

    /// Mask voxels farther than `radius` mm from any background voxel (outside the grid does not
    /// count as background).
    public static func erode(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        guard radius > 0 else { return mask }
        let bound = ballBound(radius)
        if windowed(reach(radius), mask.spacing) {
            // The background dilated by the ball, on rows of bits: the mask keeps what it misses.
            return Volume(geometry: mask.geometry, voxels: ballDilation(of: mask, inside: false, bound: bound, eroding: true, threads: threads))
        }
        let distance = squaredDistance(to: mask, inside: false, limit: reach(radius), threads: threads)
        // Within the radius of background, or outside the mask: out. Erosion keeps the rest.
        return Volume(geometry: mask.geometry, voxels: parallelMap(distance, threads: threads) { i, value in
            mask.voxels[i] != 0 && value > bound ? 1 : 0
        })
    }

    /// The squared distance (mm²) a ball of `radius` holds: a voxel exactly at the radius is in.
    static func ballBound(_ radius: Double) -> Float { Float(radius * radius) * (1 + 1e-6) }

    /// Erode, then dilate: removes parts thinner than the ball.
    public static func open(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        dilate(erode(mask, radius: radius, threads: threads), radius: radius, threads: threads)
    }

    /// Dilate, then erode: closes gaps narrower than the ball.
    public static func close(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        erode(dilate(mask, radius: radius, threads: threads), radius: radius, threads: threads)
    }

    /// Fills cavities: background regions (6-connected) that do not reach the grid's border (and,
    /// with `maximumVoxels`, hold at most that many voxels).
    public static func fillHoles(_ mask: Volume<UInt8>, maximumVoxels: Int? = nil, threads: Int? = nil) -> Volume<UInt8> {
        let workers = MaskComponents.resolved(threads)
        // The background's components; its volume is gone once they are made, and the holes are
        // painted into the copy that is returned: at most two volumes besides the mask.
        let runs = MaskComponents.label(Volume(geometry: mask.geometry, voxels: mask.voxels.map { $0 == 0 ? 1 : 0 }), .six, workers)
        let (nx, ny, nz) = (runs.nx, runs.ny, runs.nz)
        var touchesBorder = [Bool](repeating: false, count: runs.runs.count)
        for row in 0..<(ny * nz) {
            let (y, z) = (row % ny, row / ny)
            let edgeRow = y == 0 || y == ny - 1 || z == 0 || z == nz - 1
            for index in runs.rowRange(row) {
                let run = runs.runs[index]
                if edgeRow || RunComponents.x0(run) == 0 || RunComponents.x1(run) == nx - 1 {
                    touchesBorder[Int(runs.label[index])] = true
                }
            }
        }
        if let maximumVoxels {
            var size = [Int](repeating: 0, count: runs.runs.count)
            for index in 0..<runs.runs.count {
                size[Int(runs.label[index])] += RunComponents.x1(runs.runs[index]) - RunComponents.x0(runs.runs[index]) + 1
            }
            for root in size.indices where size[root] > maximumVoxels { touchesBorder[root] = true }
        }
        var out = mask
        runs.paint(selected: runs.label.map { !touchesBorder[Int($0)] }, into: &out.voxels, threads: workers)
        return out
    }

    // MARK: Distance transform

    /// Squared distance (mm²) from every voxel to the nearest voxel where (mask != 0) == inside.
    /// With `limit` (mm²), distances beyond it come back as infinity (exact up to it): lines
    /// with nothing within the limit are then skipped, which makes a small dilation cheap.
    static func squaredDistance(to mask: Volume<UInt8>, inside: Bool, limit: Float = .infinity, threads: Int?) -> [Float] {
        let d = mask.dimensions, s = mask.spacing
        let workers = MaskComponents.resolved(threads)
        var f = [Float](repeating: .infinity, count: mask.voxels.count)
        guard !f.isEmpty else { return f }
        // The feature's byte: 1 for the mask's voxels (inside), 0 for its background.
        let feature: UInt8 = inside ? 1 : 0
        // Along x, on the mask itself: the nearest feature in the row, by a scan each way.
        let wx = Float(s.x * s.x)
        f.withUnsafeMutableBufferPointer { buffer in
            let values = UncheckedSendable(buffer.baseAddress!)
            mask.voxels.withUnsafeBufferPointer { source in
                let voxels = UncheckedSendable(source.baseAddress!)
                parallelFor(0..<(d.y * d.z), grain: 256, threads: workers) { rows in
                    for row in rows {
                        let base = row * d.x
                        let m = voxels.value + base, out = values.value + base
                        // Without branches: a feature "far away" until the first one is met.
                        let far = 1 << 40
                        var last = -far
                        for x in 0..<d.x {
                            last = Swift.min(m[x], 1) == feature ? x : last
                            let gap = Float(x - last)
                            out[x] = wx * gap * gap
                        }
                        guard last >= 0 else {
                            for x in 0..<d.x { out[x] = .infinity }
                            continue
                        }
                        var next = 2 * far
                        for x in stride(from: d.x - 1, through: 0, by: -1) {
                            next = Swift.min(m[x], 1) == feature ? x : next
                            let gap = Float(next - x)
                            let nearest = Swift.min(out[x], wx * gap * gap)
                            out[x] = nearest > limit ? .infinity : nearest
                        }
                    }
                }
            }
        }
        // Within a limit a few voxels long, along y and z: the nearest of the few voxels within
        // reach, whole rows at a time (no envelope to build; exact up to the limit).
        if windowed(limit, s) {
            var g = [Float](repeating: .infinity, count: f.count)
            windowedPass(from: f, into: &g, dimensions: d, axis: 1, weight: Float(s.y * s.y), reach: reachInVoxels(limit, s.y), limit: limit, workers: workers)
            windowedPass(from: g, into: &f, dimensions: d, axis: 2, weight: Float(s.z * s.z), reach: reachInVoxels(limit, s.z), limit: limit, workers: workers)
            return f
        }
        // Then along y and z: the lower envelope of parabolas.
        for axis in 1..<3 {
            let grid = GridLines(d, axis: axis)
            let (length, step) = (grid.length, grid.stride)
            let weight = Float(s[axis] * s[axis])
            f.withUnsafeMutableBufferPointer { buffer in
                let values = UncheckedSendable(buffer.baseAddress!)
                parallelFor(0..<grid.count, grain: 64, threads: workers) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * length + 1)
                    let vertices = UnsafeMutablePointer<Int>.allocate(capacity: length)
                    defer { scratch.deallocate(); vertices.deallocate() }
                    let line = scratch, out = scratch + length, heights = scratch + 2 * length, bounds = scratch + 3 * length
                    for lineIndex in range {
                        let start = values.value + grid.start(lineIndex)
                        var finite = false, flat = true
                        for i in 0..<length {
                            let value = start[i * step]
                            line[i] = value
                            if value.isFinite { finite = true }
                            if value != 0 { flat = false }
                        }
                        // Nothing near, or all feature: the line stays as it is.
                        if !finite || flat { continue }
                        lowerEnvelope(line, length, weight, out, vertices, heights, bounds)
                        for i in 0..<length { start[i * step] = out[i] > limit ? .infinity : out[i] }
                    }
                }
            }
        }
        return f
    }

    /// Whether the transform up to `limit` (mm²) takes its windowed passes along y and z (a
    /// limit at most 16 voxels long on each): then `ballDilation` gives its threshold's voxels.
    static func windowed(_ limit: Float, _ s: SIMD3<Double>) -> Bool {
        limit.isFinite && (1..<3).allSatisfy { reachInVoxels(limit, s[$0]) <= 16 }
    }

    /// How many voxels of `spacing` mm a squared distance `limit` (mm²) reaches.
    private static func reachInVoxels(_ limit: Float, _ spacing: Double) -> Int {
        Int((Double(limit).squareRoot() / spacing).rounded(.down))
    }

    /// One pass of the transform along y (axis 1) or z (axis 2) when only distances up to `limit`
    /// count: out = min over |k| ≤ reach of (in shifted by k along the axis) + w·k², beyond the
    /// limit infinity. Rows along x stay contiguous, so the inner loop runs on whole rows.
    private static func windowedPass(from source: [Float], into target: inout [Float], dimensions d: SIMD3<Int>, axis: Int,
                                     weight: Float, reach: Int, limit: Float, workers: Int) {
        let (nx, ny, nz) = (d.x, d.y, d.z)
        let step = axis == 1 ? nx : nx * ny, length = axis == 1 ? ny : nz
        source.withUnsafeBufferPointer { input in
            target.withUnsafeMutableBufferPointer { output in
                let from = UncheckedSendable(input.baseAddress!), to = UncheckedSendable(output.baseAddress!)
                // Each job: one row along x, at one position along the axis.
                parallelFor(0..<(ny * nz), grain: 64, threads: workers) { rows in
                    for row in rows {
                        let (y, z) = (row % ny, row / ny)
                        let q = axis == 1 ? y : z, base = (z * ny + y) * nx
                        let out = to.value + base, own = from.value + base
                        for x in 0..<nx { out[x] = own[x] }
                        if reach > 0 {
                            for k in 1...reach {
                                let cost = weight * Float(k * k)
                                if cost > limit { break }
                                if q - k >= 0 {
                                    let other = own - k * step
                                    for x in 0..<nx { out[x] = Swift.min(out[x], other[x] + cost) }
                                }
                                if q + k < length {
                                    let other = own + k * step
                                    for x in 0..<nx { out[x] = Swift.min(out[x], other[x] + cost) }
                                }
                            }
                        }
                        for x in 0..<nx where out[x] > limit { out[x] = .infinity }
                    }
                }
            }
        }
    }

    /// out[q] = min over p of (f[p] + w·(q − p)²), for f with infinite entries (at least one finite).
    /// `heights[k]` holds f[v[k]] + w·v[k]², `bounds` the envelope's breakpoints (n + 1 of them).
    private static func lowerEnvelope(_ f: UnsafeMutablePointer<Float>, _ n: Int, _ w: Float, _ out: UnsafeMutablePointer<Float>,
                                      _ v: UnsafeMutablePointer<Int>, _ heights: UnsafeMutablePointer<Float>,
                                      _ z: UnsafeMutablePointer<Float>) {
        var k = -1
        for q in 0..<n where f[q].isFinite {
            let fq = f[q] + w * Float(q * q)
            var s: Float = -.infinity
            while k >= 0 {
                s = (fq - heights[k]) / (2 * w * Float(q - v[k]))
                if s <= z[k] { k -= 1 } else { break }
            }
            k += 1
            v[k] = q
            heights[k] = fq
            z[k] = k == 0 ? -.infinity : s
            z[k + 1] = .infinity
        }
        var j = 0
        for q in 0..<n {
            while z[j + 1] < Float(q) { j += 1 }
            let p = v[j]
            out[q] = w * Float((q - p) * (q - p)) + f[p]
        }
    }

    /// The squared distance a threshold at `radius` needs exactly (a little beyond, for rounding).
    static func reach(_ radius: Double) -> Float { Float(radius * radius) * 1.01 + 1e-3 }

    static func threshold(_ distance: [Float], _ limit: Double, geometry: VolumeGeometry, threads: Int?) -> Volume<UInt8> {
        let bound = Float(limit) * (1 + 1e-6)  // squared mm; a voxel exactly at the radius is in
        return Volume(geometry: geometry, voxels: parallelMap(distance, threads: threads) { _, value in value <= bound ? 1 : 0 })
    }

    /// `transform(i, distance[i])` for every voxel, on `threads` threads.
    private static func parallelMap(_ distance: [Float], threads: Int?, _ transform: (Int, Float) -> UInt8) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: distance.count) { buffer, count in
            let out = UncheckedSendable(buffer.baseAddress!)
            distance.withUnsafeBufferPointer { source in
                let values = UncheckedSendable(source.baseAddress!)
                parallelFor(0..<distance.count, grain: 1 << 18, threads: MaskComponents.resolved(threads)) { range in
                    for i in range { out.value[i] = transform(i, values.value[i]) }
                }
            }
            count = distance.count
        }
    }
}
