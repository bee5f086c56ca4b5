import VolumeCore

/// Count, sum and sum of squares of voxel values, for the mean and variance of confidence
/// growing. Callers add them up in a fixed order, so results do not depend on the thread count.
struct Statistics {
    var count: Int
    var sum: Double
    var sumOfSquares: Double

    var mean: Double { count > 0 ? sum / Double(count) : 0 }
    var variance: Double {
        guard count > 1 else { return 0 }
        return max(0, (sumOfSquares - sum * sum / Double(count)) / Double(count - 1))
    }

    func interval(_ multiplier: Double) -> (Double, Double) {
        let deviation = variance.squareRoot()
        return (mean - multiplier * deviation, mean + multiplier * deviation)
    }

    /// Over the cubes of `radius` voxels around the seeds (clipped to the volume).
    static func neighbourhoods(_ volume: AnyVolume, _ seeds: [SIMD3<Int>], radius: Int) -> Statistics {
        let d = volume.geometry.dimensions
        var stats = Statistics(count: 0, sum: 0, sumOfSquares: 0)
        for seed in seeds {
            for k in max(0, seed.z - radius)...min(d.z - 1, seed.z + radius) {
                for j in max(0, seed.y - radius)...min(d.y - 1, seed.y + radius) {
                    for i in max(0, seed.x - radius)...min(d.x - 1, seed.x + radius) {
                        let v = volume.value(i, j, k)
                        stats.count += 1
                        stats.sum += v
                        stats.sumOfSquares += v * v
                    }
                }
            }
        }
        return stats
    }

    /// The values of the voxels whose centres lie within `radiusMM` of each seed, seed by seed
    /// (the seeds' own values when no voxel centre is that close).
    static func values(of volume: AnyVolume, within radiusMM: Double, of seeds: [ResolvedSeed]) -> [Double] {
        let g = volume.geometry
        var values: [Double] = []
        for seed in seeds {
            let (a, b) = g.indexBox(around: seed.patient, radius: radiusMM)
            guard a.x <= b.x, a.y <= b.y, a.z <= b.z else { continue }
            for k in a.z...b.z {
                for j in a.y...b.y {
                    for i in a.x...b.x where (g.patientPosition(ofIndex: SIMD3(i, j, k)) - seed.patient).length <= radiusMM {
                        values.append(volume.value(i, j, k))
                    }
                }
            }
        }
        return values.isEmpty ? seeds.map(\.value) : values
    }
}
