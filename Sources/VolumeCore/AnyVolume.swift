/// A volume whose voxel type was chosen at run time: CT and most MR load as `Int16`;
/// data whose rescaled values are fractional or beyond Int16 load as `Float`.
public enum AnyVolume: Sendable {
    case int16(Volume<Int16>)
    case float32(Volume<Float>)

    public var geometry: VolumeGeometry {
        switch self {
        case .int16(let volume): return volume.geometry
        case .float32(let volume): return volume.geometry
        }
    }

    public var voxelTypeName: String {
        switch self {
        case .int16: return "int16"
        case .float32: return "float32"
        }
    }

    /// Smallest and largest value, as doubles.
    public func valueRange(threads: Int? = nil) -> ClosedRange<Double>? {
        switch self {
        case .int16(let volume):
            return volume.valueRange(threads: threads).map { Double($0.lowerBound)...Double($0.upperBound) }
        case .float32(let volume):
            return volume.valueRange(threads: threads).map { Double($0.lowerBound)...Double($0.upperBound) }
        }
    }

    /// The value at voxel (i, j, k) as a double.
    public func value(_ i: Int, _ j: Int, _ k: Int) -> Double {
        switch self {
        case .int16(let volume): return Double(volume[i, j, k])
        case .float32(let volume): return Double(volume[i, j, k])
        }
    }
}
