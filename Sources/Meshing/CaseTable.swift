/// The marching-cubes case table, generated rather than typed in.
///
/// Corner c of a cube sits at (c & 1, c >> 1 & 1, c >> 2 & 1). Edges 0–3 run along x, 4–7 along y,
/// 8–11 along z (see `edgeCorners`). For each of the 256 inside/outside cases, every cube face
/// contributes the segments that cross it: one for two crossed edges, and, on an ambiguous face
/// (inside corners on a diagonal), the two segments that cut off each inside corner — the same
/// choice the neighbouring cube makes for the shared face, so the surface is closed. Segments chain
/// into closed loops; each loop is oriented so its normal points from the inside corners to the
/// outside ones, and fanned into triangles. Non-ambiguous cases give Lorensen & Cline's triangles.
enum CaseTable {
    /// The two corners of each edge.
    static let edgeCorners: [(Int, Int)] = [
        (0, 1), (2, 3), (4, 5), (6, 7),  // along x: y,z = (0,0), (1,0), (0,1), (1,1)
        (0, 2), (1, 3), (4, 6), (5, 7),  // along y: x,z = (0,0), (1,0), (0,1), (1,1)
        (0, 4), (1, 5), (2, 6), (3, 7),  // along z: x,y = (0,0), (1,0), (0,1), (1,1)
    ]

    /// Faces as corner cycles.
    static let faces: [[Int]] = [[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]]

    /// Triangles of each case, as edge numbers, three per triangle.
    static let triangles: [[UInt8]] = (0..<256).map(makeCase)

    /// The same, flat: case c's edges are `flat[offsets[c] ..< offsets[c + 1]]` (no nested arrays
    /// in the extraction loops).
    static let flat: [UInt8] = triangles.flatMap { $0 }
    static let offsets: [Int32] = triangles.reduce(into: [0]) { $0.append($0.last! + Int32($1.count)) }

    static func edge(_ a: Int, _ b: Int) -> Int {
        edgeCorners.firstIndex { ($0.0 == a && $0.1 == b) || ($0.0 == b && $0.1 == a) }!
    }

    static func corner(_ c: Int) -> SIMD3<Double> { SIMD3(Double(c & 1), Double(c >> 1 & 1), Double(c >> 2 & 1)) }

    private static func makeCase(_ bits: Int) -> [UInt8] {
        let inside = (0..<8).map { bits >> $0 & 1 == 1 }
        var links = [[Int]](repeating: [], count: 12)  // edge → the edges it is joined to
        func join(_ a: Int, _ b: Int) {
            links[a].append(b)
            links[b].append(a)
        }
        for face in faces {
            let crossed = (0..<4).filter { inside[face[$0]] != inside[face[($0 + 1) % 4]] }
            let edges = crossed.map { edge(face[$0], face[($0 + 1) % 4]) }
            if edges.count == 2 {
                join(edges[0], edges[1])
            } else if edges.count == 4 {
                // Edge k joins corners k and k+1; cut off each inside corner: if corner 0 is inside,
                // join (edge 3, edge 0) and (edge 1, edge 2), else (edge 0, edge 1) and (edge 2, edge 3).
                if inside[face[0]] {
                    join(edges[3], edges[0])
                    join(edges[1], edges[2])
                } else {
                    join(edges[0], edges[1])
                    join(edges[2], edges[3])
                }
            }
        }
        var used = [Bool](repeating: false, count: 12)
        var result: [UInt8] = []
        for start in 0..<12 where !links[start].isEmpty && !used[start] {
            var loop = [start]
            used[start] = true
            var previous = start, current = links[start][0]
            while current != start {
                loop.append(current)
                used[current] = true
                let next = links[current][0] == previous ? links[current][1] : links[current][0]
                previous = current
                current = next
            }
            // Orientation: the loop's normal must point from inside corners to outside ones.
            let midpoints = loop.map { (corner(edgeCorners[$0].0) + corner(edgeCorners[$0].1)) / 2 }
            let centre = midpoints.reduce(SIMD3<Double>.zero, +) / Double(loop.count)
            var normal = SIMD3<Double>.zero
            for index in 0..<loop.count {
                let a = midpoints[index] - centre, b = midpoints[(index + 1) % loop.count] - centre
                normal += SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
            }
            var outward = SIMD3<Double>.zero
            for e in loop {
                let (a, b) = edgeCorners[e]
                outward += inside[a] ? corner(b) - corner(a) : corner(a) - corner(b)
            }
            if (normal * outward).sum() < 0 { loop.reverse() }
            for index in 1..<(loop.count - 1) {
                result += [UInt8(loop[0]), UInt8(loop[index]), UInt8(loop[index + 1])]
            }
        }
        return result
    }
}
