import VolumeCore

/// The body's outline (skin) for context: voxels above air (CT: −400 HU; MR: a tenth of the
/// 99th percentile), every body part (`BodyParts`: the largest piece, and the others of at least
/// 20 mL that are mostly soft tissue, so both knees or both hands; not a table, a head rest or a
/// pad lying apart), holes filled.
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
        /// Pieces of at least a millilitre above the threshold that are not body parts (a table,
        /// a head rest, a pad): their voxels, largest first.
        public var leftOut: [Int]
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
        let above = try Thresholding.mask(volume, lower: threshold, upper: upper, threads: threads)
        let runs = MaskComponents.label(above, .six, threads)
        let sizes = MaskComponents.sizes(runs)
        let voxelML = volume.geometry.voxelVolume / 1000
        let soft: ((Int, Int, Int) -> Bool)?
        if modality == "CT", case .int16(let hu) = volume {
            soft = { i, j, k in BodyParts.isSoftTissue(hu[i, j, k]) }
        } else {
            soft = nil
        }
        let keep = BodyParts.keep(runs, sizes: sizes, voxelML: voxelML, soft: soft)
        let leftOut = sizes.filter { !keep[$0.root] && Double($0.voxels) * voxelML >= 1 }.map(\.voxels)
        var mask = runs.mask(selected: runs.label.map { keep[Int($0)] }, geometry: volume.geometry, threads: MaskComponents.resolved(threads))
        mask = Morphology.fillHoles(mask, threads: threads)
        let voxels = mask.voxels.reduce(0) { $0 + Int($1) }
        guard voxels > 0 else { throw .refused(.noBody, ["threshold": format(threshold)], "no body found above \(format(threshold))") }
        return Result(mask: mask, voxelCount: voxels, volumeML: Double(voxels) * voxelML, lower: threshold, leftOut: leftOut)
    }
}
