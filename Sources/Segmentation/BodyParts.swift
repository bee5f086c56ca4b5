import VolumeCore

/// Which connected pieces of tissue are body parts: the largest, and every other one of at least
/// `minimumML` that is mostly soft tissue (CT: half its voxels in −200…200 HU; a table top, a
/// head rest or a positioning pad is plastic, carbon fibre or foam, denser or lighter than
/// that). So both knees, both hands or a patient beside a phantom keep every part, whatever
/// their size rank. Without values (MR: no scale), a piece counts by size alone: at least
/// `minimumML` and a twentieth of the largest.
enum BodyParts {
    /// The smallest body part besides the largest (mL): a hand or a child's foot, not a strap.
    static let minimumML = 20.0

    /// Per component root of `runs` (sizes from `MaskComponents.sizes`), whether it is a body
    /// part. `soft(i, j, k)`: whether the voxel at that index of the runs' grid is soft tissue
    /// (nil: no such scale). Only candidates (big enough, not the largest) are sampled.
    static func keep(_ runs: RunComponents, sizes: [(root: Int, voxels: Int)], voxelML: Double,
                     soft: ((Int, Int, Int) -> Bool)?) -> [Bool] {
        var keep = [Bool](repeating: false, count: runs.runs.count)
        guard let largest = sizes.first else { return keep }
        keep[largest.root] = true
        let minimum = minimumML / voxelML
        let candidates = sizes.dropFirst().filter { Double($0.voxels) >= minimum }
        guard !candidates.isEmpty else { return keep }
        guard let soft else {
            for component in candidates where component.voxels * 20 >= largest.voxels { keep[component.root] = true }
            return keep
        }
        var candidate = [Bool](repeating: false, count: runs.runs.count)
        for component in candidates { candidate[component.root] = true }
        var softVoxels = [Int](repeating: 0, count: runs.runs.count)
        for row in 0..<(runs.ny * runs.nz) {
            let (j, k) = (row % runs.ny, row / runs.ny)
            for index in runs.rowRange(row) {
                let root = Int(runs.label[index])
                guard candidate[root] else { continue }
                let run = runs.runs[index]
                for i in RunComponents.x0(run)...RunComponents.x1(run) where soft(i, j, k) { softVoxels[root] += 1 }
            }
        }
        for component in candidates where 2 * softVoxels[component.root] >= component.voxels { keep[component.root] = true }
        return keep
    }

    /// CT soft tissue: fat, water, muscle, organs and the brain; not air, lung, bone, metal, plastic shells.
    @inline(__always) static func isSoftTissue(_ hu: Int16) -> Bool { hu > -200 && hu < 200 }
}
