import VolumeCore

/// What surface extraction reads: which voxels are inside, and where the surface crosses between
/// an inside and an outside voxel.
protocol SurfaceField: Sendable {
    var geometry: VolumeGeometry { get }
    /// Writes 1 (inside) or 0 for the voxels x in `span` of row (j, k) into `out[x]`.
    func insideRow(_ j: Int, _ k: Int, _ span: ClosedRange<Int>, _ out: UnsafeMutablePointer<UInt8>)
    /// The first and last inside voxel of row (j, k), nil when the row has none.
    func extent(_ j: Int, _ k: Int) -> ClosedRange<Int>?
    /// The crossing between voxels at linear offsets `a` and `b` (one inside, one outside), as a
    /// fraction of the way from a to b, strictly between 0 and 1.
    func crossing(_ a: Int, _ b: Int) -> Float
}

/// A label of a label map (or a binary mask): the surface passes half-way between voxels.
struct LabelField: SurfaceField {
    let geometry: VolumeGeometry
    let voxels: UncheckedSendable<UnsafePointer<UInt8>>
    let label: UInt8?

    func insideRow(_ j: Int, _ k: Int, _ span: ClosedRange<Int>, _ out: UnsafeMutablePointer<UInt8>) {
        let row = voxels.value + (k * geometry.dimensions.y + j) * geometry.dimensions.x
        if let label {
            for x in span { out[x] = row[x] == label ? 1 : 0 }
        } else {
            for x in span { out[x] = row[x] != 0 ? 1 : 0 }
        }
    }

    func extent(_ j: Int, _ k: Int) -> ClosedRange<Int>? {
        let nx = geometry.dimensions.x
        let row = voxels.value + (k * geometry.dimensions.y + j) * nx
        @inline(__always) func inside(_ v: UInt8) -> Bool { label.map { v == $0 } ?? (v != 0) }
        var first = 0
        // Skip eight outside voxels at a time while the row is all zero (the common case).
        if label == nil || label != 0 {
            while first + 8 <= nx && UnsafeRawPointer(row + first).loadUnaligned(as: UInt64.self) == 0 { first += 8 }
        }
        while first < nx && !inside(row[first]) { first += 1 }
        guard first < nx else { return nil }
        var last = nx - 1
        while last > first && !inside(row[last]) { last -= 1 }
        return first...last
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

    func insideRow(_ j: Int, _ k: Int, _ span: ClosedRange<Int>, _ out: UnsafeMutablePointer<UInt8>) {
        let base = (k * geometry.dimensions.y + j) * geometry.dimensions.x
        for x in span { out[x] = isInside(base + x) ? 1 : 0 }
    }

    func extent(_ j: Int, _ k: Int) -> ClosedRange<Int>? {
        let nx = geometry.dimensions.x
        let base = (k * geometry.dimensions.y + j) * nx
        var first = 0
        while first < nx && !isInside(base + first) { first += 1 }
        guard first < nx else { return nil }
        var last = nx - 1
        while last > first && !isInside(base + last) { last -= 1 }
        return first...last
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
