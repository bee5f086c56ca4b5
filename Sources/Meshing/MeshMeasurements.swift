import VolumeCore

/// Size and soundness of a mesh.
public struct MeshMeasurements: Sendable, Equatable {
    public var triangles: Int
    public var vertices: Int
    /// Surface area in mm².
    public var area: Double
    /// Enclosed volume in mL (signed: positive for outward-facing closed meshes).
    public var volumeML: Double
    /// Bounding box in LPS mm.
    public var minimum: SIMD3<Double>
    public var maximum: SIMD3<Double>
    /// Every edge shared by exactly two triangles, in opposite directions (closed and oriented).
    public var watertight: Bool
    /// Edges with one triangle (holes) and with more than two (non-manifold).
    public var boundaryEdges: Int
    public var nonManifoldEdges: Int
    /// Triangles with zero area.
    public var degenerateTriangles: Int

    /// Measures a mesh; `topology: false` skips the edge check (watertight is then false and the
    /// edge counts zero), which is most of the cost on large meshes.
    public init(_ mesh: Mesh, topology: Bool = true) {
        triangles = mesh.triangleCount
        vertices = mesh.vertexCount
        var area = 0.0, volume = 0.0, degenerate = 0
        var lo = SIMD3<Double>(repeating: .infinity), hi = SIMD3<Double>(repeating: -.infinity)
        for p in mesh.positions {
            let d = SIMD3<Double>(Double(p.x), Double(p.y), Double(p.z))
            lo = pointwiseMin(lo, d)
            hi = pointwiseMax(hi, d)
        }
        for t in stride(from: 0, to: mesh.indices.count, by: 3) {
            let a = SIMD3<Double>(mesh.positions[Int(mesh.indices[t])]), b = SIMD3<Double>(mesh.positions[Int(mesh.indices[t + 1])])
            let c = SIMD3<Double>(mesh.positions[Int(mesh.indices[t + 2])])
            let cross = (b - a).cross(c - a)
            let doubleArea = cross.length
            if doubleArea == 0 { degenerate += 1 }
            area += doubleArea / 2
            volume += a.dot(b.cross(c)) / 6
        }
        self.area = area
        volumeML = volume / 1000
        minimum = mesh.positions.isEmpty ? .zero : lo
        maximum = mesh.positions.isEmpty ? .zero : hi
        degenerateTriangles = degenerate
        guard topology else {
            (boundaryEdges, nonManifoldEdges, watertight) = (0, 0, false)
            return
        }
        // Directed edges, sorted: a closed oriented surface has each (a, b) once and (b, a) once.
        var directed = [UInt64]()
        directed.reserveCapacity(mesh.indices.count)
        for t in stride(from: 0, to: mesh.indices.count, by: 3) {
            for e in 0..<3 {
                directed.append(UInt64(mesh.indices[t + e]) << 32 | UInt64(mesh.indices[t + (e + 1) % 3]))
            }
        }
        directed.sort()
        func count(_ key: UInt64) -> Int {
            var lo = 0, hi = directed.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if directed[mid] < key { lo = mid + 1 } else { hi = mid }
            }
            var n = 0
            while lo + n < directed.count && directed[lo + n] == key { n += 1 }
            return n
        }
        var boundary = 0, nonManifold = 0
        var index = 0
        while index < directed.count {
            let key = directed[index]
            var n = 1
            while index + n < directed.count && directed[index + n] == key { n += 1 }
            let reverse = count((key & 0xFFFF_FFFF) << 32 | key >> 32)
            if n > 1 || reverse > 1 { nonManifold += 1 } else if reverse == 0 { boundary += 1 }
            index += n
        }
        boundaryEdges = boundary
        nonManifoldEdges = nonManifold
        watertight = boundary == 0 && nonManifold == 0 && !mesh.indices.isEmpty
    }
}

extension SIMD3 where Scalar == Double {
    init(_ p: SIMD3<Float>) { self.init(Double(p.x), Double(p.y), Double(p.z)) }
}
