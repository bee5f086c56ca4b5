/// Sub-volumes: crop a box out of a volume and put one back.
extension Volume {
    /// Voxels `low…high` (inclusive, clamped to the grid) as a volume of their own, placed where
    /// they were in patient space.
    public func cropped(low: SIMD3<Int>, high: SIMD3<Int>) -> Volume {
        let lo = pointwiseMax(low, .zero), hi = pointwiseMin(high, dimensions &- 1)
        let size = pointwiseMax(hi &- lo &+ 1, .zero)
        var g = geometry
        g.dimensions = size
        g.origin = geometry.patientPosition(ofIndex: lo)
        var out = [Voxel]()
        out.reserveCapacity(size.x * size.y * size.z)
        if size.x > 0 && size.y > 0 && size.z > 0 {
            for k in lo.z...hi.z {
                for j in lo.y...hi.y {
                    let start = geometry.offset(lo.x, j, k)
                    out.append(contentsOf: voxels[start..<(start + size.x)])
                }
            }
        }
        return Volume(geometry: g, voxels: out)
    }

    /// Writes `part` (cropped from this grid at `low`) back into this volume.
    public mutating func paste(_ part: Volume, at low: SIMD3<Int>) {
        let size = part.dimensions
        guard size.x > 0, size.y > 0, size.z > 0 else { return }
        for k in 0..<size.z {
            for j in 0..<size.y {
                let target = geometry.offset(low.x, low.y + j, low.z + k)
                let source = part.geometry.offset(0, j, k)
                voxels.replaceSubrange(target..<(target + size.x), with: part.voxels[source..<(source + size.x)])
            }
        }
    }
}

extension VolumeGeometry {
    /// The voxel box holding every voxel within `radius` mm of `point` (clamped to the grid).
    public func indexBox(around point: SIMD3<Double>, radius: Double) -> (SIMD3<Int>, SIMD3<Int>) {
        var low = dimensions &- 1, high = SIMD3<Int>.zero
        for corner in 0..<8 {
            let offset = SIMD3<Double>(corner & 1 == 0 ? -radius : radius, corner & 2 == 0 ? -radius : radius,
                                       corner & 4 == 0 ? -radius : radius)
            guard let index = continuousIndex(ofPatient: point + offset) else { continue }
            let floorIndex = SIMD3<Int>(Int(index.x.rounded(.down)), Int(index.y.rounded(.down)), Int(index.z.rounded(.down)))
            low = pointwiseMin(low, floorIndex)
            high = pointwiseMax(high, floorIndex &+ 1)
        }
        return (pointwiseMax(low, .zero), pointwiseMin(high, dimensions &- 1))
    }
}
