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
        // Each row's first and last inside voxel, once for both passes (most rows hold none).
        var extents = [Int32](repeating: -1, count: 2 * ny * nz)
        extents.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedSendable(buffer.baseAddress!)
            parallelFor(0..<(ny * nz), grain: 512, threads: threads) { rows in
                for row in rows {
                    if let span = field.extent(row % ny, row / ny) {
                        out.value[2 * row] = Int32(span.lowerBound)
                        out.value[2 * row + 1] = Int32(span.upperBound)
                    }
                }
            }
        }
        let table = UncheckedSendable(CaseTable.flat), offsets = UncheckedSendable(CaseTable.offsets)
        let triangleCounts = UncheckedSendable(CaseTable.triangles.map { Int32($0.count / 3) })

        // Pass 1: counts per padded row.
        xCount.withUnsafeMutableBufferPointer { xc in
            yCount.withUnsafeMutableBufferPointer { yc in
                zCount.withUnsafeMutableBufferPointer { zc in
                    triCount.withUnsafeMutableBufferPointer { tc in
                        let (xcP, ycP, zcP, tcP) = (UncheckedSendable(xc.baseAddress!), UncheckedSendable(yc.baseAddress!),
                                                    UncheckedSendable(zc.baseAddress!), UncheckedSendable(tc.baseAddress!))
                        parallelFor(0..<slabs.count, threads: threads) { indices in
                            for s in indices {
                                let planes = PlanePair(field: field, px: px, py: py, extents: extents)
                                for kp in slabs[s] {
                                    planes.load(kp)
                                    for jp in 0..<py {
                                        let r = kp * py + jp
                                        // The last padded row is outside: no edges cross there, no cubes.
                                        guard jp + 1 < py else { continue }
                                        // One sweep over the mixed cubes gives the triangles and, through the
                                        // counters, the crossed edges of this row (edges only cross at mixed cubes).
                                        let a0 = planes.row(0, jp), a1 = planes.row(0, jp + 1)
                                        let b0 = planes.row(1, jp), b1 = planes.row(1, jp + 1)
                                        var c = Counters()
                                        var triangles: Int32 = 0
                                        triangleCounts.value.withUnsafeBufferPointer { counts in
                                            forEachCube(planes, jp, px) { ip, bits in
                                                triangles += counts[bits]
                                                c.advance(ip, a0, a1, b0, b1)
                                            }
                                        }
                                        xcP.value[r] = c.x0
                                        ycP.value[r] = c.y0
                                        zcP.value[r] = c.z0
                                        tcP.value[r] = triangles
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
        let axisX = SIMD3<Float>(Float(m[0][0]), Float(m[1][0]), Float(m[2][0]))
        let axisY = SIMD3<Float>(Float(m[0][1]), Float(m[1][1]), Float(m[2][1]))
        let axisZ = SIMD3<Float>(Float(m[0][2]), Float(m[1][2]), Float(m[2][2]))
        let origin = SIMD3<Float>(Float(m[0][3]), Float(m[1][3]), Float(m[2][3])) - axisX - axisY - axisZ

        // Pass 2: vertices and triangles, each row into its own ranges.
        positions.withUnsafeMutableBufferPointer { pos in
            indices.withUnsafeMutableBufferPointer { ind in
                let (posP, indP) = (UncheckedSendable(pos.baseAddress!), UncheckedSendable(ind.baseAddress!))
                parallelFor(0..<slabs.count, threads: threads) { slabIndices in
                    for s in slabIndices {
                        let planes = PlanePair(field: field, px: px, py: py, extents: extents)
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
                                    posP.value[v] = origin + axisX * (Float(ip) + step.x) + axisY * (Float(jpp) + step.y)
                                        + axisZ * (Float(kpp) + step.z)
                                    v += 1
                                }
                                // Edge ip crosses where row u differs from row w shifted by `shift`;
                                // eight equal bytes at a time are skipped.
                                @inline(__always) func crossings(_ u: UnsafePointer<UInt8>, _ w: UnsafePointer<UInt8>,
                                                                 _ shift: Int, _ span: Range<Int>, _ body: (Int) -> Void) {
                                    var ip = span.lowerBound
                                    while ip < span.upperBound {
                                        if ip + 8 <= span.upperBound,
                                           UnsafeRawPointer(u + ip).loadUnaligned(as: UInt64.self)
                                               == UnsafeRawPointer(w + ip + shift).loadUnaligned(as: UInt64.self) {
                                            ip += 8
                                            continue
                                        }
                                        if u[ip] != w[ip + shift] { body(ip) }
                                        ip += 1
                                    }
                                }
                                crossings(a0, a0, 1, planes.span(0, jp)) { emit($0, jp, kp, 1, 0, 0) }
                                if jp + 1 < py {
                                    crossings(a0, planes.row(0, jp + 1), 0, planes.span(0, jp, 0, jp + 1)) { emit($0, jp, kp, 0, 1, 0) }
                                }
                                crossings(a0, b0, 0, planes.span(0, jp, 1, jp)) { emit($0, jp, kp, 0, 0, 1) }
                                guard jp + 1 < py else { continue }
                                // Triangles of this row's cubes: edge ids from running counters.
                                // Edge rows: x-edges of (jp,kp) (jp+1,kp) (jp,kp+1) (jp+1,kp+1);
                                // y-edges of (jp,kp) (jp,kp+1); z-edges of (jp,kp) (jp+1,kp).
                                let (r1, r2, r3) = (r + 1, r + py, r + py + 1)
                                let x0 = Int32(vertexStart[r]), x1 = Int32(vertexStart[r1])
                                let x2 = Int32(vertexStart[r2]), x3 = Int32(vertexStart[r3])
                                let y0 = x0 + xCount[r], y1 = x2 + xCount[r2]
                                let z0 = y0 + yCount[r], z1 = x1 + xCount[r1] + yCount[r1]
                                let a1 = planes.row(0, jp + 1), b1 = planes.row(1, jp + 1)
                                var c = Counters()
                                var t = triangleStart[r] * 3
                                // Counters only change at mixed cubes: where all eight corners agree, no
                                // edge at that x crosses, so uniform cubes are never visited.
                                withUnsafeTemporaryAllocation(of: Int32.self, capacity: 12) { ids in
                                    forEachCube(planes, jp, px) { ip, bits in
                                        ids[0] = x0 + c.x0; ids[1] = x1 + c.x1; ids[2] = x2 + c.x2; ids[3] = x3 + c.x3
                                        let yStep0: Int32 = a0[ip] != a1[ip] ? 1 : 0, yStep1: Int32 = b0[ip] != b1[ip] ? 1 : 0
                                        ids[4] = y0 + c.y0; ids[5] = y0 + c.y0 + yStep0
                                        ids[6] = y1 + c.y1; ids[7] = y1 + c.y1 + yStep1
                                        let zStep0: Int32 = a0[ip] != b0[ip] ? 1 : 0, zStep1: Int32 = a1[ip] != b1[ip] ? 1 : 0
                                        ids[8] = z0 + c.z0; ids[9] = z0 + c.z0 + zStep0
                                        ids[10] = z1 + c.z1; ids[11] = z1 + c.z1 + zStep1
                                        for slot in Int(offsets.value[bits])..<Int(offsets.value[bits + 1]) {
                                            indP.value[t] = UInt32(ids[Int(table.value[slot])])
                                            t += 1
                                        }
                                        c.advance(ip, a0, a1, b0, b1)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Mesh(positions: positions, indices: indices)
    }

    /// Crossed edges counted so far along a row of cubes, per edge row.
    struct Counters {
        var x0: Int32 = 0, x1: Int32 = 0, x2: Int32 = 0, x3: Int32 = 0, y0: Int32 = 0, y1: Int32 = 0, z0: Int32 = 0, z1: Int32 = 0

        /// Counts the crossed edges at x = ip (after the cube at ip has used them).
        @inline(__always)
        mutating func advance(_ ip: Int, _ a0: UnsafePointer<UInt8>, _ a1: UnsafePointer<UInt8>,
                              _ b0: UnsafePointer<UInt8>, _ b1: UnsafePointer<UInt8>) {
            if a0[ip] != a0[ip + 1] { x0 += 1 }
            if a1[ip] != a1[ip + 1] { x1 += 1 }
            if b0[ip] != b0[ip + 1] { x2 += 1 }
            if b1[ip] != b1[ip + 1] { x3 += 1 }
            if a0[ip] != a1[ip] { y0 += 1 }
            if b0[ip] != b1[ip] { y1 += 1 }
            if a0[ip] != b0[ip] { z0 += 1 }
            if a1[ip] != b1[ip] { z1 += 1 }
        }
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
        var ip = max(0, lo - 1)
        let end = min(px - 2, hi)
        let ones: UInt64 = 0x0101_0101_0101_0101
        while ip <= end {
            // Eight voxels equal in all four rows (all outside or all inside): seven uniform cubes.
            if ip + 8 <= px {
                let w = UnsafeRawPointer(a0 + ip).loadUnaligned(as: UInt64.self)
                if (w == 0 || w == ones) && w == UnsafeRawPointer(a1 + ip).loadUnaligned(as: UInt64.self)
                    && w == UnsafeRawPointer(b0 + ip).loadUnaligned(as: UInt64.self)
                    && w == UnsafeRawPointer(b1 + ip).loadUnaligned(as: UInt64.self) {
                    ip += 7
                    continue
                }
            }
            let bits = Int(a0[ip]) | Int(a0[ip + 1]) << 1 | Int(a1[ip]) << 2 | Int(a1[ip + 1]) << 3
                | Int(b0[ip]) << 4 | Int(b0[ip + 1]) << 5 | Int(b1[ip]) << 6 | Int(b1[ip + 1]) << 7
            if bits != 0 && bits != 255 { body(ip, bits) }
            ip += 1
        }
    }

    /// Contiguous ranges of padded planes kp (cube layers kp…kp+1), one per worker.
    private static func slabRanges(_ layers: Int, _ threads: Int) -> [Range<Int>] {
        let workers = max(1, min(threads * 4, layers))
        return (0..<workers).map { w in (layers * w / workers)..<(layers * (w + 1) / workers) }.filter { !$0.isEmpty }
    }
}

/// Inside flags of two consecutive padded planes (kp and kp + 1), with the first and last inside
/// voxel of each row (for skipping empty stretches).
final class PlanePair {
    let px: Int, py: Int
    private var flags: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>)
    /// First and last inside voxel per row, slot 0 rows then slot 1 rows (Int.max / Int.min: none).
    private var firstInside: (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>)
    private var lastInside: (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>)
    private var loaded = -2
    private let classify: (Int, Int, ClosedRange<Int>, UnsafeMutablePointer<UInt8>) -> Void
    private let nz: Int

    private let extents: [Int32]

    init<F: SurfaceField>(field: F, px: Int, py: Int, extents: [Int32]) {
        self.px = px
        self.py = py
        self.extents = extents
        nz = field.geometry.dimensions.z
        flags = (UnsafeMutablePointer<UInt8>.allocate(capacity: px * py), UnsafeMutablePointer<UInt8>.allocate(capacity: px * py))
        firstInside = (UnsafeMutablePointer<Int>.allocate(capacity: py), UnsafeMutablePointer<Int>.allocate(capacity: py))
        lastInside = (UnsafeMutablePointer<Int>.allocate(capacity: py), UnsafeMutablePointer<Int>.allocate(capacity: py))
        classify = { j, k, span, out in field.insideRow(j, k, span, out) }
    }

    deinit {
        for pointer in [flags.0, flags.1] { pointer.deallocate() }
        for pointer in [firstInside.0, firstInside.1, lastInside.0, lastInside.1] { pointer.deallocate() }
    }

    @inline(__always) private func plane(_ slot: Int) -> UnsafeMutablePointer<UInt8> { slot == 0 ? flags.0 : flags.1 }
    @inline(__always) private func firsts(_ slot: Int) -> UnsafeMutablePointer<Int> { slot == 0 ? firstInside.0 : firstInside.1 }
    @inline(__always) private func lasts(_ slot: Int) -> UnsafeMutablePointer<Int> { slot == 0 ? lastInside.0 : lastInside.1 }

    /// Makes planes kp and kp + 1 current (reusing kp when it was the previous upper plane).
    func load(_ kp: Int) {
        if loaded == kp - 1 {
            flags = (flags.1, flags.0)
            firstInside = (firstInside.1, firstInside.0)
            lastInside = (lastInside.1, lastInside.0)
            fill(1, kp + 1)
        } else {
            fill(0, kp)
            fill(1, kp + 1)
        }
        loaded = kp
    }

    private func fill(_ slot: Int, _ kp: Int) {
        let plane = self.plane(slot)
        plane.initialize(repeating: 0, count: px * py)
        firsts(slot).initialize(repeating: Int.max, count: py)
        lasts(slot).initialize(repeating: Int.min, count: py)
        let k = kp - 1
        guard k >= 0, k < nz else { return }
        for jp in 1..<(py - 1) {
            let index = 2 * (k * (py - 2) + jp - 1)
            let first = Int(extents[index]), last = Int(extents[index + 1])
            guard first >= 0 else { continue }
            classify(jp - 1, k, first...last, plane + jp * px + 1)
            firsts(slot)[jp] = first + 1
            lasts(slot)[jp] = last + 1
        }
    }

    @inline(__always) func row(_ slot: Int, _ jp: Int) -> UnsafePointer<UInt8> { UnsafePointer(plane(slot) + jp * px) }
    @inline(__always) func first(_ slot: Int, _ jp: Int) -> Int { firsts(slot)[jp] }

    /// Where x-edges of a row can cross: from before its first inside voxel to its last.
    @inline(__always) func span(_ slot: Int, _ jp: Int) -> Range<Int> {
        let f = firsts(slot)[jp]
        return f == Int.max ? 0..<0 : (f - 1)..<(lasts(slot)[jp] + 1)
    }

    /// Where two rows can differ: from the first inside voxel of either to the last of either.
    @inline(__always) func span(_ slotA: Int, _ jpA: Int, _ slotB: Int, _ jpB: Int) -> Range<Int> {
        let f = min(firsts(slotA)[jpA], firsts(slotB)[jpB])
        return f == Int.max ? 0..<0 : f..<(max(lasts(slotA)[jpA], lasts(slotB)[jpB]) + 1)
    }
    @inline(__always) func last(_ slot: Int, _ jp: Int) -> Int { lasts(slot)[jp] }
}
