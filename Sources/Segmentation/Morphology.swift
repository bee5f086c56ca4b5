import VolumeCore

/// Binary morphology with a ball of a radius in millimetres (anisotropic voxels handled), built
/// on an exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of
/// Sampled Functions", Theory of Computing 8, 2012: separable lower envelopes of parabolas).
public enum Morphology {
    /// Voxels within `radius` mm of the mask.
    public static func dilate(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        guard radius > 0 else { return mask }
        let distance = squaredDistance(to: mask, inside: true, threads: threads)
        return threshold(distance, radius * radius, geometry: mask.geometry, threads: threads)
    }

    /// Mask voxels farther than `radius` mm from any background voxel (outside the grid does not
    /// count as background).
    public static func erode(_ mask: Volume<UInt8>, radius: Double, threads: Int? = nil) -> Volume<UInt8> {
        guard radius > 0 else { return mask }
        let distance = squaredDistance(to: mask, inside: false, threads: threads)
        var out = threshold(distance, radius * radius, geometry: mask.geometry, threads: threads)
        // out = within radius of background; erosion keeps mask voxels that are not.
        for index in out.voxels.indices { out.voxels[index] = (mask.voxels[index] != 0 && out.voxels[index] == 0) ? 1 : 0 }
        return out
    }

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
        var background = mask
        for index in background.voxels.indices { background.voxels[index] = mask.voxels[index] == 0 ? 1 : 0 }
        let runs = MaskComponents.label(background, .six, workers)
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
        let holes = runs.mask(selected: runs.label.map { !touchesBorder[Int($0)] }, geometry: mask.geometry, threads: workers)
        var out = mask
        for index in out.voxels.indices where holes.voxels[index] != 0 { out.voxels[index] = 1 }
        return out
    }

    // MARK: Distance transform

    /// Squared distance (mm²) from every voxel to the nearest voxel where (mask != 0) == inside.
    static func squaredDistance(to mask: Volume<UInt8>, inside: Bool, threads: Int?) -> [Float] {
        let d = mask.dimensions, s = mask.spacing
        let workers = MaskComponents.resolved(threads)
        var f = mask.voxels.map { ($0 != 0) == inside ? Float(0) : Float.infinity }
        // One pass per axis: lines along x, then y, then z.
        for axis in 0..<3 {
            let grid = GridLines(d, axis: axis)
            let (length, stride) = (grid.length, grid.stride)
            let weight = Float(s[axis] * s[axis])
            f.withUnsafeMutableBufferPointer { buffer in
                let values = UncheckedSendable(buffer.baseAddress!)
                parallelFor(0..<grid.count, grain: 64, threads: workers) { range in
                    var line = [Float](repeating: 0, count: length), out = [Float](repeating: 0, count: length)
                    var v = [Int](repeating: 0, count: length), z = [Float](repeating: 0, count: length + 1)
                    for lineIndex in range {
                        let start = grid.start(lineIndex)
                        for i in 0..<length { line[i] = values.value[start + i * stride] }
                        lowerEnvelope(line, weight, &out, &v, &z)
                        for i in 0..<length { values.value[start + i * stride] = out[i] }
                    }
                }
            }
        }
        return f
    }

    /// out[q] = min over p of (f[p] + w·(q − p)²), for f with infinite entries.
    static func lowerEnvelope(_ f: [Float], _ w: Float, _ out: inout [Float], _ v: inout [Int], _ z: inout [Float]) {
        let n = f.count
        var k = -1
        for q in 0..<n where f[q].isFinite {
            let fq = f[q] + w * Float(q * q)
            var s: Float = -.infinity
            while k >= 0 {
                let p = v[k]
                s = (fq - (f[p] + w * Float(p * p))) / (2 * w * Float(q - p))
                if s <= z[k] { k -= 1 } else { break }
            }
            k += 1
            v[k] = q
            z[k] = k == 0 ? -.infinity : s
            z[k + 1] = .infinity
        }
        guard k >= 0 else {
            for q in 0..<n { out[q] = .infinity }
            return
        }
        var j = 0
        for q in 0..<n {
            while z[j + 1] < Float(q) { j += 1 }
            let p = v[j]
            out[q] = w * Float((q - p) * (q - p)) + f[p]
        }
    }

    private static func threshold(_ distance: [Float], _ limit: Double, geometry: VolumeGeometry, threads: Int?) -> Volume<UInt8> {
        let bound = Float(limit) * (1 + 1e-6)  // squared mm; a voxel exactly at the radius is in
        return Volume(geometry: geometry, voxels: distance.map { $0 <= bound ? 1 : 0 })
    }
}
