extension Mesh {
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
}
