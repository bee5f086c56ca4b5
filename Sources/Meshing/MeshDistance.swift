import VolumeCore

/// Distances between surfaces: every vertex of one mesh to the nearest point of the other's
/// triangles, through a uniform grid of triangle buckets. Used to check smoothing and decimation
/// and to compare meshes with other tools' surfaces.
public enum MeshDistance {
    public struct Summary: Sendable, Equatable {
        public var mean: Double
        public var percentile95: Double
        public var maximum: Double

        public init(_ distances: [Float]) {
            let sorted = distances.sorted()
            mean = sorted.isEmpty ? 0 : sorted.reduce(0.0) { $0 + Double($1) } / Double(sorted.count)
            percentile95 = sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.95))])
            maximum = Double(sorted.last ?? 0)
        }
    }

    /// Mean, 95th percentile and maximum over both directions (a's vertices to b, b's to a), in mm.
    public static func symmetric(_ a: Mesh, _ b: Mesh, threads: Int? = nil) -> Summary {
        Summary(distances(from: a.positions, to: b, threads: threads) + distances(from: b.positions, to: a, threads: threads))
    }

    /// Distance (mm) from each point to the nearest point of `mesh`'s surface.
    public static func distances(from points: [SIMD3<Float>], to mesh: Mesh, threads: Int? = nil) -> [Float] {
        guard mesh.triangleCount > 0 else { return points.map { _ in .infinity } }
        let grid = TriangleGrid(mesh)
        var out = [Float](repeating: 0, count: points.count)
        out.withUnsafeMutableBufferPointer { buffer in
            let target = UncheckedSendable(buffer.baseAddress!)
            parallelFor(0..<points.count, grain: 1024, threads: threads) { range in
                for index in range { target.value[index] = grid.distance(from: points[index]) }
            }
        }
        return out
    }
}

/// Triangles bucketed in a uniform grid (each into every cell its bounding box touches).
struct TriangleGrid: Sendable {
    let mesh: Mesh
    let origin: SIMD3<Float>
    let cell: Float
    let size: SIMD3<Int>
    let start: [Int32]
    let triangles: [Int32]

    init(_ mesh: Mesh) {
        self.mesh = mesh
        var lo = mesh.positions[0], hi = mesh.positions[0]
        for p in mesh.positions {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        let extent = hi - lo
        // Cells of about one mean edge length (a triangle in a few cells, a few in each), at least 1/256 of the extent.
        var edge: Float = 0
        let sampled = stride(from: 0, to: mesh.indices.count, by: max(3, mesh.indices.count / 3000 * 3))
        for t in sampled { edge += ((mesh.positions[Int(mesh.indices[t + 1])] - mesh.positions[Int(mesh.indices[t])]).squared().sum()).squareRoot() }
        edge /= Float(max(1, sampled.underestimatedCount))
        let cell = max(edge, max(extent.x, extent.y, extent.z) / 256, 1e-3)
        let size = SIMD3<Int>(Int(extent.x / cell) + 1, Int(extent.y / cell) + 1, Int(extent.z / cell) + 1)
        func cellRange(_ t: Int) -> (SIMD3<Int>, SIMD3<Int>) {
            let a = mesh.positions[Int(mesh.indices[3 * t])], b = mesh.positions[Int(mesh.indices[3 * t + 1])]
            let c = mesh.positions[Int(mesh.indices[3 * t + 2])]
            let l = (pointwiseMin(pointwiseMin(a, b), c) - lo) / cell, h = (pointwiseMax(pointwiseMax(a, b), c) - lo) / cell
            return (SIMD3(Int(l.x), Int(l.y), Int(l.z)), pointwiseMin(SIMD3(Int(h.x), Int(h.y), Int(h.z)), size &- 1))
        }
        var counts = [Int32](repeating: 0, count: size.x * size.y * size.z + 1)
        for t in 0..<mesh.triangleCount {
            let (l, h) = cellRange(t)
            for z in l.z...h.z { for y in l.y...h.y { for x in l.x...h.x { counts[(z * size.y + y) * size.x + x + 1] += 1 } } }
        }
        for i in 1..<counts.count { counts[i] += counts[i - 1] }
        var fill = counts
        var triangles = [Int32](repeating: 0, count: Int(counts.last!))
        for t in 0..<mesh.triangleCount {
            let (l, h) = cellRange(t)
            for z in l.z...h.z {
                for y in l.y...h.y {
                    for x in l.x...h.x {
                        let c = (z * size.y + y) * size.x + x
                        triangles[Int(fill[c])] = Int32(t)
                        fill[c] += 1
                    }
                }
            }
        }
        origin = lo
        self.cell = cell
        self.size = size
        start = counts
        self.triangles = triangles
    }

    /// Searches rings of cells around the point until no farther cell can hold a closer triangle.
    func distance(from p: SIMD3<Float>) -> Float {
        let q = (p - origin) / cell
        let centre = SIMD3<Int>(Int(q.x.rounded(.down)), Int(q.y.rounded(.down)), Int(q.z.rounded(.down)))
        var best = Float.infinity
        let maxRing = max(size.x, size.y, size.z) + max(abs(centre.x), abs(centre.y), abs(centre.z)) + 1
        var ring = 0
        while ring <= maxRing {
            let lo = centre &- ring, hi = centre &+ ring
            let from = pointwiseMax(lo, SIMD3<Int>(repeating: 0)), to = pointwiseMin(hi, size &- 1)
            if from.x <= to.x && from.y <= to.y && from.z <= to.z {
                for z in from.z...to.z {
                    for y in from.y...to.y {
                        for x in from.x...to.x {
                            // Only the shell of this ring (inner cells were searched before).
                            guard x == lo.x || x == hi.x || y == lo.y || y == hi.y || z == lo.z || z == hi.z else { continue }
                            let c = (z * size.y + y) * size.x + x
                            for i in Int(start[c])..<Int(start[c + 1]) {
                                best = min(best, pointTriangleDistance(p, Int(triangles[i])))
                            }
                        }
                    }
                }
            }
            // Every triangle not yet tested lies outside the cube of cells searched so far: stop
            // once the nearest one found is no farther than that cube's nearest face. (Most
            // points lie close to the other surface: one cell, not the 27 of a whole first ring.)
            let low = origin + SIMD3<Float>(lo) * cell, high = origin + SIMD3<Float>(hi &+ 1) * cell
            let inside = min((p - low).min(), (high - p).min())
            if best <= inside { break }
            ring += 1
        }
        return best
    }

    /// Distance from p to triangle t (closest point after Ericson, Real-Time Collision Detection, 5.1.5).
    func pointTriangleDistance(_ p: SIMD3<Float>, _ t: Int) -> Float {
        let a = mesh.positions[Int(mesh.indices[3 * t])], b = mesh.positions[Int(mesh.indices[3 * t + 1])]
        let c = mesh.positions[Int(mesh.indices[3 * t + 2])]
        let ab = b - a, ac = c - a, ap = p - a
        let d1 = (ab * ap).sum(), d2 = (ac * ap).sum()
        var closest: SIMD3<Float>
        if d1 <= 0 && d2 <= 0 {
            closest = a
        } else {
            let bp = p - b
            let d3 = (ab * bp).sum(), d4 = (ac * bp).sum()
            if d3 >= 0 && d4 <= d3 {
                closest = b
            } else {
                let vc = d1 * d4 - d3 * d2
                if vc <= 0 && d1 >= 0 && d3 <= 0 {
                    closest = a + ab * (d1 / (d1 - d3))
                } else {
                    let cp = p - c
                    let d5 = (ab * cp).sum(), d6 = (ac * cp).sum()
                    if d6 >= 0 && d5 <= d6 {
                        closest = c
                    } else {
                        let vb = d5 * d2 - d1 * d6
                        if vb <= 0 && d2 >= 0 && d6 <= 0 {
                            closest = a + ac * (d2 / (d2 - d6))
                        } else {
                            let va = d3 * d6 - d5 * d4
                            if va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0 {
                                closest = b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))
                            } else {
                                let denominator = 1 / (va + vb + vc)
                                closest = a + ab * (vb * denominator) + ac * (vc * denominator)
                            }
                        }
                    }
                }
            }
        }
        return ((p - closest).squared().sum()).squareRoot()
    }
}

extension SIMD3 where Scalar == Float {
    @inline(__always) func squared() -> SIMD3<Float> { self * self }
}
