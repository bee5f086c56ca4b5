import VolumeCore

/// What surface extraction reads: which voxels are inside, and where the surface crosses between
/// an inside and an outside voxel.
protocol SurfaceField: Sendable {
    var geometry: VolumeGeometry { get }
    /// Writes 1 (inside) or 0 for the voxels of row (j, k) into `out[0..<nx]`.
    func insideRow(_ j: Int, _ k: Int, _ out: UnsafeMutablePointer<UInt8>)
    /// The crossing between voxels at linear offsets `a` and `b` (one inside, one outside), as a
    /// fraction of the way from a to b, strictly between 0 and 1.
    func crossing(_ a: Int, _ b: Int) -> Float
}

/// A label of a label map (or a binary mask): the surface passes half-way between voxels.
struct LabelField: SurfaceField {
    let geometry: VolumeGeometry
    let voxels: UncheckedSendable<UnsafePointer<UInt8>>
    let label: UInt8?

    func insideRow(_ j: Int, _ k: Int, _ out: UnsafeMutablePointer<UInt8>) {
        let nx = geometry.dimensions.x
        let row = voxels.value + (k * geometry.dimensions.y + j) * nx
        if let label {
            for x in 0..<nx { out[x] = row[x] == label ? 1 : 0 }
        } else {
            for x in 0..<nx { out[x] = row[x] != 0 ? 1 : 0 }
        }
    }

    func crossing(_ a: Int, _ b: Int) -> Float { 0.5 }
}

/// An iso-surface of intensities (inside: value > iso), optionally held to a mask's inside and
/// outside: intensities place the surface between voxels, the mask decides which voxels are in.
/// Values are clamped to the right side of the iso-value, so the crossing never sits on a voxel.
struct IsoField<V: VoxelValue>: SurfaceField {
    let geometry: VolumeGeometry
    let values: UncheckedSendable<UnsafePointer<V>>
    let iso: Double
    let mask: UncheckedSendable<UnsafePointer<UInt8>>?
    /// How far clamped values stay from the iso-value.
    let margin: Double

    @inline(__always) func isInside(_ index: Int) -> Bool {
        if let mask { return mask.value[index] != 0 }
        return values.value[index].doubleValue > iso
    }

    func insideRow(_ j: Int, _ k: Int, _ out: UnsafeMutablePointer<UInt8>) {
        let nx = geometry.dimensions.x
        let base = (k * geometry.dimensions.y + j) * nx
        for x in 0..<nx { out[x] = isInside(base + x) ? 1 : 0 }
    }

    func crossing(_ a: Int, _ b: Int) -> Float {
        func clamped(_ index: Int) -> Double {
            let v = values.value[index].doubleValue
            return isInside(index) ? max(v, iso + margin) : min(v, iso - margin)
        }
        let fa = clamped(a), fb = clamped(b)
        return Float((iso - fa) / (fb - fa))
    }
}
