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

/// The lines of voxels along one axis of a grid (x-fastest storage): `count` lines of `length`
/// voxels; voxel n of line l sits at `start(l) + n · stride`.
public struct GridLines: Sendable {
    public let length: Int
    public let stride: Int
    public let count: Int
    private let dimensions: SIMD3<Int>
    private let axis: Int

    public init(_ dimensions: SIMD3<Int>, axis: Int) {
        precondition((0..<3).contains(axis), "axis is 0, 1 or 2")
        self.dimensions = dimensions
        self.axis = axis
        length = dimensions[axis]
        stride = axis == 0 ? 1 : axis == 1 ? dimensions.x : dimensions.x * dimensions.y
        count = length == 0 ? 0 : dimensions.x * dimensions.y * dimensions.z / length
    }

    /// Offset of the first voxel of line `line`.
    public func start(_ line: Int) -> Int {
        switch axis {
        case 0: return line * length
        case 1: return (line / stride) * stride * length + line % stride
        default: return line
        }
    }
}
