import Meshing
import Segmentation
import VolumeCore

/// Which voxels a structure's surface encloses: one rule for the scene package (`process`),
/// `vrprep mesh` and `vrprep render`. A structure's surface encloses its own label, except the
/// skin's: the body's outline, every labelled voxel. (In a label map bone, vessels or a tumour
/// take their voxels from the skin, but they lie inside the body all the same; the skin's own
/// label alone would have holes where they are.)
public enum StructureSurface {
    /// Whether a label is the skin, whose surface is the body's outline.
    public static func isBodyOutline(_ info: LabelInfo) -> Bool {
        Preset(rawValue: info.name) == .skin
    }

    /// The voxels inside the surface of label `value`.
    public static func mask(of value: Int, in labels: LabelMap) -> Volume<UInt8> {
        outlinesBody(value, labels) ? labels.maskOfAnyLabel() : labels.mask(of: value)
    }

    /// The surface of label `value` (not smoothed).
    public static func surface(of value: Int, in labels: LabelMap, threads: Int? = nil) -> Mesh {
        Surfaces.surface(of: labels, label: outlinesBody(value, labels) ? nil : value, threads: threads)
    }

    private static func outlinesBody(_ value: Int, _ labels: LabelMap) -> Bool {
        labels.labels.first { $0.value == value }.map(isBodyOutline) ?? false
    }
}
