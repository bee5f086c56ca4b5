import CMeshOptimizer
import VolumeCore

/// What is wrong with a meshing request.
public enum MeshingError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptySurface(what: String)
    case invalidParameter(name: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .emptySurface(let what): return "\(what): no surface to mesh"
        case .invalidParameter(let name, let reason): return "\(name): \(reason)"
        case .unwritable(let path, let reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// Vertex neighbours as compressed rows: for every triangle corner, the next corner. On a closed,
/// consistently oriented surface every edge v → w appears in exactly one triangle, so each vertex
/// lists each neighbour once, with no sorting (at a border, one neighbour may be missing).
struct VertexNeighbours {
    var start: [Int32]
    var neighbours: [UInt32]

    init(_ mesh: Mesh) {
        let n = mesh.vertexCount
        var start = [Int32](repeating: 0, count: n + 1)
        for v in mesh.indices { start[Int(v) + 1] += 1 }
        for v in 0..<n { start[v + 1] += start[v] }
        var fill = Array(start.dropLast())
        var neighbours = [UInt32](repeating: 0, count: Int(start[n]))
        for t in stride(from: 0, to: mesh.indices.count, by: 3) {
            for e in 0..<3 {
                let v = Int(mesh.indices[t + e])
                neighbours[Int(fill[v])] = mesh.indices[t + (e + 1) % 3]
                fill[v] += 1
            }
        }
        self.start = start
        self.neighbours = neighbours
    }
}

extension Mesh {
    /// Taubin λ|μ smoothing (Taubin, "A signal processing approach to fair surface design",
    /// SIGGRAPH 1995): each pass moves vertices toward their neighbours' mean by λ, then back by μ,
    /// which removes the voxel stair-steps without the shrinking of plain Laplacian smoothing.
    /// Deterministic (every vertex moves from the previous positions).
    public func smoothed(passes: Int, lambda: Double = 0.5, passBand: Double = 0.1, threads: Int? = nil) -> Mesh {
        guard passes > 0, vertexCount > 0 else { return self }
        let mu = 1 / (passBand - 1 / lambda)  // −0.526 for λ = 0.5, k_PB = 0.1
        let graph = VertexNeighbours(self)
        // Packed x, y, z (12 bytes a vertex instead of SIMD3's 16): the passes are bound by memory.
        var current = [Float](unsafeUninitializedCapacity: 3 * vertexCount) { buffer, count in
            for (v, p) in positions.enumerated() {
                buffer[3 * v] = p.x
                buffer[3 * v + 1] = p.y
                buffer[3 * v + 2] = p.z
            }
            count = 3 * vertexCount
        }
        var next = current
        graph.start.withUnsafeBufferPointer { startBuffer in
            graph.neighbours.withUnsafeBufferPointer { neighbourBuffer in
                let (starts, around) = (UncheckedSendable(startBuffer.baseAddress!), UncheckedSendable(neighbourBuffer.baseAddress!))
                for _ in 0..<passes {
                    for factor in [Float(lambda), Float(mu)] {
                        current.withUnsafeBufferPointer { from in
                            next.withUnsafeMutableBufferPointer { to in
                                let (source, target) = (UncheckedSendable(from.baseAddress!), UncheckedSendable(to.baseAddress!))
                                parallelFor(0..<vertexCount, grain: 4096, threads: threads) { range in
                                    for v in range {
                                        let a = Int(starts.value[v]), b = Int(starts.value[v + 1])
                                        let (px, py, pz) = (source.value[3 * v], source.value[3 * v + 1], source.value[3 * v + 2])
                                        guard b > a else {
                                            (target.value[3 * v], target.value[3 * v + 1], target.value[3 * v + 2]) = (px, py, pz)
                                            continue
                                        }
                                        var (sx, sy, sz): (Float, Float, Float) = (0, 0, 0)
                                        for n in a..<b {
                                            let w = 3 * Int(around.value[n])
                                            sx += source.value[w]
                                            sy += source.value[w + 1]
                                            sz += source.value[w + 2]
                                        }
                                        let scale = 1 / Float(b - a)
                                        target.value[3 * v] = px + factor * (sx * scale - px)
                                        target.value[3 * v + 1] = py + factor * (sy * scale - py)
                                        target.value[3 * v + 2] = pz + factor * (sz * scale - pz)
                                    }
                                }
                            }
                        }
                        swap(&current, &next)
                    }
                }
            }
        }
        let smoothedPositions = (0..<vertexCount).map { SIMD3(current[3 * $0], current[3 * $0 + 1], current[3 * $0 + 2]) }
        var result = self
        result.positions = smoothedPositions
        result.normals = []
        return result
    }

    /// Simplifies to about `targetTriangles` triangles (meshoptimizer's quadric edge collapse,
    /// borders locked), never moving the surface by more than `maxErrorMM` when given; then removes
    /// the folds and separates the sheets that the collapses pinched together (so a closed mesh
    /// stays closed and manifold, whatever the target), drops unused vertices and orders triangles
    /// and vertices for the GPU's caches. Large meshes are cut into four slabs along their longest
    /// axis, simplified in parallel with the cuts locked (so the pieces still meet exactly), and
    /// joined: the same result whatever the thread count.
    public func decimated(targetTriangles: Int, maxErrorMM: Double? = nil, threads: Int? = nil) throws(MeshingError) -> Mesh {
        guard targetTriangles > 0 else {
            throw .invalidParameter(name: "target triangles", reason: "must be at least 1, not \(targetTriangles)")
        }
        guard targetTriangles < triangleCount else { return optimizedForGPU() }
        // A fixed number of slabs (not one per thread), so that the result does not depend on
        // the thread count (scene packages must be the same whatever the machine).
        let workers = max(1, threads ?? Parallelism.defaultThreadCount)
        let parts = slabs(triangleCount >= 200_000 ? 4 : 1)
        // One error scale for every piece: the whole mesh's.
        let scale = positions.withUnsafeBytes { raw in
            meshopt_simplifyScale(raw.bindMemory(to: Float.self).baseAddress, vertexCount, MemoryLayout<SIMD3<Float>>.stride)
        }
        let relativeError = maxErrorMM.map { Float($0) / max(scale, 1e-12) } ?? 1
        var simplified = [[UInt32]](repeating: [], count: parts.count)
        simplified.withUnsafeMutableBufferPointer { out in
            let target = UncheckedSendable(out.baseAddress!)
            parallelFor(0..<parts.count, threads: workers) { indices in
                for p in indices {
                    let part = parts[p]
                    let goal = max(1, Int((Double(targetTriangles) * Double(part.count / 3) / Double(triangleCount)).rounded()))
                    target.value[p] = simplify(part, goal: goal, relativeError: relativeError)
                }
            }
        }
        var result = self
        result.indices = Self.withoutFolds(simplified.flatMap { $0 })
        result.normals = []
        return result.splittingNonManifold().optimizedForGPU()
    }

    /// The triangles cut into `count` slabs of about equal size along the longest axis (by
    /// triangle centre; the cut value from a histogram, so no sorting).
    private func slabs(_ count: Int) -> [[UInt32]] {
        guard count > 1 else { return [indices] }
        var lo = positions[0], hi = positions[0]
        for p in positions {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        let extent = hi - lo
        let axis = extent.x >= extent.y && extent.x >= extent.z ? 0 : extent.y >= extent.z ? 1 : 2
        let bins = 4096
        let width = max(extent[axis], 1e-6) / Float(bins)
        func bin(_ t: Int) -> Int {
            let centre = (positions[Int(indices[3 * t])][axis] + positions[Int(indices[3 * t + 1])][axis]
                          + positions[Int(indices[3 * t + 2])][axis]) / 3
            return min(bins - 1, max(0, Int((centre - lo[axis]) / width)))
        }
        var histogram = [Int](repeating: 0, count: bins)
        for t in 0..<triangleCount { histogram[bin(t)] += 1 }
        var cuts: [Int] = []  // first bin of each slab after the first
        var running = 0
        for b in 0..<bins {
            running += histogram[b]
            if cuts.count < count - 1 && running * count >= (cuts.count + 1) * triangleCount { cuts.append(b + 1) }
        }
        var parts = [[UInt32]](repeating: [], count: count)
        for t in 0..<triangleCount {
            let slab = cuts.firstIndex { bin(t) < $0 } ?? cuts.count
            parts[slab] += [indices[3 * t], indices[3 * t + 1], indices[3 * t + 2]]
        }
        return parts.filter { !$0.isEmpty }
    }

    /// meshopt_simplify on one piece, with its vertices compacted first (the library's cost
    /// follows the vertex count it is given); returns indices into the whole mesh's vertices.
    private func simplify(_ part: [UInt32], goal: Int, relativeError: Float) -> [UInt32] {
        var remap = [UInt32](repeating: UInt32.max, count: vertexCount)
        var globalOf: [UInt32] = []
        var local = [UInt32]()
        local.reserveCapacity(part.count)
        for v in part {
            if remap[Int(v)] == UInt32.max {
                remap[Int(v)] = UInt32(globalOf.count)
                globalOf.append(v)
            }
            local.append(remap[Int(v)])
        }
        var flat = [Float]()
        flat.reserveCapacity(globalOf.count * 3)
        for g in globalOf {
            let p = positions[Int(g)]
            flat += [p.x, p.y, p.z]
        }
        var output = [UInt32](repeating: 0, count: local.count)
        var error: Float = 0
        let count = meshopt_simplify(&output, local, local.count, flat, globalOf.count, 12, goal * 3, relativeError,
                                     UInt32(meshopt_SimplifyLockBorder), &error)
        return output.prefix(count).map { globalOf[Int($0)] }
    }

    /// Removes what edge collapses leave where two sheets of a thin part meet: triangles with a
    /// repeated vertex, and pairs of triangles on the same three vertices facing opposite ways (a
    /// fold of zero volume). Removing both triangles of a fold keeps every edge balanced.
    static func withoutFolds(_ indices: [UInt32]) -> [UInt32] {
        var keys: [(key: SIMD3<UInt32>, triangle: Int)] = []
        keys.reserveCapacity(indices.count / 3)
        for t in stride(from: 0, to: indices.count, by: 3) {
            let (a, b, c) = (indices[t], indices[t + 1], indices[t + 2])
            if a == b || b == c || a == c { continue }
            let sorted = [a, b, c].sorted()
            keys.append((SIMD3(sorted[0], sorted[1], sorted[2]), t / 3))
        }
        keys.sort { ($0.key.x, $0.key.y, $0.key.z, $0.triangle) < ($1.key.x, $1.key.y, $1.key.z, $1.triangle) }
        var drop = Set<Int>()
        var start = 0
        while start < keys.count {
            var end = start + 1
            while end < keys.count && keys[end].key == keys[start].key { end += 1 }
            if end - start > 1 {
                // Same vertices: pair opposite windings and drop each pair.
                func winding(_ t: Int) -> Bool {
                    let (a, b, c) = (indices[3 * t], indices[3 * t + 1], indices[3 * t + 2])
                    let rotated = a < b && a < c ? (a, b, c) : b < c ? (b, c, a) : (c, a, b)
                    return rotated.1 < rotated.2
                }
                var up = keys[start..<end].filter { winding($0.triangle) }.map(\.triangle)
                var down = keys[start..<end].filter { !winding($0.triangle) }.map(\.triangle)
                while let u = up.popLast(), let d = down.popLast() {
                    drop.insert(u)
                    drop.insert(d)
                }
            }
            start = end
        }
        var kept: [UInt32] = []
        kept.reserveCapacity(indices.count)
        for t in stride(from: 0, to: indices.count, by: 3) where !drop.contains(t / 3) {
            let (a, b, c) = (indices[t], indices[t + 1], indices[t + 2])
            if a == b || b == c || a == c { continue }
            kept += [a, b, c]
        }
        return kept
    }

    /// Vertex cache order for triangles, fetch order for vertices (unused vertices dropped).
    public func optimizedForGPU() -> Mesh {
        guard !indices.isEmpty else { return self }
        var cacheOrder = [UInt32](repeating: 0, count: indices.count)
        meshopt_optimizeVertexCache(&cacheOrder, indices, indices.count, vertexCount)
        var remapped = [SIMD3<Float>](repeating: .zero, count: vertexCount)
        let used = remapped.withUnsafeMutableBytes { out in
            positions.withUnsafeBytes { input in
                meshopt_optimizeVertexFetch(out.baseAddress, &cacheOrder, cacheOrder.count, input.baseAddress, vertexCount,
                                            MemoryLayout<SIMD3<Float>>.stride)
            }
        }
        var result = self
        result.positions = Array(remapped.prefix(used))
        result.indices = cacheOrder
        result.normals = []
        return result
    }
}
