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

extension AnyVolume {
    /// Percentiles (`fractions` in 0…1) of about a million voxels spread over the volume (an odd
    /// stride, so that the sample does not follow rows or slices; non-finite values skipped);
    /// nil when there is no finite voxel.
    public func sampledPercentiles(_ fractions: [Double]) -> [Double]? {
        let count = geometry.voxelCount
        let stride = max(1, count / 1_000_000) | 1
        var sample: [Double] = []
        sample.reserveCapacity(count / stride + 1)
        switch self {
        case .int16(let v):
            // The same order statistics as sorting the sample, from its histogram (sorting a
            // million doubles took 80 ms of a volume render's preparation).
            guard count > 0 else { return nil }
            var histogram = [Int](repeating: 0, count: 65536)
            var taken = 0
            v.voxels.withUnsafeBufferPointer { voxels in
                for i in Swift.stride(from: 0, to: count, by: stride) { histogram[Int(voxels[i]) + 32768] += 1; taken += 1 }
            }
            return fractions.map { fraction in
                let rank = min(taken - 1, Int(Double(taken - 1) * fraction))
                var seen = 0
                for (bin, n) in histogram.enumerated() {
                    seen += n
                    if seen > rank { return Double(bin - 32768) }
                }
                return Double(Int16.max)
            }
        case .float32(let v):
            for i in Swift.stride(from: 0, to: count, by: stride) where v.voxels[i].isFinite { sample.append(Double(v.voxels[i])) }
        }
        guard !sample.isEmpty else { return nil }
        sample.sort()
        return fractions.map { sample[min(sample.count - 1, Int(Double(sample.count - 1) * $0))] }
    }
}
