import VolumeCore

/// Marching-cubes surfaces in the manner of Flying Edges (Schroeder, Maynard & Geveci, "Flying
/// Edges: A High-Performance Scalable Isocontouring Algorithm", IEEE LDAV 2015): a first parallel
/// pass counts, per row of voxels, the crossed edges and the triangles; a serial prefix sum gives
/// every row its own range of vertex and triangle indices; a second parallel pass writes them.
/// Vertices sit on edges and are shared, so the mesh is indexed with no duplicate points; the output
/// is the same for any thread count. The grid is padded by one outside voxel on every side, so a
/// structure touching the border is closed there too (the cap lies half a voxel outside).
enum SurfaceExtraction {
    static func extract<F: SurfaceField>(_ field: F, threads: Int) -> Mesh {
        let d = field.geometry.dimensions
        let (nx, ny, nz) = (d.x, d.y, d.z)
        // Padded sizes: voxel (i, j, k) of the field is padded voxel (i + 1, j + 1, k + 1).
        let (px, py, pz) = (nx + 2, ny + 2, nz + 2)
        let rows = py * pz
        var xCount = [Int32](repeating: 0, count: rows), yCount = xCount, zCount = xCount, triCount = xCount
        let slabs = slabRanges(pz - 1, threads)
        let table = CaseTable.triangles
        let triangleCounts = table.map { Int32($0.count / 3) }

        // Pass 1: counts per padded row.
        xCount.withUnsafeMutableBufferPointer { xc in
            yCount.withUnsafeMutableBufferPointer { yc in
                zCount.withUnsafeMutableBufferPointer { zc in
                    triCount.withUnsafeMutableBufferPointer { tc in
                        let (xcP, ycP, zcP, tcP) = (UncheckedSendable(xc.baseAddress!), UncheckedSendable(yc.baseAddress!),
                                                    UncheckedSendable(zc.baseAddress!), UncheckedSendable(tc.baseAddress!))
                        parallelFor(0..<slabs.count, threads: threads) { indices in
                            for s in indices {
                                let planes = PlanePair(field: field, px: px, py: py)
                                for kp in slabs[s] {
                                    planes.load(kp)
                                    for jp in 0..<py {
                                        let r = kp * py + jp
                                        let a0 = planes.row(0, jp)
                                        xcP.value[r] = Int32(countChanges(a0, px))
                                        zcP.value[r] = Int32(countDifferences(a0, planes.row(1, jp), px))
                                        if jp + 1 < py {
                                            let a1 = planes.row(0, jp + 1)
                                            ycP.value[r] = Int32(countDifferences(a0, a1, px))
                                            var triangles: Int32 = 0
                                            forEachCube(planes, jp, px) { _, bits in triangles += triangleCounts[bits] }
                                            tcP.value[r] = triangles
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // The last padded plane is all outside: its z-edges and cubes do not exist, its x- and
        // y-edges cross nothing. Prefix sums give each row its ranges.
        var vertexStart = [Int](repeating: 0, count: rows + 1), triangleStart = [Int](repeating: 0, count: rows + 1)
        for r in 0..<rows {
            vertexStart[r + 1] = vertexStart[r] + Int(xCount[r] + yCount[r] + zCount[r])
            triangleStart[r + 1] = triangleStart[r] + Int(triCount[r])
        }
        let vertexTotal = vertexStart[rows], triangleTotal = triangleStart[rows]
        var positions = [SIMD3<Float>](repeating: .zero, count: vertexTotal)
        var indices = [UInt32](repeating: 0, count: triangleTotal * 3)
        let geometry = field.geometry
        // Index → patient, as float arithmetic on (i, j, k) (padded indices shifted by one).
        let m = geometry.indexToPatientMatrix
        let axis = (0..<3).map { c in SIMD3<Float>(Float(m[0][c]), Float(m[1][c]), Float(m[2][c])) }
        let origin = SIMD3<Float>(Float(m[0][3]), Float(m[1][3]), Float(m[2][3])) - axis[0] - axis[1] - axis[2]

        // Pass 2: vertices and triangles, each row into its own ranges.
        positions.withUnsafeMutableBufferPointer { pos in
            indices.withUnsafeMutableBufferPointer { ind in
                let (posP, indP) = (UncheckedSendable(pos.baseAddress!), UncheckedSendable(ind.baseAddress!))
                parallelFor(0..<slabs.count, threads: threads) { slabIndices in
                    for s in slabIndices {
                        let planes = PlanePair(field: field, px: px, py: py)
                        for kp in slabs[s] {
                            planes.load(kp)
                            for jp in 0..<py {
                                let r = kp * py + jp
                                let a0 = planes.row(0, jp), b0 = planes.row(1, jp)
                                // Vertices of this row's x-, y- and z-edges.
                                var v = vertexStart[r]
                                @inline(__always) func emit(_ ip: Int, _ jpp: Int, _ kpp: Int, _ dx: Int, _ dy: Int, _ dz: Int) {
                                    let i = ip - 1, j = jpp - 1, k = kpp - 1
                                    var t: Float = 0.5
                                    if i >= 0, j >= 0, k >= 0, i + dx < nx, j + dy < ny, k + dz < nz {
                                        let a = (k * ny + j) * nx + i
                                        t = field.crossing(a, a + dx + dy * nx + dz * nx * ny)
                                    }
                                    let step = SIMD3<Float>(Float(dx), Float(dy), Float(dz)) * t
                                    posP.value[v] = origin + axis[0] * (Float(ip) + step.x) + axis[1] * (Float(jpp) + step.y)
                                        + axis[2] * (Float(kpp) + step.z)
                                    v += 1
                                }
                                for ip in 0..<(px - 1) where a0[ip] != a0[ip + 1] { emit(ip, jp, kp, 1, 0, 0) }
                                if jp + 1 < py {
                                    let a1 = planes.row(0, jp + 1)
                                    for ip in 0..<px where a0[ip] != a1[ip] { emit(ip, jp, kp, 0, 1, 0) }
                                }
                                for ip in 0..<px where a0[ip] != b0[ip] { emit(ip, jp, kp, 0, 0, 1) }
                                guard jp + 1 < py else { continue }
                                // Triangles of this row's cubes: edge ids from running counters.
                                let rows4 = [r, r + 1, r + py, r + py + 1]  // (jp,kp) (jp+1,kp) (jp,kp+1) (jp+1,kp+1)
                                let xBase = rows4.map { Int32(vertexStart[$0]) }
                                let yBase = [r, r + py].map { Int32(vertexStart[$0]) + xCount[$0] }
                                let zBase = [r, r + 1].map { Int32(vertexStart[$0]) + xCount[$0] + yCount[$0] }
                                var xc = [Int32](repeating: 0, count: 4), yc = [Int32](repeating: 0, count: 2),
                                    zc = [Int32](repeating: 0, count: 2)
                                let a1 = planes.row(0, jp + 1), b1 = planes.row(1, jp + 1)
                                let rowsOfX = [a0, a1, b0, b1]
                                var t = triangleStart[r] * 3
                                var ids = [Int32](repeating: 0, count: 12)
                                var lastCube = -1
                                forEachCube(planes, jp, px) { ip, bits in
                                    // Bring the counters up to cube ip (edges before ip counted).
                                    while lastCube + 1 < ip {
                                        lastCube += 1
                                        advance(lastCube, rowsOfX, a0, a1, b0, b1, &xc, &yc, &zc)
                                    }
                                    for e in 0..<4 {
                                        ids[e] = xBase[e] + xc[e]
                                    }
                                    let y0 = a0[ip] != a1[ip] ? 1 as Int32 : 0, y2 = b0[ip] != b1[ip] ? 1 as Int32 : 0
                                    ids[4] = yBase[0] + yc[0]; ids[5] = yBase[0] + yc[0] + y0
                                    ids[6] = yBase[1] + yc[1]; ids[7] = yBase[1] + yc[1] + y2
                                    let z0 = a0[ip] != b0[ip] ? 1 as Int32 : 0, z2 = a1[ip] != b1[ip] ? 1 as Int32 : 0
                                    ids[8] = zBase[0] + zc[0]; ids[9] = zBase[0] + zc[0] + z0
                                    ids[10] = zBase[1] + zc[1]; ids[11] = zBase[1] + zc[1] + z2
                                    for e in table[bits] {
                                        indP.value[t] = UInt32(ids[Int(e)])
                                        t += 1
                                    }
                                    lastCube = ip
                                    advance(ip, rowsOfX, a0, a1, b0, b1, &xc, &yc, &zc)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Mesh(positions: positions, indices: indices)
    }

    /// Counts the crossed edges at x = ip of the cube row's edge rows (after using them).
    @inline(__always)
    private static func advance(_ ip: Int, _ rowsOfX: [UnsafePointer<UInt8>], _ a0: UnsafePointer<UInt8>,
                                _ a1: UnsafePointer<UInt8>, _ b0: UnsafePointer<UInt8>, _ b1: UnsafePointer<UInt8>,
                                _ xc: inout [Int32], _ yc: inout [Int32], _ zc: inout [Int32]) {
        for e in 0..<4 where rowsOfX[e][ip] != rowsOfX[e][ip + 1] { xc[e] += 1 }
        if a0[ip] != a1[ip] { yc[0] += 1 }
        if b0[ip] != b1[ip] { yc[1] += 1 }
        if a0[ip] != b0[ip] { zc[0] += 1 }
        if a1[ip] != b1[ip] { zc[1] += 1 }
    }

    /// Calls body(ip, case) for the cubes of row jp between the two planes that are not all
    /// inside or all outside.
    @inline(__always)
    private static func forEachCube(_ planes: PlanePair, _ jp: Int, _ px: Int, _ body: (Int, Int) -> Void) {
        let a0 = planes.row(0, jp), a1 = planes.row(0, jp + 1), b0 = planes.row(1, jp), b1 = planes.row(1, jp + 1)
        // Only where one of the four rows changes, or rows differ, can a cube be mixed.
        let lo = min(planes.first(0, jp), planes.first(0, jp + 1), planes.first(1, jp), planes.first(1, jp + 1))
        let hi = max(planes.last(0, jp), planes.last(0, jp + 1), planes.last(1, jp), planes.last(1, jp + 1))
        guard lo <= hi else { return }
        for ip in max(0, lo - 1)...min(px - 2, hi) {
            let bits = Int(a0[ip]) | Int(a0[ip + 1]) << 1 | Int(a1[ip]) << 2 | Int(a1[ip + 1]) << 3
                | Int(b0[ip]) << 4 | Int(b0[ip + 1]) << 5 | Int(b1[ip]) << 6 | Int(b1[ip + 1]) << 7
            if bits != 0 && bits != 255 { body(ip, bits) }
        }
    }

    /// Contiguous ranges of padded planes kp (cube layers kp…kp+1), one per worker.
    private static func slabRanges(_ layers: Int, _ threads: Int) -> [Range<Int>] {
        let workers = max(1, min(threads * 4, layers))
        return (0..<workers).map { w in (layers * w / workers)..<(layers * (w + 1) / workers) }.filter { !$0.isEmpty }
    }

    private static func countChanges(_ row: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var count = 0
        for x in 0..<(n - 1) where row[x] != row[x + 1] { count += 1 }
        return count
    }

    private static func countDifferences(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var count = 0
        for x in 0..<n where a[x] != b[x] { count += 1 }
        return count
    }
}

/// Inside flags of two consecutive padded planes (kp and kp + 1), with the first and last inside
/// voxel of each row (for skipping empty stretches).
final class PlanePair {
    let px: Int, py: Int
    private var flags: [UnsafeMutablePointer<UInt8>]
    private var firstInside: [[Int]]
    private var lastInside: [[Int]]
    private var loaded = -2
    private let classify: (Int, Int, UnsafeMutablePointer<UInt8>) -> Void
    private let nz: Int

    init<F: SurfaceField>(field: F, px: Int, py: Int) {
        self.px = px
        self.py = py
        nz = field.geometry.dimensions.z
        flags = [UnsafeMutablePointer<UInt8>.allocate(capacity: px * py), UnsafeMutablePointer<UInt8>.allocate(capacity: px * py)]
        firstInside = [[Int]](repeating: [Int](repeating: Int.max, count: py), count: 2)
        lastInside = [[Int]](repeating: [Int](repeating: Int.min, count: py), count: 2)
        classify = { j, k, out in field.insideRow(j, k, out) }
    }

    deinit {
        flags.forEach { $0.deallocate() }
    }

    /// Makes planes kp and kp + 1 current (reusing kp when it was the previous upper plane).
    func load(_ kp: Int) {
        if loaded == kp - 1 {
            flags.swapAt(0, 1)
            firstInside.swapAt(0, 1)
            lastInside.swapAt(0, 1)
            fill(1, kp + 1)
        } else {
            fill(0, kp)
            fill(1, kp + 1)
        }
        loaded = kp
    }

    private func fill(_ slot: Int, _ kp: Int) {
        let plane = flags[slot]
        plane.initialize(repeating: 0, count: px * py)
        for jp in 0..<py {
            firstInside[slot][jp] = Int.max
            lastInside[slot][jp] = Int.min
        }
        let k = kp - 1
        guard k >= 0, k < nz else { return }
        for jp in 1..<(py - 1) {
            let row = plane + jp * px
            classify(jp - 1, k, row + 1)
            var first = Int.max, last = Int.min
            for ip in 1..<(px - 1) where row[ip] != 0 {
                if first == Int.max { first = ip }
                last = ip
            }
            firstInside[slot][jp] = first
            lastInside[slot][jp] = last
        }
    }

    @inline(__always) func row(_ slot: Int, _ jp: Int) -> UnsafePointer<UInt8> { UnsafePointer(flags[slot] + jp * px) }
    @inline(__always) func first(_ slot: Int, _ jp: Int) -> Int { firstInside[slot][jp] }
    @inline(__always) func last(_ slot: Int, _ jp: Int) -> Int { lastInside[slot][jp] }
}
