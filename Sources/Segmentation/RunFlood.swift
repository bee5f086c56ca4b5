import VolumeCore

/// Seeded growing over maximal runs, breadth-first: it touches only the region and the rows
/// around it, so it is cheap when the region is small next to the volume (confidence growing,
/// tumors, vessels), where `RunComponents` scans every voxel. Waves hold whole maximal runs and
/// are built in a fixed order, so the result (including a volume-limited one) is deterministic.
/// It gives exactly the region `RunComponents` gives for the same test; the tests check that.
struct RunFlood {
    /// A maximal run of included voxels in row `row` (= z · ny + y), x0…x1 inclusive.
    struct Run: Equatable {
        var row: Int32
        var x0: Int32
        var x1: Int32
        var length: Int { Int(x1 - x0) + 1 }
    }

    var runs: [Run]
    var voxels: Int
    var waves: Int
    var limited: Bool

    static func grow<V: VoxelValue>(_ volume: Volume<V>, lower: V, upper: V, seeds: [SIMD3<Int>],
                                    connectivity: Connectivity, maxVoxels: Int?) -> RunFlood {
        let (nx, ny, nz) = (volume.dimensions.x, volume.dimensions.y, volume.dimensions.z)
        // One bit per voxel, set on every voxel of a claimed run, so rows already taken are
        // skipped a word (64 voxels) at a time.
        let words = (nx * ny * nz + 63) / 64
        let claimed = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        claimed.initialize(repeating: 0, count: words)
        defer { claimed.deallocate() }
        return volume.voxels.withUnsafeBufferPointer { buffer in
            let voxels = buffer.baseAddress!
            var all: [Run] = []
            var wave: [Run] = []
            for seed in seeds {
                let row = seed.z * ny + seed.y
                let base = voxels + row * nx
                guard inside(base[seed.x], lower, upper), !isSet(claimed, row * nx + seed.x) else { continue }
                let (a, b) = maximalRun(base, seed.x, nx, lower, upper)
                setBits(claimed, row * nx + a, b - a + 1)
                wave.append(Run(row: Int32(row), x0: Int32(a), x1: Int32(b)))
            }
            var total = wave.reduce(0) { $0 + $1.length }
            all += wave
            var waves = 0, limited = false
            let neighbours = connectivity.allRows
            while !wave.isEmpty {
                var next: [Run] = []
                var added = 0
                for run in wave {
                    let y = Int(run.row) % ny, z = Int(run.row) / ny
                    for (dy, dz, diagonal) in neighbours {
                        let yy = y + dy, zz = z + dz
                        guard yy >= 0, yy < ny, zz >= 0, zz < nz else { continue }
                        let row = zz * ny + yy
                        let base = voxels + row * nx
                        let bitBase = row * nx
                        let reach = diagonal ? 1 : 0
                        var x = max(0, Int(run.x0) - reach)
                        let end = min(nx - 1, Int(run.x1) + reach)
                        while x <= end {
                            if isSet(claimed, bitBase + x) {
                                x = nextClear(claimed, bitBase + x, limit: bitBase + end + 1) - bitBase
                                continue
                            }
                            if !inside(base[x], lower, upper) {
                                x += 1
                                continue
                            }
                            // Unclaimed and inside: its whole maximal run is unclaimed.
                            let (a, b) = maximalRun(base, x, nx, lower, upper)
                            setBits(claimed, bitBase + a, b - a + 1)
                            next.append(Run(row: Int32(row), x0: Int32(a), x1: Int32(b)))
                            added += b - a + 1
                            x = b + 2  // b + 1 is outside
                        }
                    }
                }
                if next.isEmpty { break }
                if let maxVoxels, total + added > maxVoxels {
                    limited = true
                    break
                }
                total += added
                waves += 1
                all += next
                wave = next
            }
            return RunFlood(runs: all, voxels: total, waves: waves, limited: limited)
        }
    }

    /// A 0/1 mask of the runs (zeroed and filled slab by slab in parallel).
    func mask(geometry: VolumeGeometry, threads: Int) -> Volume<UInt8> {
        let (nx, ny, nz) = (geometry.dimensions.x, geometry.dimensions.y, geometry.dimensions.z)
        // Runs sorted by row, so each worker fills the rows it zeroed.
        let sorted = runs.sorted { ($0.row, $0.x0) < ($1.row, $1.x0) }
        let count = nx * ny * nz
        let voxels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UncheckedSendable(buffer.baseAddress!)
            sorted.withUnsafeBufferPointer { runBuffer in
                let runsP = UncheckedSendable(runBuffer)
                parallelFor(0..<(ny * nz), grain: 256, threads: threads) { rows in
                    (out.value + rows.lowerBound * nx).initialize(repeating: 0, count: rows.count * nx)
                    // First run at or after this chunk's first row.
                    var lo = 0, hi = runsP.value.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if Int(runsP.value[mid].row) < rows.lowerBound { lo = mid + 1 } else { hi = mid }
                    }
                    var index = lo
                    while index < runsP.value.count, Int(runsP.value[index].row) < rows.upperBound {
                        let run = runsP.value[index]
                        (out.value + Int(run.row) * nx + Int(run.x0)).update(repeating: 1, count: run.length)
                        index += 1
                    }
                }
            }
            initialized = count
        }
        return Volume(geometry: geometry, voxels: voxels)
    }

    /// Mean and variance of the region's values, summed run by run in run order.
    func statistics<V: VoxelValue>(_ volume: Volume<V>) -> Statistics {
        let nx = volume.dimensions.x
        var stats = Statistics(count: 0, sum: 0, sumOfSquares: 0)
        volume.voxels.withUnsafeBufferPointer { values in
            for run in runs {
                let base = Int(run.row) * nx
                for x in Int(run.x0)...Int(run.x1) {
                    let v = values[base + x].doubleValue
                    stats.sum += v
                    stats.sumOfSquares += v * v
                }
                stats.count += run.length
            }
        }
        return stats
    }
}

@inline(__always)
private func inside<V: VoxelValue>(_ v: V, _ lower: V, _ upper: V) -> Bool { v >= lower && v <= upper }

/// The maximal run of included voxels through x (x itself included).
@inline(__always)
private func maximalRun<V: VoxelValue>(_ row: UnsafePointer<V>, _ x: Int, _ nx: Int, _ lower: V, _ upper: V) -> (Int, Int) {
    var a = x, b = x
    while a > 0 && inside(row[a - 1], lower, upper) { a -= 1 }
    while b < nx - 1 && inside(row[b + 1], lower, upper) { b += 1 }
    return (a, b)
}

@inline(__always)
private func isSet(_ bits: UnsafeMutablePointer<UInt64>, _ index: Int) -> Bool {
    bits[index >> 6] & (1 << UInt64(index & 63)) != 0
}

/// Sets `count` bits from `start`.
@inline(__always)
private func setBits(_ bits: UnsafeMutablePointer<UInt64>, _ start: Int, _ count: Int) {
    var index = start
    let end = start + count
    while index < end {
        let word = index >> 6, offset = index & 63
        let span = min(64 - offset, end - index)
        let mask: UInt64 = span == 64 ? .max : ((1 << UInt64(span)) - 1) << UInt64(offset)
        bits[word] |= mask
        index += span
    }
}

/// The first clear bit at or after `index`, or `limit` if none before it.
@inline(__always)
private func nextClear(_ bits: UnsafeMutablePointer<UInt64>, _ index: Int, limit: Int) -> Int {
    var i = index
    while i < limit {
        let word = ~bits[i >> 6] >> UInt64(i & 63)  // clear bits from i on, as set bits
        if word != 0 { return min(limit, i + word.trailingZeroBitCount) }
        i = (i | 63) + 1
    }
    return limit
}
