/// An indexed triangle mesh in patient space (LPS millimetres), triangles wound
/// counter-clockwise seen from outside (normals point out).
public struct Mesh: Sendable {
    public var positions: [SIMD3<Float>]
    /// Three vertex indices per triangle.
    public var indices: [UInt32]
    /// Unit normals per vertex (empty until computed).
    public var normals: [SIMD3<Float>]
    public var name: String
    public var color: RGBA

    public init(positions: [SIMD3<Float>], indices: [UInt32], normals: [SIMD3<Float>] = [], name: String = "mesh",
                color: RGBA = RGBA(0.9, 0.9, 0.9)) {
        self.positions = positions
        self.indices = indices
        self.normals = normals
        self.name = name
        self.color = color
    }

    public var triangleCount: Int { indices.count / 3 }
    public var vertexCount: Int { positions.count }
}
