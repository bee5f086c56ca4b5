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

/// Vertex neighbours as compressed rows: for every triangle corner, the two other corners. On a
/// closed manifold surface each neighbour appears twice (once per triangle on the edge), which
/// leaves the neighbours' mean unchanged and spares sorting out duplicates.
struct VertexNeighbours {
    var start: [Int32]
    var neighbours: [UInt32]

    init(_ mesh: Mesh) {
        let n = mesh.vertexCount
        var start = [Int32](repeating: 0, count: n + 1)
        for v in mesh.indices { start[Int(v) + 1] += 2 }
        for v in 0..<n { start[v + 1] += start[v] }
        var fill = Array(start.dropLast())
        var neighbours = [UInt32](repeating: 0, count: Int(start[n]))
        for t in stride(from: 0, to: mesh.indices.count, by: 3) {
            for e in 0..<3 {
                let v = Int(mesh.indices[t + e])
                neighbours[Int(fill[v])] = mesh.indices[t + (e + 1) % 3]
                neighbours[Int(fill[v]) + 1] = mesh.indices[t + (e + 2) % 3]
                fill[v] += 2
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
        var current = positions
        var next = positions
        for _ in 0..<passes {
            for factor in [Float(lambda), Float(mu)] {
                current.withUnsafeBufferPointer { from in
                    next.withUnsafeMutableBufferPointer { to in
                        let (source, target) = (UncheckedSendable(from), UncheckedSendable(to))
                        parallelFor(0..<vertexCount, grain: 4096, threads: threads) { range in
                            for v in range {
                                let a = Int(graph.start[v]), b = Int(graph.start[v + 1])
                                guard b > a else { continue }
                                var sum = SIMD3<Float>.zero
                                for n in a..<b { sum += source.value[Int(graph.neighbours[n])] }
                                let p = source.value[v]
                                target.value[v] = p + factor * (sum / Float(b - a) - p)
                            }
                        }
                    }
                }
                swap(&current, &next)
            }
        }
        var result = self
        result.positions = current
        result.normals = []
        return result
    }

    /// Area-weighted vertex normals.
    public func withNormals() -> Mesh {
        var sums = [SIMD3<Float>](repeating: .zero, count: vertexCount)
        for t in stride(from: 0, to: indices.count, by: 3) {
            let (a, b, c) = (Int(indices[t]), Int(indices[t + 1]), Int(indices[t + 2]))
            let e1 = positions[b] - positions[a], e2 = positions[c] - positions[a]
            let n = SIMD3<Float>(e1.y * e2.z - e1.z * e2.y, e1.z * e2.x - e1.x * e2.z, e1.x * e2.y - e1.y * e2.x)
            sums[a] += n
            sums[b] += n
            sums[c] += n
        }
        var result = self
        result.normals = sums.map { n in
            let length = (n * n).sum().squareRoot()
            return length > 0 ? n / length : SIMD3(0, 0, 1)
        }
        return result
    }

    /// Simplifies to about `targetTriangles` triangles (meshoptimizer's quadric edge collapse,
    /// borders locked), never moving the surface by more than `maxErrorMM` when given; then drops
    /// unused vertices and orders triangles and vertices for the GPU's caches.
    public func decimated(targetTriangles: Int, maxErrorMM: Double? = nil) throws(MeshingError) -> Mesh {
        guard targetTriangles > 0 else {
            throw .invalidParameter(name: "target triangles", reason: "must be at least 1, not \(targetTriangles)")
        }
        guard targetTriangles < triangleCount else { return optimizedForGPU() }
        var flat = [Float]()
        flat.reserveCapacity(vertexCount * 3)
        for p in positions { flat += [p.x, p.y, p.z] }
        let scale = meshopt_simplifyScale(flat, vertexCount, 12)
        let relativeError = maxErrorMM.map { Float($0) / max(scale, 1e-12) } ?? 1
        var output = [UInt32](repeating: 0, count: indices.count)
        var error: Float = 0
        let count = meshopt_simplify(&output, indices, indices.count, flat, vertexCount, 12, targetTriangles * 3,
                                     relativeError, UInt32(meshopt_SimplifyLockBorder), &error)
        var result = self
        result.indices = Self.withoutFolds(Array(output.prefix(count)))
        result.normals = []
        return result.splittingNonManifold().optimizedForGPU()
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
