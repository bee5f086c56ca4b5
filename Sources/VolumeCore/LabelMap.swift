/// A colour with components in 0…1.
public struct RGBA: Equatable, Sendable, Codable {
    public var r: Double
    public var g: Double
    public var b: Double
    public var a: Double

    public init(_ r: Double, _ g: Double, _ b: Double, _ a: Double = 1) {
        self.r = r
        self.g = g
        self.b = b
        self.a = a
    }
}

/// What one label value means.
public struct LabelInfo: Equatable, Sendable, Codable {
    public var value: Int
    public var name: String
    public var color: RGBA

    public init(value: Int, name: String, color: RGBA) {
        self.value = value
        self.name = name
        self.color = color
    }
}

/// Labels on a volume's grid (0 = background), as UInt8 or, for more than 255 labels, UInt16,
/// with a name and colour per label.
public struct LabelMap: Sendable {
    public enum Storage: Sendable {
        case uint8(Volume<UInt8>)
        case uint16(Volume<UInt16>)
    }

    public var storage: Storage
    public var labels: [LabelInfo]

    public init(storage: Storage, labels: [LabelInfo]) {
        self.storage = storage
        self.labels = labels
    }

    /// A one-label map from a binary mask (any non-zero voxel gets `label.value`).
    public init(mask: Volume<UInt8>, label: LabelInfo) {
        precondition(label.value > 0 && label.value <= 255, "a UInt8 label map holds labels 1…255")
        let value = UInt8(label.value)
        var volume = mask
        volume.voxels.withUnsafeMutableBufferPointer { buffer in
            let target = UncheckedSendable(buffer)
            parallelFor(0..<buffer.count, grain: 1 << 20) { range in
                for index in range where target.value[index] != 0 { target.value[index] = value }
            }
        }
        self.init(storage: .uint8(volume), labels: [label])
    }

    public var geometry: VolumeGeometry {
        switch storage {
        case .uint8(let volume): return volume.geometry
        case .uint16(let volume): return volume.geometry
        }
    }

    /// The label at voxel (i, j, k).
    public func label(_ i: Int, _ j: Int, _ k: Int) -> Int {
        switch storage {
        case .uint8(let volume): return Int(volume[i, j, k])
        case .uint16(let volume): return Int(volume[i, j, k])
        }
    }

    /// Number of voxels of every label value present (0 included), computed in parallel.
    public func voxelCounts(threads: Int? = nil) -> [Int: Int] {
        func count<L: FixedWidthInteger & Sendable>(_ voxels: [L]) -> [Int: Int] {
            voxels.withUnsafeBufferPointer { buffer in
                let partial = parallelMap(0..<buffer.count, grain: 1 << 20, threads: threads) { range in
                    var counts = [Int](repeating: 0, count: Int(L.max) + 1)
                    for index in range { counts[Int(buffer[index])] += 1 }
                    return counts
                }
                var total: [Int: Int] = [:]
                for counts in partial {
                    for (value, n) in counts.enumerated() where n > 0 { total[value, default: 0] += n }
                }
                return total
            }
        }
        switch storage {
        case .uint8(let volume): return count(volume.voxels)
        case .uint16(let volume): return count(volume.voxels)
        }
    }

    /// A binary mask (1 wherever there is a label, whichever).
    public func maskOfAnyLabel() -> Volume<UInt8> {
        switch storage {
        case .uint8(let v): return Volume(geometry: v.geometry, voxels: v.voxels.map { $0 != 0 ? 1 : 0 })
        case .uint16(let v): return Volume(geometry: v.geometry, voxels: v.voxels.map { $0 != 0 ? 1 : 0 })
        }
    }

    /// A binary mask (1 where the label is `value`).
    public func mask(of value: Int) -> Volume<UInt8> {
        func make<L: FixedWidthInteger & Sendable>(_ volume: Volume<L>) -> Volume<UInt8> {
            var out = [UInt8](repeating: 0, count: volume.voxels.count)
            guard let target = L(exactly: value) else { return Volume(geometry: volume.geometry, voxels: out) }
            volume.voxels.withUnsafeBufferPointer { source in
                out.withUnsafeMutableBufferPointer { dest in
                    let s = UncheckedSendable(source), d = UncheckedSendable(dest)
                    parallelFor(0..<source.count, grain: 1 << 20) { range in
                        for index in range where s.value[index] == target { d.value[index] = 1 }
                    }
                }
            }
            return Volume(geometry: volume.geometry, voxels: out)
        }
        switch storage {
        case .uint8(let volume): return make(volume)
        case .uint16(let volume): return make(volume)
        }
    }
}
