import Foundation
import VolumeCore

extension Mesh {
    /// Separates surfaces that only touch: where an edge carries more than two triangles (two
    /// sheets pinched together by decimation) or sheets meet at a single vertex, the vertex gets one
    /// copy per sheet. Triangles around an over-used edge are paired by angle: walking around the
    /// edge, a triangle that leaves the edge's solid on its increasing-angle side is joined to the
    /// next one that closes that solid. The surface keeps its shape; every edge ends up with two
    /// triangles, so a closed mesh stays closed and becomes manifold.
    public func splittingNonManifold() -> Mesh {
        let triangleCount = indices.count / 3
        guard triangleCount > 0 else { return self }
        // Triangles on each undirected edge.
        var incidences: [(key: UInt64, corner: Int)] = []
        incidences.reserveCapacity(indices.count)
        for corner in 0..<indices.count {
            let t = corner / 3, e = corner % 3
            let a = indices[corner], b = indices[t * 3 + (e + 1) % 3]
            incidences.append((UInt64(min(a, b)) << 32 | UInt64(max(a, b)), corner))
        }
        incidences.sort { $0.key != $1.key ? $0.key < $1.key : $0.corner < $1.corner }
        // partner[corner] = the corner (edge slot) of the triangle joined across that edge, or −1.
        var partner = [Int](repeating: -1, count: indices.count)
        var overUsed: [[Int]] = []
        var start = 0
        while start < incidences.count {
            var end = start + 1
            while end < incidences.count && incidences[end].key == incidences[start].key { end += 1 }
            let group = incidences[start..<end].map(\.corner)
            if group.count == 2 {
                partner[group[0]] = group[1]
                partner[group[1]] = group[0]
            } else if group.count > 2 {
                overUsed.append(group)
            }
            start = end
        }
        // Over-used edges: join triangles that already belong to one fan (through ordinary edges)
        // at an end of the edge; what is left, by angle.
        for group in overUsed {
            let first = group[0]
            let a = indices[first], b = indices[first / 3 * 3 + (first % 3 + 1) % 3]
            for end in [a, b] {
                let fan = fanLabels(of: group, at: end, partner)
                for (i, x) in group.enumerated() where partner[x] < 0 && runs(x, from: a) {
                    if let y = group[(i + 1)...].first(where: { partner[$0] < 0 && !runs($0, from: a) && fan[$0] == fan[x] })
                        ?? group[..<i].first(where: { partner[$0] < 0 && !runs($0, from: a) && fan[$0] == fan[x] }) {
                        partner[x] = y
                        partner[y] = x
                    }
                }
            }
            let left = group.filter { partner[$0] < 0 }
            if left.count >= 2 { pairAroundEdge(left, &partner) }
        }
        // Fans: at each vertex, union the incident triangles joined across edges through it.
        var incident = [[Int]](repeating: [], count: vertexCount)
        for corner in 0..<indices.count { incident[Int(indices[corner])].append(corner) }
        var newPositions = positions
        var newIndices = indices
        for v in 0..<vertexCount where incident[v].count > 1 {
            let corners = incident[v]  // corners c with indices[c] == v
            var parent = Array(0..<corners.count)
            func find(_ x: Int) -> Int {
                var x = x
                while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
                return x
            }
            let slot = Dictionary(uniqueKeysWithValues: corners.enumerated().map { ($0.element / 3, $0.offset) })
            for (i, corner) in corners.enumerated() {
                let t = corner / 3, e = corner % 3
                // The two edges of triangle t through v: slot e (v → next) and slot e − 1 (previous → v).
                for edgeSlot in [t * 3 + e, t * 3 + (e + 2) % 3] {
                    let other = partner[edgeSlot]
                    guard other >= 0, let j = slot[other / 3] else { continue }
                    let (ri, rj) = (find(i), find(j))
                    if ri != rj { parent[max(ri, rj)] = min(ri, rj) }
                }
            }
            var copies: [Int: UInt32] = [:]
            for (i, corner) in corners.enumerated() {
                let root = find(i)
                if root == find(0) { continue }
                if copies[root] == nil {
                    copies[root] = UInt32(newPositions.count)
                    newPositions.append(positions[v])
                }
                newIndices[corner] = copies[root]!
            }
        }
        Self.splittingDoubledEdges(overUsed, partner, &newPositions, &newIndices)
        var result = self
        result.positions = newPositions
        result.indices = newIndices
        result.normals = []
        return result
    }

    /// Where vertex copies could not separate the pairs of an over-used edge, gives every pair but
    /// the first its own copy of the edge, split at its midpoint. That happens where the pairs are
    /// joined around both ends of the edge, so that the surface meets itself along the edge: on
    /// decimated bone, where both ends carry other pinched edges too. Splitting the pair
    /// (u → v, w), (v → u, z) at a new vertex m gives (u → m, w), (m → v, w), (v → m, z),
    /// (m → u, z): every edge of these is used once in each direction and m's fan is one closed
    /// loop, so the pair becomes a manifold sheet that still lies on its old triangles. Only edges
    /// listed in `overUsed` can be left over-used (vertex copies never join two edges into one).
    private static func splittingDoubledEdges(_ overUsed: [[Int]], _ partner: [Int], _ positions: inout [SIMD3<Float>],
                                              _ indices: inout [UInt32]) {
        func ends(_ corner: Int) -> (from: UInt32, to: UInt32) {
            (indices[corner], indices[corner / 3 * 3 + (corner % 3 + 1) % 3])
        }
        // The pairs to split, as (u, v, triangle running u → v, triangle running v → u).
        var splits: [(u: UInt32, v: UInt32, forward: Int, backward: Int)] = []
        for group in overUsed {
            var keyed: [(key: UInt64, corner: Int)] = []
            for corner in group {
                let (a, b) = ends(corner)
                let key = UInt64(min(a, b)) << 32 | UInt64(max(a, b))
                keyed.append((key, corner))
            }
            keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.corner < $1.corner }
            var start = 0
            while start < keyed.count {
                var end = start + 1
                while end < keyed.count && keyed[end].key == keyed[start].key { end += 1 }
                if end - start > 2 {
                    let corners = Set(keyed[start..<end].map { $0.corner })
                    var kept = false
                    for entry in keyed[start..<end] where partner[entry.corner] > entry.corner && corners.contains(partner[entry.corner]) {
                        guard kept else {
                            kept = true
                            continue
                        }
                        let (u, v) = ends(entry.corner)
                        splits.append((u, v, entry.corner / 3, partner[entry.corner] / 3))
                    }
                }
                start = end
            }
        }
        guard !splits.isEmpty else { return }
        // A triangle may lose an edge to one split and have another split later: look for the edge
        // in the triangle and in the triangles split off it.
        var children: [Int: [Int]] = [:]
        func corner(running from: UInt32, _ to: UInt32, in triangle: Int) -> Int? {
            for t in [triangle] + children[triangle, default: []] {
                for e in 0..<3 where indices[3 * t + e] == from && indices[3 * t + (e + 1) % 3] == to { return 3 * t + e }
            }
            return nil
        }
        for split in splits {
            guard let forward = corner(running: split.u, split.v, in: split.forward),
                  let backward = corner(running: split.v, split.u, in: split.backward) else { continue }
            let m = UInt32(positions.count)
            positions.append((positions[Int(split.u)] + positions[Int(split.v)]) / 2)
            for (slot, origin) in [(forward, split.forward), (backward, split.backward)] {
                let t = slot / 3, e = slot % 3
                let to = indices[3 * t + (e + 1) % 3], third = indices[3 * t + (e + 2) % 3]
                indices[3 * t + (e + 1) % 3] = m  // (from, m, third)
                children[origin, default: []].append(indices.count / 3)
                indices += [m, to, third]
            }
        }
    }

    /// Whether the edge in slot `corner` runs from vertex `a`.
    private func runs(_ corner: Int, from a: UInt32) -> Bool { indices[corner] == a }

    /// For each edge slot of `group` (triangles on one edge), a label of its fan at vertex `v`:
    /// triangles around v reachable from one another across ordinary (two-triangle) edges.
    private func fanLabels(of group: [Int], at v: UInt32, _ partner: [Int]) -> [Int: Int] {
        var labels: [Int: Int] = [:]
        for (label, corner) in group.enumerated() where labels[corner] == nil {
            // Walk from the triangle across its edges through v, both ways, while edges are ordinary.
            var stack = [corner / 3], seen: Set<Int> = [corner / 3]
            while let t = stack.popLast() {
                for e in 0..<3 {
                    let slot = t * 3 + e
                    let from = indices[slot], to = indices[t * 3 + (e + 1) % 3]
                    guard from == v || to == v, partner[slot] >= 0 else { continue }
                    let next = partner[slot] / 3
                    if seen.insert(next).inserted { stack.append(next) }
                }
            }
            for other in group where seen.contains(other / 3) && labels[other] == nil { labels[other] = label }
        }
        return labels
    }

    /// Pairs the triangles around one over-used edge (slots `corners`, all on the same undirected edge).
    private func pairAroundEdge(_ corners: [Int], _ partner: inout [Int]) {
        let first = corners[0]
        let a = indices[first], b = indices[first / 3 * 3 + (first % 3 + 1) % 3]
        let pa = SIMD3<Double>(positions[Int(a)]), pb = SIMD3<Double>(positions[Int(b)])
        let axis = (pb - pa).normalized
        let u = (abs(axis.x) < 0.9 ? SIMD3<Double>(1, 0, 0) : SIMD3<Double>(0, 1, 0)).cross(axis).normalized
        let v = axis.cross(u)
        // Angle of each triangle's third vertex around the edge a → b, and whether it runs a → b.
        let around: [(angle: Double, forward: Bool, corner: Int)] = corners.map { corner in
            let t = corner / 3, e = corner % 3
            let from = indices[corner], third = indices[t * 3 + (e + 2) % 3]
            let w = SIMD3<Double>(positions[Int(third)]) - pa
            return (atan2(w.dot(v), w.dot(u)), from == a, corner)
        }.sorted { $0.angle < $1.angle }
        // A triangle running b → a has its solid toward increasing angle; the next triangle
        // running a → b (cyclically) closes that solid.
        for (index, entry) in around.enumerated() where !entry.forward {
            for step in 1..<around.count {
                let candidate = around[(index + step) % around.count]
                if candidate.forward && partner[candidate.corner] < 0 {
                    partner[entry.corner] = candidate.corner
                    partner[candidate.corner] = entry.corner
                    break
                }
            }
        }
    }
}
