import VolumeCore

extension RunComponents {
    /// Voxels in the runs whose component root is flagged.
    func voxels(where isRoot: [Bool]) -> Int {
        var total = 0
        for index in 0..<runs.count where isRoot[Int(label[index])] {
            total += Self.x1(runs[index]) - Self.x0(runs[index]) + 1
        }
        return total
    }

    /// A breadth-first walk over runs from `start`, whole wave by whole wave, that stops before
    /// the wave that would take the region past `maxVoxels`. Waves do not depend on thread
    /// timing, so neither does the result.
    func breadthFirst(from start: [Int], connectivity: Connectivity, maxVoxels: Int)
        -> (selected: [Bool], voxels: Int, waves: Int) {
        var selected = [Bool](repeating: false, count: runs.count)
        var wave: [Int] = []
        var voxels = 0
        for run in start where !selected[run] {
            selected[run] = true
            wave.append(run)
        }
        let length = { (run: Int) in Self.x1(runs[run]) - Self.x0(runs[run]) + 1 }
        let seedVoxels = wave.reduce(0) { $0 + length($1) }
        voxels = seedVoxels
        var waves = 0
        let neighbours = connectivity.allRows
        while !wave.isEmpty {
            var next: [Int] = []
            var nextVoxels = 0
            for run in wave {
                let row = rowIndex(of: run)
                let (y, z) = (row % ny, row / ny)
                let a = runs[run]
                for (dy, dz, diagonal) in neighbours {
                    let yy = y + dy, zz = z + dz
                    guard yy >= 0, yy < ny, zz >= 0, zz < nz else { continue }
                    let reach = diagonal ? 1 : 0
                    for candidate in rowRange(zz * ny + yy) {
                        let b = runs[candidate]
                        if Self.x0(b) > Self.x1(a) + reach { break }
                        if Self.x1(b) + reach < Self.x0(a) || selected[candidate] { continue }
                        selected[candidate] = true
                        next.append(candidate)
                        nextVoxels += length(candidate)
                    }
                }
            }
            if next.isEmpty { break }
            if voxels + nextVoxels > maxVoxels {
                for run in next { selected[run] = false }
                break
            }
            voxels += nextVoxels
            waves += 1
            wave = next
        }
        return (selected, voxels, waves)
    }

    /// The row of run `index` (binary search in the row starts).
    func rowIndex(of index: Int) -> Int {
        var lo = 0, hi = rowStart.count - 1  // rowStart[lo] <= index < rowStart[hi]
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if Int(rowStart[mid]) <= index { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// A 0/1 mask of the selected runs, filled row by row in parallel.
    func mask(selected: [Bool], geometry: VolumeGeometry, threads: Int) -> Volume<UInt8> {
        // Zeroed here, row by row in parallel, rather than by Array(repeating:): the first touch
        // of a large new array (page faults, clearing) is the biggest cost of this pass.
        let count = nx * ny * nz
        let voxels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UncheckedSendable(buffer.baseAddress!)
            runs.withUnsafeBufferPointer { runBuffer in
                let runsP = UncheckedSendable(runBuffer.baseAddress!)
                parallelFor(0..<(ny * nz), grain: 256, threads: threads) { rows in
                    (out.value + rows.lowerBound * nx).initialize(repeating: 0, count: rows.count * nx)
                    paint(rows, selected: selected, runs: runsP.value, into: out.value)
                }
            }
            initialized = count
        }
        return Volume(geometry: geometry, voxels: voxels)
    }

    /// Sets the voxels of the selected runs (by run index) to 1 in `voxels`, a grid of this
    /// size, leaving the others as they are: a mask's selected components added to it in place,
    /// with no volume of their own.
    func paint(selected: [Bool], into voxels: inout [UInt8], threads: Int) {
        precondition(voxels.count == nx * ny * nz, "paint: the grid is not the runs' grid")
        voxels.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedSendable(buffer.baseAddress!)
            runs.withUnsafeBufferPointer { runBuffer in
                let runsP = UncheckedSendable(runBuffer.baseAddress!)
                parallelFor(0..<(ny * nz), grain: 256, threads: threads) { rows in
                    paint(rows, selected: selected, runs: runsP.value, into: out.value)
                }
            }
        }
    }

    /// The selected runs of `rows` set to 1 in the grid at `out`.
    @inline(__always)
    private func paint(_ rows: Range<Int>, selected: [Bool], runs: UnsafePointer<UInt64>, into out: UnsafeMutablePointer<UInt8>) {
        for row in rows {
            let base = row * nx
            for index in rowRange(row) where selected[index] {
                let run = runs[index]
                (out + base + Self.x0(run)).update(repeating: 1, count: Self.x1(run) - Self.x0(run) + 1)
            }
        }
    }
}
