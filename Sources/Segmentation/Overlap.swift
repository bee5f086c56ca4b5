import VolumeCore

/// How well a segmentation matches a reference on the same grid.
public enum Overlap {
    /// Dice coefficient 2|A ∩ B| / (|A| + |B|) of the non-zero voxels (1 when both are empty).
    public static func dice(_ a: Volume<UInt8>, _ b: Volume<UInt8>) -> Double {
        precondition(a.dimensions == b.dimensions, "dice needs masks on the same grid")
        var both = 0, countA = 0, countB = 0
        for index in a.voxels.indices {
            let (x, y) = (a.voxels[index] != 0, b.voxels[index] != 0)
            if x { countA += 1 }
            if y { countB += 1 }
            if x && y { both += 1 }
        }
        return countA + countB == 0 ? 1 : 2 * Double(both) / Double(countA + countB)
    }

    /// The 95th percentile of the symmetric surface distance (mm): for every boundary voxel of
    /// each mask (a mask voxel with a 6-neighbour outside it), the distance from its centre to
    /// the nearest boundary voxel centre of the other; nil when either mask is empty.
    public static func hausdorff95(_ a: Volume<UInt8>, _ b: Volume<UInt8>) -> Double? {
        precondition(a.dimensions == b.dimensions, "the Hausdorff distance needs masks on the same grid")
        guard let boxA = box(a), let boxB = box(b) else { return nil }
        let low = pointwiseMin(boxA.0, boxB.0) &- 1, high = pointwiseMax(boxA.1, boxB.1) &+ 1
        let (ca, cb) = (boundary(a.cropped(low: low, high: high)), boundary(b.cropped(low: low, high: high)))
        let toB = Morphology.squaredDistance(to: cb, inside: true, threads: nil)
        let toA = Morphology.squaredDistance(to: ca, inside: true, threads: nil)
        var distances: [Float] = []
        for index in ca.voxels.indices where ca.voxels[index] != 0 { distances.append(toB[index]) }
        for index in cb.voxels.indices where cb.voxels[index] != 0 { distances.append(toA[index]) }
        guard !distances.isEmpty else { return nil }
        distances.sort()
        let rank = Int((0.95 * Double(distances.count - 1)).rounded(.up))
        return Double(distances[rank]).squareRoot()
    }

    /// The smallest voxel box holding every non-zero voxel.
    static func box(_ mask: Volume<UInt8>) -> (SIMD3<Int>, SIMD3<Int>)? {
        let d = mask.dimensions
        var low = d, high = SIMD3<Int>(repeating: -1)
        for k in 0..<d.z {
            for j in 0..<d.y {
                let row = (k * d.y + j) * d.x
                for i in 0..<d.x where mask.voxels[row + i] != 0 {
                    low = pointwiseMin(low, SIMD3(i, j, k))
                    high = pointwiseMax(high, SIMD3(i, j, k))
                }
            }
        }
        return high.x >= 0 ? (low, high) : nil
    }

    /// Mask voxels with a 6-neighbour outside the mask (voxels on the grid's border count).
    static func boundary(_ mask: Volume<UInt8>) -> Volume<UInt8> {
        let d = mask.dimensions
        var out = Volume<UInt8>(geometry: mask.geometry, filledWith: 0)
        for k in 0..<d.z {
            for j in 0..<d.y {
                for i in 0..<d.x where mask[i, j, k] != 0 {
                    let edge = i == 0 || j == 0 || k == 0 || i == d.x - 1 || j == d.y - 1 || k == d.z - 1
                        || mask[i - 1, j, k] == 0 || mask[i + 1, j, k] == 0 || mask[i, j - 1, k] == 0
                        || mask[i, j + 1, k] == 0 || mask[i, j, k - 1] == 0 || mask[i, j, k + 1] == 0
                    if edge { out[i, j, k] = 1 }
                }
            }
        }
        return out
    }
}
