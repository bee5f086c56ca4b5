import VolumeCore

/// The smallest and largest value of every row, so that scans for an interval can skip rows
/// that cannot hold a voxel of it (most rows, for bone or contrast intervals). One streaming
/// pass; worth it when the same volume is scanned several times (confidence growing).
struct RowSummary: Sendable {
    var low: [Double]
    var high: [Double]

    init<V: VoxelValue>(_ volume: Volume<V>, threads: Int) {
        let (nx, rows) = (volume.dimensions.x, volume.dimensions.y * volume.dimensions.z)
        var low = [Double](repeating: 0, count: rows), high = [Double](repeating: 0, count: rows)
        volume.voxels.withUnsafeBufferPointer { values in
            low.withUnsafeMutableBufferPointer { lowOut in
                high.withUnsafeMutableBufferPointer { highOut in
                    let (v, lo, hi) = (UncheckedSendable(values), UncheckedSendable(lowOut), UncheckedSendable(highOut))
                    parallelFor(0..<rows, grain: 256, threads: threads) { range in
                        for row in range {
                            var a = v.value[row * nx], b = a
                            for x in (row * nx)..<((row + 1) * nx) {
                                let value = v.value[x]
                                a = min(a, value)
                                b = max(b, value)
                            }
                            lo.value[row] = a.doubleValue
                            hi.value[row] = b.doubleValue
                        }
                    }
                }
            }
        }
        self.low = low
        self.high = high
    }

    @inline(__always)
    func mayHold(row: Int, lower: Double, upper: Double) -> Bool {
        high[row] >= lower && low[row] <= upper
    }
}
