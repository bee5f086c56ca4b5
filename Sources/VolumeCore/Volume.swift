/// Scalar types a volume can hold.
public protocol VoxelValue: Numeric, Comparable, Sendable {
    var doubleValue: Double { get }
}

extension Int16: VoxelValue { @inlinable public var doubleValue: Double { Double(self) } }
extension UInt16: VoxelValue { @inlinable public var doubleValue: Double { Double(self) } }
extension UInt8: VoxelValue { @inlinable public var doubleValue: Double { Double(self) } }
extension Int32: VoxelValue { @inlinable public var doubleValue: Double { Double(self) } }
extension Float: VoxelValue { @inlinable public var doubleValue: Double { Double(self) } }

/// A 3D grid of scalar voxels with its place in patient space.
///
/// Storage is one contiguous array in x-fastest order. CT volumes loaded from DICOM
/// hold Hounsfield units as `Int16`.
public struct Volume<Voxel: VoxelValue>: Sendable {
    public var geometry: VolumeGeometry
    public var voxels: [Voxel]

    public init(geometry: VolumeGeometry, voxels: [Voxel]) {
        precondition(voxels.count == geometry.voxelCount, "voxel count does not match the dimensions")
        self.geometry = geometry
        self.voxels = voxels
    }

    public init(geometry: VolumeGeometry, filledWith value: Voxel) {
        self.init(geometry: geometry, voxels: [Voxel](repeating: value, count: geometry.voxelCount))
    }

    public var dimensions: SIMD3<Int> { geometry.dimensions }
    public var spacing: SIMD3<Double> { geometry.spacing }
    public var origin: SIMD3<Double> { geometry.origin }
    public var direction: Matrix3 { geometry.direction }

    @inlinable
    public subscript(i: Int, j: Int, k: Int) -> Voxel {
        get { voxels[geometry.offset(i, j, k)] }
        set { voxels[geometry.offset(i, j, k)] = newValue }
    }

    /// Smallest and largest voxel value (nil for an empty volume), computed in parallel.
    public func valueRange(threads: Int? = nil) -> ClosedRange<Voxel>? {
        guard !voxels.isEmpty else { return nil }
        return voxels.withUnsafeBufferPointer { buffer in
            let partial = parallelMap(0..<buffer.count, grain: 1 << 20, threads: threads) { range in
                var lo = buffer[range.lowerBound], hi = lo
                for index in range {
                    let v = buffer[index]
                    if v < lo { lo = v }
                    if v > hi { hi = v }
                }
                return (lo, hi)
            }
            let lo = partial.map(\.0).min()!, hi = partial.map(\.1).max()!
            return lo...hi
        }
    }
}

extension Volume where Voxel == UInt8 {
    /// How many voxels hold `value`, in parallel: a branch-free loop that the compiler turns into
    /// vector compares (32-bit counts per block of 16 M voxels). A label map's one or few counts
    /// take milliseconds, where a histogram of every value visits each voxel with a dependent store.
    public func count(of value: UInt8, threads: Int? = nil) -> Int {
        voxels.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            let start = UncheckedSendable(base)
            return parallelMap(0..<buffer.count, grain: 1 << 20, threads: threads) { range in
                var total = 0
                for block in stride(from: range.lowerBound, to: range.upperBound, by: 1 << 24) {
                    let p = start.value + block, length = Swift.min(1 << 24, range.upperBound - block)
                    var n: UInt32 = 0
                    // x ^ value is 0 exactly when x == value; (0 − 1) >> 31 is 1, (1…255 − 1) >> 31 is 0.
                    for i in 0..<length { n &+= (UInt32(p[i] ^ value) &- 1) >> 31 }
                    total += Int(n)
                }
                return total
            }.reduce(0, +)
        }
    }
}
