import VolumeCore

/// Surfaces of labels and iso-values, as indexed meshes in LPS millimetres.
public enum Surfaces {
    /// The surface of one label (or of every non-zero voxel when `label` is nil).
    public static func surface(of labels: LabelMap, label: Int?, threads: Int? = nil) -> Mesh {
        switch labels.storage {
        case .uint8(let volume):
            return volume.voxels.withUnsafeBufferPointer { buffer in
                let field = LabelField(geometry: volume.geometry, voxels: UncheckedSendable(buffer.baseAddress!),
                                       label: label.map { UInt8(clamping: $0) })
                return SurfaceExtraction.extract(field, threads: resolved(threads))
            }
        case .uint16:
            let mask = label.map { labels.mask(of: $0) } ?? labels.maskOfAnyLabel()
            return surface(of: mask, threads: threads)
        }
    }

    /// The surface of a binary mask (non-zero voxels inside).
    public static func surface(of mask: Volume<UInt8>, threads: Int? = nil) -> Mesh {
        mask.voxels.withUnsafeBufferPointer { buffer in
            let field = LabelField(geometry: mask.geometry, voxels: UncheckedSendable(buffer.baseAddress!), label: nil)
            return SurfaceExtraction.extract(field, threads: resolved(threads))
        }
    }

    /// The iso-surface `value = iso` of a volume (inside: value > iso). With a mask, the mask
    /// decides which voxels are inside and the intensities only place the surface between them
    /// (sub-voxel position, the mask's exact topology).
    public static func isoSurface(_ volume: AnyVolume, iso: Double, mask: Volume<UInt8>? = nil,
                                  threads: Int? = nil) -> Mesh {
        func run<V: VoxelValue>(_ v: Volume<V>) -> Mesh {
            v.voxels.withUnsafeBufferPointer { values in
                let base = UncheckedSendable(values.baseAddress!)
                if let mask {
                    return mask.voxels.withUnsafeBufferPointer { maskValues in
                        let field = IsoField(geometry: v.geometry, values: base, iso: iso,
                                             mask: UncheckedSendable(maskValues.baseAddress!), margin: 0.25)
                        return SurfaceExtraction.extract(field, threads: resolved(threads))
                    }
                }
                let field = IsoField(geometry: v.geometry, values: base, iso: iso, mask: nil, margin: 1e-3)
                return SurfaceExtraction.extract(field, threads: resolved(threads))
            }
        }
        switch volume {
        case .int16(let v): return run(v)
        case .float32(let v): return run(v)
        }
    }

    static func resolved(_ threads: Int?) -> Int { max(1, threads ?? Parallelism.defaultThreadCount) }
}
