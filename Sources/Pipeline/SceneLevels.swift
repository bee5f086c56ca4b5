import Foundation
import Meshing
import ScenePackage
import VolumeCore

/// The scene's levels of detail (issue "Scenes for slow links and headsets"): besides the full
/// `scene.glb`, a headset level (at most 250,000 triangles for the whole scene, what a HoloLens
/// 2 or a phone draws smoothly) and a preview level (20,000 triangles, a few hundred kilobytes:
/// the first picture over a slow link), each a quantized glTF binary (KHR_mesh_quantization,
/// 16-bit indices where they fit). Each level's budget is shared among the structures by their
/// full triangle counts; each surface is simplified from the next finer level by the same
/// decimation as the full scene's (closed meshes stay closed), and its largest distance to the
/// full surface, both ways, is measured and recorded with the quantization's own error.
public enum SceneLevels {
    public struct Budget: Sendable {
        public var name: String
        public var file: String
        public var triangles: Int
    }

    /// Finest first: each level is simplified from the one before it.
    public static let budgets = [Budget(name: "headset", file: "scene-headset.glb", triangles: 250_000),
                                 Budget(name: "preview", file: "scene-preview.glb", triangles: 20_000)]
    /// No structure goes below this in a level (unless its full surface has fewer).
    public static let minimumTriangles = 300

    /// The levels (coarsest first, the full one last, as `full` names it) and their files.
    /// `fullWatertight`: whether each full surface is closed (measured already by the caller).
    public static func make(_ full: [Mesh], fullFile: String, fullBytes: Int, fullWatertight: [Bool], threads: Int?) throws(MeshingError)
        -> (levels: [Manifest.Level], files: [(String, Data)]) {
        let total = full.reduce(0) { $0 + $1.triangleCount }
        var levels: [Manifest.Level] = [], files: [(String, Data)] = []
        var finer = full
        for budget in budgets {
            var meshes: [Mesh] = [], structures: [Manifest.LevelStructure] = []
            var watertight = true
            for (index, mesh) in finer.enumerated() {
                let share = Int((Double(budget.triangles) * Double(full[index].triangleCount) / Double(max(total, 1))).rounded(.down))
                let target = max(min(full[index].triangleCount, minimumTriangles), share)
                var level = mesh
                if target < mesh.triangleCount {
                    level = try mesh.decimated(targetTriangles: target, threads: threads)
                    level.name = mesh.name
                    level.color = mesh.color
                    level = level.withNormals()
                }
                // A surface the budget left whole is the full one: nothing to measure again.
                let unchanged = level.triangleCount == full[index].triangleCount && level.positions == full[index].positions
                let distance = unchanged ? 0 : MeshDistance.symmetric(level, full[index], threads: threads).maximum
                watertight = watertight && (unchanged ? fullWatertight[index] : MeshMeasurements(level).watertight)
                meshes.append(level)
                structures.append(Manifest.LevelStructure(name: level.name, triangles: level.triangleCount, maxDistanceMM: distance))
            }
            let data = try MeshExport.data(meshes, format: .glb, quantize: true)
            files.append((budget.file, data))
            levels.insert(Manifest.Level(name: budget.name, file: budget.file, triangles: meshes.reduce(0) { $0 + $1.triangleCount },
                                         bytes: data.count, maxDistanceMM: structures.map(\.maxDistanceMM).max() ?? 0,
                                         quantizationErrorMM: meshes.map(MeshExport.quantizationErrorMM).max() ?? 0,
                                         watertight: watertight, structures: structures), at: 0)
            finer = meshes
        }
        let fullStructures = full.map { Manifest.LevelStructure(name: $0.name, triangles: $0.triangleCount, maxDistanceMM: 0) }
        levels.append(Manifest.Level(name: "full", file: fullFile, triangles: total, bytes: fullBytes, maxDistanceMM: 0,
                                     quantizationErrorMM: 0, watertight: !fullWatertight.contains(false),
                                     structures: fullStructures))
        return (levels, files)
    }
}
