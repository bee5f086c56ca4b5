@testable import Segmentation
import Testing
import VolumeCore

/// The exact distance transform under every morphology step, against brute force.
struct DistanceTransformTests {
    /// A mask of `dimensions` with about `density` of its voxels set (a fixed generator, so that
    /// a failure comes back the same).
    static func mask(_ dimensions: SIMD3<Int>, spacing: SIMD3<Double>, density: Double, seed: UInt64) -> Volume<UInt8> {
        var state = seed
        var volume = Volume<UInt8>(geometry: VolumeGeometry(dimensions: dimensions, spacing: spacing), filledWith: 0)
        for i in volume.voxels.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            volume.voxels[i] = Double(state >> 11) / Double(1 << 53) < density ? 1 : 0
        }
        return volume
    }

    /// Squared distance (mm²) from each voxel to the nearest voxel whose (mask != 0) == inside.
    static func bruteForce(_ mask: Volume<UInt8>, inside: Bool) -> [Float] {
        let d = mask.dimensions, s = mask.spacing
        var features: [SIMD3<Double>] = []
        for z in 0..<d.z { for y in 0..<d.y { for x in 0..<d.x where (mask[x, y, z] != 0) == inside {
            features.append(SIMD3(Double(x), Double(y), Double(z)) * s)
        } } }
        var out = [Float](repeating: .infinity, count: mask.voxels.count)
        for z in 0..<d.z { for y in 0..<d.y { for x in 0..<d.x {
            let p = SIMD3(Double(x), Double(y), Double(z)) * s
            var best = Double.infinity
            for f in features { best = min(best, ((p - f) * (p - f)).sum()) }
            out[mask.geometry.offset(x, y, z)] = Float(best)
        } } }
        return out
    }

    static let cases: [(SIMD3<Int>, SIMD3<Double>, Double)] = [
        (SIMD3(13, 9, 11), SIMD3(0.7, 1.1, 2.5), 0.02), (SIMD3(13, 9, 11), SIMD3(0.7, 1.1, 2.5), 0.3),
        (SIMD3(8, 17, 6), SIMD3(1, 1, 1), 0.9), (SIMD3(1, 12, 9), SIMD3(0.5, 0.5, 3), 0.1), (SIMD3(10, 10, 10), SIMD3(1, 2, 1), 0),
    ]

    @Test(arguments: 0..<5) func theTransformIsExactAndALimitOnlyDropsWhatLiesBeyondIt(index: Int) {
        let (dimensions, spacing, density) = Self.cases[index]
        let mask = Self.mask(dimensions, spacing: spacing, density: density, seed: UInt64(index + 1))
        for inside in [true, false] {
            let truth = Self.bruteForce(mask, inside: inside)
            let fast = Morphology.squaredDistance(to: mask, inside: inside, threads: 2)
            #expect(zip(truth, fast).allSatisfy { $0 == $1 || abs($0 - $1) <= 1e-4 * max(1, $0) }, "case \(index), inside \(inside)")
            let limit: Float = 4
            let near = Morphology.squaredDistance(to: mask, inside: inside, limit: limit, threads: 2)
            #expect(zip(truth, near).allSatisfy { $0 > limit ? $1 == .infinity : abs($0 - $1) <= 1e-4 * max(1, $0) }, "case \(index), inside \(inside), limit")
        }
        // Dilation and erosion with a ball of 2.2 mm, voxel by voxel.
        let outside = Self.bruteForce(mask, inside: true), background = Self.bruteForce(mask, inside: false)
        let dilated = Morphology.dilate(mask, radius: 2.2, threads: 2), eroded = Morphology.erode(mask, radius: 2.2, threads: 2)
        for i in mask.voxels.indices {
            #expect(dilated.voxels[i] == (outside[i] <= 2.2 * 2.2 ? 1 : 0))
            #expect(eroded.voxels[i] == (mask.voxels[i] != 0 && background[i] > 2.2 * 2.2 ? 1 : 0))
        }
    }

    /// Dilation and erosion by a ball on rows of bits give exactly the voxels of the distance
    /// transform's threshold: anisotropic voxels, rows longer than a word and not a multiple of
    /// it, widths beyond a word (0.1 mm columns), sparse and dense masks, masks touching the border.
    @Test func theBallOnRowsOfBitsGivesTheTransformsVoxels() {
        let cases: [(SIMD3<Int>, SIMD3<Double>, Double, [Double])] = [
            (SIMD3(70, 23, 19), SIMD3(0.7, 1.1, 2.5), 0.02, [0.5, 1.1, 2.2, 3, 5.5]),
            (SIMD3(129, 17, 13), SIMD3(0.49, 0.49, 0.5), 0.01, [1, 2, 3, 4.5]),
            (SIMD3(64, 30, 9), SIMD3(1, 1, 1), 0.6, [1, 1.5, 2, 3]),
            (SIMD3(150, 9, 11), SIMD3(0.1, 0.6, 0.7), 0.003, [2, 8]),
            (SIMD3(3, 40, 40), SIMD3(0.8, 0.8, 3), 0.05, [2.4, 6]),
            (SIMD3(77, 12, 10), SIMD3(0.6, 0.6, 1.2), 0.97, [0.7, 1.9]),
        ]
        for (n, (dimensions, spacing, density, radii)) in cases.enumerated() {
            var mask = Self.mask(dimensions, spacing: spacing, density: density, seed: UInt64(n + 101))
            // Any non-zero byte is inside (labels, not only 1s).
            for i in mask.voxels.indices where mask.voxels[i] != 0 && i % 3 == 0 { mask.voxels[i] = UInt8(truncatingIfNeeded: 2 + i % 254) }
            for radius in radii {
                #expect(Morphology.windowed(Morphology.reach(radius), spacing), "case \(n), \(radius) mm takes the bit path")
                let near = Morphology.squaredDistance(to: mask, inside: true, limit: Morphology.reach(radius), threads: 2)
                let truth = Morphology.threshold(near, radius * radius, geometry: mask.geometry, threads: 2)
                let dilated = Morphology.dilate(mask, radius: radius, threads: 2)
                #expect(dilated.voxels == truth.voxels, "case \(n), dilation by \(radius) mm: \(zip(dilated.voxels, truth.voxels).filter { $0 != $1 }.count) voxels differ")
                let background = Morphology.squaredDistance(to: mask, inside: false, limit: Morphology.reach(radius), threads: 2)
                let bound = Morphology.ballBound(radius)
                let kept = mask.voxels.indices.map { mask.voxels[$0] != 0 && background[$0] > bound ? UInt8(1) : 0 }
                let eroded = Morphology.erode(mask, radius: radius, threads: 3)
                #expect(eroded.voxels == kept, "case \(n), erosion by \(radius) mm: \(zip(eroded.voxels, kept).filter { $0 != $1 }.count) voxels differ")
            }
        }
    }

    @Test(arguments: 0..<5) func theChamberCheckNeverBoundsTheDepthBelowItsTruth(index: Int) {
        let (dimensions, spacing, density) = Self.cases[index]
        // Dense masks, so that there is depth to bound; and a solid block inside an empty border.
        var mask = Self.mask(dimensions &* 2, spacing: spacing, density: max(density, 0.85), seed: UInt64(index + 11))
        let d = mask.dimensions
        for z in 0..<d.z { for y in 0..<d.y { for x in 0..<d.x where x == 0 || y == 0 || z == 0 { mask[x, y, z] = 0 } } }
        let deepest = Double(Self.bruteForce(mask, inside: false).filter(\.isFinite).max() ?? 0).squareRoot()
        #expect(VesselPreset.deepestBound(mask, threads: 2) >= deepest - 1e-4)
    }
}

extension DistanceTransformTests {
    /// The marrow fill (holes in each slice up to an area) on runs gives the voxels of a plain
    /// flood fill of each slice's background: sparse and dense masks, rows of one pixel, a hole
    /// just at the area limit and just over it.
    @Test func theSliceHoleFillOnRunsMatchesAFloodFill() {
        let cases: [(SIMD3<Int>, SIMD3<Double>, Double, Double)] = [
            (SIMD3(40, 30, 4), SIMD3(1, 1, 2), 0.45, 6), (SIMD3(40, 30, 4), SIMD3(1, 1, 2), 0.7, 1e6),
            (SIMD3(1, 25, 3), SIMD3(1, 1, 1), 0.5, 3), (SIMD3(33, 1, 2), SIMD3(1, 1, 1), 0.5, 3),
            (SIMD3(70, 64, 3), SIMD3(0.5, 0.5, 1), 0.55, 2.5), (SIMD3(20, 20, 2), SIMD3(1, 1, 1), 0.0, 4),
        ]
        for (n, (dimensions, spacing, density, area)) in cases.enumerated() {
            var mask = Self.mask(dimensions, spacing: spacing, density: density, seed: UInt64(n + 201))
            // A ring around a 3 × 3 hole in the first slice: 9 pixels.
            if dimensions.x >= 7 && dimensions.y >= 7 {
                for y in 1...5 { for x in 1...5 { mask[x, y, 0] = (x == 1 || x == 5 || y == 1 || y == 5) ? 1 : 0 } }
            }
            for limit in [area, 9 * spacing.x * spacing.y, 8.9 * spacing.x * spacing.y] {
                let fast = VesselPreset.fillSmallHoles(mask, maximumAreaMM2: limit)
                let truth = Self.floodFilledHoles(mask, maximumAreaMM2: limit)
                #expect(fast.voxels == truth.voxels, "case \(n), limit \(limit) mm²: \(zip(fast.voxels, truth.voxels).filter { $0 != $1 }.count) voxels differ")
            }
        }
    }

    /// Holes of each slice (4-connected background not touching the slice's edge, at most the area), by flood fill.
    static func floodFilledHoles(_ mask: Volume<UInt8>, maximumAreaMM2: Double) -> Volume<UInt8> {
        let d = mask.dimensions
        let maximum = Int(saturating: (maximumAreaMM2 / (mask.spacing.x * mask.spacing.y)).rounded(.down))
        var out = mask
        for k in 0..<d.z {
            var seen = [Bool](repeating: false, count: d.x * d.y)
            for start in 0..<(d.x * d.y) where !seen[start] && mask[start % d.x, start / d.x, k] == 0 {
                var queue = [start], head = 0, border = false
                seen[start] = true
                while head < queue.count {
                    let p = queue[head]; head += 1
                    let (x, y) = (p % d.x, p / d.x)
                    if x == 0 || y == 0 || x == d.x - 1 || y == d.y - 1 { border = true }
                    for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < d.x && ny < d.y {
                        let q = ny * d.x + nx
                        if !seen[q] && mask[nx, ny, k] == 0 { seen[q] = true; queue.append(q) }
                    }
                }
                if !border && queue.count <= maximum { for p in queue { out[p % d.x, p / d.x, k] = 1 } }
            }
        }
        return out
    }
}
