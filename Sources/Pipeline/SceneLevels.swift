import Foundation
import Meshing
import ScenePackage
import VolumeCore

/// What a scene package is made for (issue "Scenes for slow links and headsets"), chosen with
/// `vrprep process --profile` and recorded in the manifest: the triangle budget of the whole
/// scene, its levels of detail, and whether positions are quantized.
public enum SceneProfile: String, CaseIterable, Sendable, Codable {
    /// Each structure at most `maxTriangles` (250,000); the scene quantized, with a headset and
    /// a preview level. The default.
    case desktop
    /// The whole scene at most 250,000 triangles (what a HoloLens 2 draws smoothly), quantized,
    /// with a preview level.
    case headset
    /// The whole scene at most 500,000 triangles (phones and AR), quantized, with a preview level.
    case phone
    /// For a 3D printer: the full surfaces only, positions as floats, an STL and an OBJ per
    /// structure, and every surface closed (the run fails naming the one that is not).
    case print

    /// The most triangles of the whole scene, shared among the structures by their sizes; nil:
    /// only each structure's own limit.
    public var sceneTriangles: Int? {
        switch self {
        case .headset: 250_000
        case .phone: 500_000
        case .desktop, .print: nil
        }
    }

    /// The levels of detail besides the full one, finest first.
    public var levels: [SceneLevels.Budget] {
        switch self {
        case .desktop: SceneLevels.budgets
        case .headset, .phone: SceneLevels.budgets.filter { $0.name == "preview" }
        case .print: []
        }
    }

    public var quantized: Bool { self != .print }
}

extension Manifest.Profile {
    public init(profile: SceneProfile, maxTriangles: Int) {
        self.init(name: profile.rawValue, maxStructureTriangles: maxTriangles, maxSceneTriangles: profile.sceneTriangles,
                  quantized: profile.quantized)
    }
}

/// The scene's levels of detail: besides the full `scene.glb`, a headset level (at most 250,000
/// triangles for the whole scene, what a HoloLens 2 or a phone draws smoothly) and a preview
/// level (20,000 triangles, a few hundred kilobytes: the first picture over a slow link), each
/// a quantized glTF binary (KHR_mesh_quantization, 16-bit indices where they fit). Each level's
/// budget is shared among the structures by their full triangle counts; each surface is
/// simplified from the next finer level by the same decimation as the full scene's (closed
/// meshes stay closed), and its largest distance to the full surface, both ways, is measured
/// and recorded with the quantization's own error.
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

    /// Each structure's share of a scene budget: in proportion to its triangle count, never
    /// below `minimumTriangles` (or its own count), never above its own count.
    public static func shares(of counts: [Int], budget: Int) -> [Int] {
        let total = counts.reduce(0, +)
        return counts.map { count in
            let share = Int((Double(budget) * Double(count) / Double(max(total, 1))).rounded(.down))
            return min(count, max(min(count, minimumTriangles), share))
        }
    }

    /// `meshes` within a budget for the whole scene (shared by `shares`), each decimated as the
    /// full scene's surfaces are, names and colours kept, with normals.
    public static func fitted(_ meshes: [Mesh], sceneTriangles budget: Int, threads: Int?) throws(MeshingError) -> [Mesh] {
        let targets = shares(of: meshes.map(\.triangleCount), budget: budget)
        var out: [Mesh] = []
        for (mesh, target) in zip(meshes, targets) { out.append(try simplified(mesh, to: target, threads: threads)) }
        return out
    }

    /// `mesh` decimated to `target` triangles (as the full scene's surfaces are: closed stays
    /// closed), its name and colour kept, with normals; itself where it has no more than that.
    static func simplified(_ mesh: Mesh, to target: Int, threads: Int?) throws(MeshingError) -> Mesh {
        guard target < mesh.triangleCount else { return mesh }
        var level = try mesh.decimated(targetTriangles: target, threads: threads)
        level.name = mesh.name
        level.color = mesh.color
        return level.withNormals()
    }

    /// The levels (coarsest first, the full one last, as `full` names it), their files, and
    /// each level's surfaces by name (the full one's too).
    /// `fullWatertight`: whether each full surface is closed (measured already by the caller);
    /// `fullQuantized`: whether the full scene's positions are quantized.
    public static func make(_ full: [Mesh], fullFile: String, fullBytes: Int, fullWatertight: [Bool], fullQuantized: Bool,
                            budgets: [Budget] = budgets, threads: Int?) throws(MeshingError)
        -> (levels: [Manifest.Level], files: [(String, Data)], meshes: [String: [Mesh]]) {
        let total = full.reduce(0) { $0 + $1.triangleCount }
        var levels: [Manifest.Level] = [], files: [(String, Data)] = [], surfaces = ["full": full]
        var finer = full
        for budget in budgets {
            let targets = shares(of: full.map(\.triangleCount), budget: budget.triangles)
            var meshes: [Mesh] = [], structures: [Manifest.LevelStructure] = []
            var watertight = true
            for (index, mesh) in finer.enumerated() {
                let level = try simplified(mesh, to: targets[index], threads: threads)
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
            surfaces[budget.name] = meshes
        }
        let fullStructures = full.map { Manifest.LevelStructure(name: $0.name, triangles: $0.triangleCount, maxDistanceMM: 0) }
        levels.append(Manifest.Level(name: "full", file: fullFile, triangles: total, bytes: fullBytes, maxDistanceMM: 0,
                                     quantizationErrorMM: fullQuantized ? full.map(MeshExport.quantizationErrorMM).max() ?? 0 : 0,
                                     watertight: !fullWatertight.contains(false), structures: fullStructures))
        return (levels, files, surfaces)
    }
}
