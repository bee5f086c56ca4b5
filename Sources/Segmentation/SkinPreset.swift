import VolumeCore

/// The body's outline (skin) for context: voxels above air (CT: −400 HU; MR: a tenth of the
/// 99th percentile), the largest component only (not the table or head rest), holes filled.
public struct SkinPreset: Sendable {
    public var lower: Double?
    public var threads: Int?

    public init(lower: Double? = nil) {
        self.lower = lower
    }

    public static let label = LabelInfo(value: 2, name: "skin", color: RGBA(0.95, 0.78, 0.67, 0.35))

    public struct Result: Sendable {
        public var mask: Volume<UInt8>
        public var voxelCount: Int
        public var volumeML: Double
        public var lower: Double
    }

    public func run(_ volume: AnyVolume, modality: String) throws(SegmentationError) -> Result {
        let threshold: Double
        if let lower {
            threshold = lower
        } else if modality == "CT" {
            threshold = -400
        } else {
            threshold = 0.1 * Self.percentile(volume, 0.99)
        }
        let upper = volume.valueRange(threads: threads)?.upperBound ?? threshold
        guard threshold <= upper else {
            throw .nothingFound(reason: "no voxel above \(format(threshold)) to outline the body: give --lower for this study")
        }
        var mask = try Thresholding.mask(volume, lower: threshold, upper: upper, threads: threads)
        mask = MaskComponents.keepLargest(mask, connectivity: .six, threads: threads)
        mask = Morphology.fillHoles(mask, threads: threads)
        let voxels = mask.voxels.reduce(0) { $0 + Int($1) }
        guard voxels > 0 else { throw .nothingFound(reason: "no body found above \(format(threshold))") }
        return Result(mask: mask, voxelCount: voxels, volumeML: Double(voxels) * volume.geometry.voxelVolume / 1000, lower: threshold)
    }

    /// A percentile of about a million voxels spread over the volume.
    static func percentile(_ volume: AnyVolume, _ fraction: Double) -> Double {
        let count = volume.geometry.voxelCount
        let stride = max(1, count / 1_000_000) | 1
        var sample: [Double] = []
        for i in Swift.stride(from: 0, to: count, by: stride) {
            switch volume {
            case .int16(let v): sample.append(Double(v.voxels[i]))
            case .float32(let v): if v.voxels[i].isFinite { sample.append(Double(v.voxels[i])) }
            }
        }
        guard !sample.isEmpty else { return 0 }
        sample.sort()
        return sample[min(sample.count - 1, Int(Double(sample.count - 1) * fraction))]
    }
}
