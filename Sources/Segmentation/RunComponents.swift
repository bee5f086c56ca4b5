import VolumeCore

/// The voxels that pass a test, as runs along x, with their connected components.
///
/// This is the core of region growing: the region grown from seeds under a fixed inclusion test
/// is exactly the union of the components that hold the seeds, whatever the order of visits. So
/// instead of a serial flood fill, rows are encoded as runs of included voxels in parallel
/// (slabs of slices per thread), runs of neighbouring rows are joined by a union–find that each
/// thread owns for its slab, slab borders are joined afterwards, and every run gets the smallest
/// run index of its component as label. No locks, no atomics, and the labels do not depend on
/// the thread count. (Run-based labelling after He, Chao & Suzuki, "A run-based two-scan
/// labeling algorithm", IEEE TIP 17(5), 2008; union–find with path halving.)
struct RunComponents {
    let nx: Int, ny: Int, nz: Int
    /// Runs in row order (row = z · ny + y), each packed as x0 | x1 << 32 (inclusive ends).
    var runs: [UInt64]
    /// Runs of row r are runs[rowStart[r] ..< rowStart[r + 1]].
    var rowStart: [Int32]
    /// Component label of every run: the smallest run index in its component.
    var label: [Int32]

    @inline(__always) static func pack(_ x0: Int, _ x1: Int) -> UInt64 { UInt64(x0) | UInt64(x1) << 32 }
    @inline(__always) static func x0(_ run: UInt64) -> Int { Int(run & 0xFFFF_FFFF) }
    @inline(__always) static func x1(_ run: UInt64) -> Int { Int(run >> 32) }

    func rowRange(_ row: Int) -> Range<Int> { Int(rowStart[row])..<Int(rowStart[row + 1]) }

    /// The run of row (y, z) that holds x, if any.
    func run(containing x: Int, y: Int, z: Int) -> Int? {
        var range = rowRange(z * ny + y)
        while !range.isEmpty {  // binary search on x1
            let mid = range.lowerBound + range.count / 2
            if Self.x1(runs[mid]) < x { range = (mid + 1)..<range.upperBound } else { range = range.lowerBound..<mid }
        }
        let index = range.lowerBound
        guard index < Int(rowStart[z * ny + y + 1]), Self.x0(runs[index]) <= x else { return nil }
        return index
    }

    /// Builds the runs of voxels for which `rowRuns` reports runs, then labels them.
    /// `rowRuns(y, z, append)` must call `append(x0, x1)` for each run of row (y, z), in
    /// increasing x, inclusive ends. It is called from several threads at once.
    static func build(nx: Int, ny: Int, nz: Int, connectivity: Connectivity, threads: Int,
                      rowRuns: (Int, Int, (Int, Int) -> Void) -> Void) -> RunComponents {
        let workers = max(1, min(threads, nz))
        // Slabs of whole slices, one per worker, so each union–find range belongs to one thread.
        let slabs: [Range<Int>] = (0..<workers).map { w in (nz * w / workers)..<(nz * (w + 1) / workers) }
            .filter { !$0.isEmpty }
        var slabRuns = [[UInt64]](repeating: [], count: slabs.count)
        var slabRowCounts = [[Int32]](repeating: [], count: slabs.count)
        slabRuns.withUnsafeMutableBufferPointer { runsOut in
            slabRowCounts.withUnsafeMutableBufferPointer { countsOut in
                let r = UncheckedSendable(runsOut), c = UncheckedSendable(countsOut)
                parallelFor(0..<slabs.count, threads: workers) { indices in
                    for s in indices {
                        var runs: [UInt64] = []
                        var counts = [Int32](repeating: 0, count: slabs[s].count * ny)
                        var row = 0
                        for z in slabs[s] {
                            for y in 0..<ny {
                                let before = runs.count
                                rowRuns(y, z) { x0, x1 in runs.append(pack(x0, x1)) }
                                counts[row] = Int32(runs.count - before)
                                row += 1
                            }
                        }
                        r.value[s] = runs
                        c.value[s] = counts
                    }
                }
            }
        }
        // Row starts: a prefix sum over rows, slab after slab.
        var rowStart = [Int32](repeating: 0, count: nx == 0 ? 1 : ny * nz + 1)
        var total = 0, row = 0
        for counts in slabRowCounts {
            for count in counts {
                rowStart[row] = Int32(total)
                total += Int(count)
                row += 1
            }
        }
        rowStart[row] = Int32(total)
        var runs = [UInt64]()
        runs.reserveCapacity(total)
        for slab in slabRuns { runs += slab }
        slabRuns = []

        var components = RunComponents(nx: nx, ny: ny, nz: nz, runs: runs, rowStart: rowStart, label: [])
        components.join(slabs: slabs, connectivity: connectivity, threads: workers)
        return components
    }

    /// Union–find over the runs: within slabs in parallel, then across slab borders, then every
    /// run labelled with its root (the smallest run index of its component).
    private mutating func join(slabs: [Range<Int>], connectivity: Connectivity, threads: Int) {
        let neighbours = connectivity.earlierRows
        let (ny, runs, rowStart) = (self.ny, self.runs, self.rowStart)
        var parents = Array(0..<Int32(runs.count))
        var labels = [Int32](repeating: 0, count: runs.count)
        parents.withUnsafeMutableBufferPointer { parentBuffer in
            let parent = UncheckedSendable(parentBuffer.baseAddress!)
            runs.withUnsafeBufferPointer { runBuffer in
                rowStart.withUnsafeBufferPointer { startBuffer in
                    let runsP = UncheckedSendable(runBuffer.baseAddress!), starts = UncheckedSendable(startBuffer.baseAddress!)
                    // Joins row (y, z) with its earlier neighbour rows, looking back no further than zMin.
                    func joinRow(_ y: Int, _ z: Int, zMin: Int) {
                        let row = z * ny + y
                        let a0 = Int(starts.value[row]), a1 = Int(starts.value[row + 1])
                        if a0 == a1 { return }
                        for (dy, dz, diagonal) in neighbours {
                            let yy = y + dy, zz = z + dz
                            guard yy >= 0, yy < ny, zz >= zMin else { continue }
                            let other = zz * ny + yy
                            var i = a0, j = Int(starts.value[other])
                            let j1 = Int(starts.value[other + 1])
                            let reach = diagonal ? 1 : 0
                            while i < a1 && j < j1 {
                                let a = runsP.value[i], b = runsP.value[j]
                                if Self.x0(a) <= Self.x1(b) + reach && Self.x0(b) <= Self.x1(a) + reach {
                                    unite(parent.value, i, j)
                                }
                                if Self.x1(a) < Self.x1(b) { i += 1 } else { j += 1 }
                            }
                        }
                    }
                    parallelFor(0..<slabs.count, threads: threads) { indices in
                        for s in indices {
                            for z in slabs[s] { for y in 0..<ny { joinRow(y, z, zMin: slabs[s].lowerBound) } }
                        }
                    }
                    // Slab borders: the first slice of each slab with the slice before it.
                    for slab in slabs.dropFirst() {
                        for y in 0..<ny { joinRow(y, slab.lowerBound, zMin: slab.lowerBound - 1) }
                    }
                    // Labels: every run's root. The forest is final: read parents, write labels.
                    labels.withUnsafeMutableBufferPointer { labelBuffer in
                        let out = UncheckedSendable(labelBuffer.baseAddress!)
                        parallelFor(0..<runBuffer.count, grain: 1 << 16, threads: threads) { range in
                            for index in range {
                                var r = Int32(index)
                                while parent.value[Int(r)] != r { r = parent.value[Int(r)] }
                                out.value[index] = r
                            }
                        }
                    }
                }
            }
        }
        label = labels
    }
}

/// Root of `index` with path halving.
@inline(__always)
private func root(_ parent: UnsafeMutablePointer<Int32>, _ index: Int32) -> Int32 {
    var i = index
    while parent[Int(i)] != i {
        let grand = parent[Int(parent[Int(i)])]
        parent[Int(i)] = grand
        i = grand
    }
    return i
}

/// Joins the components of a and b, keeping the smaller root (so labels are deterministic).
@inline(__always)
private func unite(_ parent: UnsafeMutablePointer<Int32>, _ a: Int, _ b: Int) {
    let ra = root(parent, Int32(a)), rb = root(parent, Int32(b))
    if ra < rb { parent[Int(rb)] = ra } else if rb < ra { parent[Int(ra)] = rb }
}
