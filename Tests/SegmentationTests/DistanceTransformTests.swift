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
        ]
        for (n, (dimensions, spacing, density, radii)) in cases.enumerated() {
            let mask = Self.mask(dimensions, spacing: spacing, density: density, seed: UInt64(n + 101))
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
