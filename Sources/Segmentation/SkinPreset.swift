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
            threshold = 0.1 * (volume.sampledPercentiles([0.99])?.first ?? 0)
        }
        let upper = volume.valueRange(threads: threads)?.upperBound ?? threshold
        guard threshold <= upper else {
            throw .refused(.noBodyOutline, ["threshold": format(threshold)], "no voxel above \(format(threshold)) to outline the body: give --lower for this study")
        }
        var mask = try Thresholding.mask(volume, lower: threshold, upper: upper, threads: threads)
        mask = MaskComponents.keepLargest(mask, connectivity: .six, threads: threads)
        mask = Morphology.fillHoles(mask, threads: threads)
        let voxels = mask.voxels.reduce(0) { $0 + Int($1) }
        guard voxels > 0 else { throw .refused(.noBody, ["threshold": format(threshold)], "no body found above \(format(threshold))") }
        return Result(mask: mask, voxelCount: voxels, volumeML: Double(voxels) * volume.geometry.voxelVolume / 1000, lower: threshold)
    }
}
