import VolumeCore

extension VolumeGeometry {
    /// The same voxel grid as `other` (a label map made on a study, read back from a file):
    /// the same dimensions, spacing within 0.001 mm, origin within 0.01 mm, axes within 10⁻⁴.
    func isSameGrid(as other: VolumeGeometry) -> Bool {
        dimensions == other.dimensions && (spacing - other.spacing).length < 1e-3 && (origin - other.origin).length < 1e-2 &&
            direction.maxDifference(to: other.direction) < 1e-4
    }

    /// The grid as messages name it: "256×256×108 voxels of 0.96×0.96×1.5 mm at (x, y, z)".
    var gridDescription: String {
        let n = plainNumber
        return "\(dimensions.x)×\(dimensions.y)×\(dimensions.z) voxels of \(n(spacing.x))×\(n(spacing.y))×" +
            "\(n(spacing.z)) mm at (\(n(origin.x)), \(n(origin.y)), \(n(origin.z)))"
    }
}
