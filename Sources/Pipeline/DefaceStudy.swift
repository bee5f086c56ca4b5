import DICOM
import Foundation
import ScenePackage
import Segmentation
import VolumeCore

/// Use case: the face of a head study removed before anything is segmented, meshed or rendered
/// from it (issue "Privacy of shared head scans"; DICOM PS3.15 Annex E, "Clean Recognizable
/// Visual Features"). `process`, `segment`, `render`, `deidentify` and the service's jobs call it
/// with the recipe's mode:
///
/// - `auto` (the default): the face is removed when one is found and what is made leaves the
///   hospital (a package, pictures); a study that is not a head is left as it is, and the record
///   says so. A label map for the hospital's own tools (`vrprep segment`) keeps it.
/// - `on`: the same, but a series with no face found is an error (the user expected a head).
/// - `off`: the face is kept (a surgeon's own package); the record says whether there was one, and
///   the service refuses share links to such a package.
public enum DefaceStudy {
    /// The modes, for the doors (which import this layer, not the kernels).
    public typealias Mode = Defacing.Mode
    /// The modes' names, and a mode by its name (for the doors' parameters).
    public static let modeNames = Defacing.Mode.allCases.map(\.rawValue)
    public static func mode(named name: String) -> Mode? { Defacing.Mode(rawValue: name) }

    /// What was done, for the manifest, and the notice a reader sees.
    public struct Outcome: Sendable {
        public var record: Manifest.Defacing
        public var notice: Notice?
        /// The removed region (for the label maps made elsewhere), when a face was removed.
        public var region: Defacing.Region?
    }

    /// How far behind the nose tip every surface must lie near the midline, and how wide that band is.
    public static let clearBehindTipMM = 15.0, clearHalfWidthMM = 25.0

    /// Applies `mode` to the series in place; `seeds` are the recipe's (none may lie in the face removed).
    public static func apply(_ series: inout LoadedSeries, mode: Defacing.Mode, leavesHospital: Bool = true,
                             seeds: [Seed] = [], threads: Int?) throws(UseCaseFailure) -> Outcome {
        var defacing = Defacing()
        defacing.threads = threads
        let modality = series.info.modality
        if mode == .auto && !leavesHospital {
            return Outcome(record: Manifest.Defacing(mode: mode.rawValue, faceFound: false, removed: false,
                                                     method: "not looked for: what is made stays in the hospital (defacing on removes it)"),
                           notice: nil, region: nil)
        }
        if mode == .off {
            let found = defacing.findFace(in: series.volume, modality: modality).face != nil
            return Outcome(record: Manifest.Defacing(mode: mode.rawValue, faceFound: found, removed: false,
                                                     method: found ? "face kept on request (defacing off)" : "no face found; defacing off"),
                           notice: nil, region: nil)
        }
        let result = defacing.deface(series.volume, modality: modality)
        guard let face = result.report.face, let region = result.region else {
            let reason = result.report.reason ?? "no face found"
            if mode == .on {
                let prominence = plainNumber(result.report.bestProminenceMM ?? 0)
                throw UseCaseFailure(description: "defacing on: \(reason); use defacing auto to go on without it",
                                     notice: Notice(.noFace, ["prominenceMM": prominence], text: "defacing on: \(reason)"))
            }
            return Outcome(record: Manifest.Defacing(mode: mode.rawValue, faceFound: false, removed: false, method: reason), notice: nil, region: nil)
        }
        let g = series.info.geometry
        for seed in seeds {
            switch seed {
            case .patient(let p): guard region.contains(p) else { continue }
            case .voxel(let v): guard region.contains(g.patientPosition(ofIndex: v)) else { continue }
            }
            let text = "seed \(seed): lies in the face region that defacing removes: place it elsewhere, or ask for defacing off " +
                "(the package then keeps the face and cannot be shared)"
            throw UseCaseFailure(description: text, notice: Notice(.seedInFace, ["seed": seed.description], text: text))
        }
        series.volume = result.volume
        let ml = (result.report.removedML * 10).rounded() / 10
        let anterior = SIMD3(face.anterior[0], face.anterior[1], face.anterior[2])
        let tip = SIMD3(face.noseTipMM[0], face.noseTipMM[1], face.noseTipMM[2])
        // A few millimetres inside the region's top and bottom: the forehead and the neck just
        // beyond them keep their skin.
        let zone = Manifest.Defacing.ClearZone(anterior: face.anterior, superior: face.superior, midlineMM: face.noseTipMM,
                                               clearMM: (tip * anterior).sum() - clearBehindTipMM,
                                               bottomMM: face.bottomMM + (face.chinFound ? 3 : 0), topMM: face.topMM - 3,
                                               halfWidthMM: clearHalfWidthMM)
        let text = "the face was removed before the scene was made (\(plainNumber(ml)) mL of skin and soft tissue, from the eyebrows to the chin, in front of the ears)"
        return Outcome(record: Manifest.Defacing(mode: mode.rawValue, faceFound: true, removed: true, method: defacing.method, removedML: ml, clearZone: zone),
                       notice: Notice(.faceRemoved, ["ml": plainNumber(ml)], text: text), region: region)
    }

    /// A recipe's seeds, over its structures (or its expert region).
    public static func seeds(of recipe: Recipe) -> [Seed] {
        recipe.structures.flatMap(\.allSeeds) + (recipe.region?.allSeeds ?? [])
    }
}
