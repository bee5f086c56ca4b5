import VolumeCore

/// Connected components of a binary mask (any non-zero voxel is inside).
public enum MaskComponents {
    /// One component: its size, and a voxel in it (the first in x-fastest order).
    public struct Component: Equatable, Sendable {
        public var voxels: Int
        public var firstVoxel: SIMD3<Int>
    }

    /// Components, largest first (ties: the one met first).
    public static func components(of mask: Volume<UInt8>, connectivity: Connectivity = .twentySix,
                                  threads: Int? = nil) -> [Component] {
        let runs = label(mask, connectivity, threads)
        return sizes(runs).map { Component(voxels: $0.voxels, firstVoxel: runs.firstVoxel(ofRun: $0.root)) }
    }

    /// Only the largest component (empty mask stays empty).
    public static func keepLargest(_ mask: Volume<UInt8>, connectivity: Connectivity = .twentySix,
                                   threads: Int? = nil) -> Volume<UInt8> {
        let runs = label(mask, connectivity, threads)
        guard let largest = sizes(runs).first else { return mask }
        return runs.mask(selected: runs.label.map { $0 == Int32(largest.root) }, geometry: mask.geometry,
                         threads: resolved(threads))
    }

    /// Removes components smaller than `minimumML`; returns the mask and how many were removed.
    public static func removeIslands(_ mask: Volume<UInt8>, smallerThan minimumML: Double,
                                     connectivity: Connectivity = .twentySix, threads: Int? = nil)
        -> (mask: Volume<UInt8>, removed: Int) {
        let runs = label(mask, connectivity, threads)
        let minimum = minimumML * 1000 / mask.geometry.voxelVolume
        var keep = [Bool](repeating: false, count: runs.runs.count)
        var removed = 0
        for component in sizes(runs) {
            if Double(component.voxels) >= minimum { keep[component.root] = true } else { removed += 1 }
        }
        let selected = runs.label.map { keep[Int($0)] }
        return (runs.mask(selected: selected, geometry: mask.geometry, threads: resolved(threads)), removed)
    }

    /// Only the components holding one of `voxels` (indices on the mask's grid).
    public static func keepConnected(_ mask: Volume<UInt8>, to voxels: [SIMD3<Int>], connectivity: Connectivity = .twentySix,
                                     threads: Int? = nil) -> Volume<UInt8> {
        let runs = label(mask, connectivity, threads)
        var keep = [Bool](repeating: false, count: runs.runs.count)
        for v in voxels where mask.geometry.contains(v) {
            if let run = runs.run(containing: v.x, y: v.y, z: v.z) { keep[Int(runs.label[run])] = true }
        }
        return runs.mask(selected: runs.label.map { keep[Int($0)] }, geometry: mask.geometry, threads: resolved(threads))
    }

    static func label(_ mask: Volume<UInt8>, _ connectivity: Connectivity, _ threads: Int?) -> RunComponents {
        RegionGrowing.components(mask, lower: 1, upper: 255, mask: nil, windows: nil, connectivity: connectivity,
                                 threads: resolved(threads))
    }

    /// (root run, voxels) of every component, largest first, ties by root (first met).
    static func sizes(_ runs: RunComponents) -> [(root: Int, voxels: Int)] {
        var voxels = [Int](repeating: 0, count: runs.runs.count)
        for index in 0..<runs.runs.count {
            voxels[Int(runs.label[index])] += RunComponents.x1(runs.runs[index]) - RunComponents.x0(runs.runs[index]) + 1
        }
        return voxels.enumerated().filter { $0.element > 0 }.map { (root: $0.offset, voxels: $0.element) }
            .sorted { $0.voxels != $1.voxels ? $0.voxels > $1.voxels : $0.root < $1.root }
    }

    static func resolved(_ threads: Int?) -> Int { max(1, threads ?? Parallelism.defaultThreadCount) }
}

extension RunComponents {
    func firstVoxel(ofRun index: Int) -> SIMD3<Int> {
        let row = rowIndex(of: index)
        return SIMD3(Self.x0(runs[index]), row % ny, row / ny)
    }
}
