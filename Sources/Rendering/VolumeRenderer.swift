import CEGL
import Foundation
import VolumeCore

/// Maps values to colour and opacity: a piecewise-linear table over control points.
public struct TransferFunction: Sendable, Equatable {
    public var name: String
    /// Modality it expects ("CT", "MR"), or nil for any.
    public var modality: String?
    public var points: [Point]

    public struct Point: Sendable, Equatable {
        public var value: Double
        public var color: RGBA

        public init(_ value: Double, _ color: RGBA) {
            self.value = value
            self.color = color
        }
    }

    public init(name: String, modality: String?, points: [Point]) {
        self.name = name
        self.modality = modality
        self.points = points.sorted { $0.value < $1.value }
    }

    public static let ctBone = TransferFunction(name: "ct-bone", modality: "CT", points: [
        Point(150, RGBA(0.55, 0.25, 0.15, 0)), Point(300, RGBA(0.9, 0.8, 0.65, 0.25)),
        Point(700, RGBA(0.97, 0.94, 0.86, 0.9)), Point(3071, RGBA(1, 1, 1, 1)),
    ])
    public static let ctSoftTissue = TransferFunction(name: "ct-soft-tissue", modality: "CT", points: [
        Point(-500, RGBA(0.6, 0.3, 0.2, 0)), Point(-100, RGBA(0.85, 0.6, 0.5, 0.05)), Point(40, RGBA(0.9, 0.5, 0.45, 0.1)),
        Point(200, RGBA(0.95, 0.9, 0.8, 0.4)), Point(1000, RGBA(1, 1, 1, 0.9)),
    ])
    public static let ctAngiography = TransferFunction(name: "ct-angio", modality: "CT", points: [
        Point(100, RGBA(0.7, 0.1, 0.1, 0)), Point(200, RGBA(0.9, 0.2, 0.15, 0.3)), Point(500, RGBA(1, 0.85, 0.8, 0.8)),
        Point(3071, RGBA(1, 1, 1, 1)),
    ])
    public static let presets = [ctBone, ctSoftTissue, ctAngiography]

    /// 256 RGBA entries over [low, high].
    func table(low: Double, high: Double) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(1024)
        for i in 0..<256 {
            let v = low + (high - low) * Double(i) / 255
            var c = points.first?.color ?? RGBA(0, 0, 0, 0)
            if v <= (points.first?.value ?? 0) {
                c = RGBA(c.r, c.g, c.b, 0)
            } else if let last = points.last, v >= last.value {
                c = last.color
            } else if let upper = points.firstIndex(where: { $0.value >= v }), upper > 0 {
                let a = points[upper - 1], b = points[upper]
                let t = (v - a.value) / (b.value - a.value)
                c = RGBA(a.color.r + (b.color.r - a.color.r) * t, a.color.g + (b.color.g - a.color.g) * t,
                         a.color.b + (b.color.b - a.color.b) * t, a.color.a + (b.color.a - a.color.a) * t)
            }
            out += [c.r, c.g, c.b, c.a].map { UInt8(clamping: Int(($0 * 255).rounded())) }
        }
        return out
    }
}

/// Ray-marching volume renderer: the volume as a 3D texture (half floats, linear filtering).
public final class VolumeRenderer: @unchecked Sendable {
    public let context: GLContext
    private var program: GLuint = 0
    private var texture: GLuint = 0
    private var geometry: VolumeGeometry?
    private var range: ClosedRange<Double> = 0...1
    private var modality = ""
    /// Smallest and largest value of each brick of `brick`³ voxels (for empty-space skipping).
    private var brickLow: [Float] = [], brickHigh: [Float] = []
    private var bricks = SIMD3<Int>(1, 1, 1)
    private let brick = 8  // voxels per brick side; volume.frag assumes 8

    public init(context: GLContext, shaders: ShaderLibrary) throws(RenderingError) {
        self.context = context
        program = try context.perform { () throws(RenderingError) -> GLuint in
            try shaders.program(vertex: "volume.vert", fragment: "volume.frag")
        }
    }

    deinit {
        let (program, texture) = (self.program, self.texture)
        _ = try? context.perform {
            glDeleteProgram(program)
            var t = texture
            if t != 0 { glDeleteTextures(1, &t) }
        }
    }

    /// Uploads a volume (replacing the previous one); `modality` is checked against presets.
    public func upload(_ volume: AnyVolume, modality: String) throws(RenderingError) {
        let g = volume.geometry
        let limit = context.max3DTextureSize
        guard g.dimensions.x <= limit, g.dimensions.y <= limit, g.dimensions.z <= limit else {
            throw .invalidParameter(name: "volume", reason: "\(g.dimensions.x)×\(g.dimensions.y)×\(g.dimensions.z) voxels exceed the 3D texture limit of \(limit)")
        }
        var half = [Float16](repeating: 0, count: g.voxelCount)
        switch volume {
        case .int16(let v): for i in half.indices { half[i] = Float16(Float(v.voxels[i])) }
        case .float32(let v): for i in half.indices { half[i] = Float16(v.voxels[i]) }
        }
        self.range = volume.valueRange() ?? 0...1
        self.modality = modality
        // Brick ranges, one voxel of overlap so linear filtering at brick borders is covered.
        bricks = SIMD3((g.dimensions.x + brick - 1) / brick, (g.dimensions.y + brick - 1) / brick, (g.dimensions.z + brick - 1) / brick)
        let count = bricks.x * bricks.y * bricks.z
        var low = [Float](repeating: .infinity, count: count), high = [Float](repeating: -.infinity, count: count)
        let (bx, by, bz, size) = (bricks.x, bricks.y, bricks.z, brick)
        low.withUnsafeMutableBufferPointer { lowBuffer in
            high.withUnsafeMutableBufferPointer { highBuffer in
                half.withUnsafeBufferPointer { values in
                    let (lo, hi, v) = (UncheckedSendable(lowBuffer), UncheckedSendable(highBuffer), UncheckedSendable(values))
                    parallelFor(0..<bz, threads: nil) { slabs in
                        for k in slabs {
                            for j in 0..<by {
                                for i in 0..<bx {
                                    var a = Float.infinity, b = -Float.infinity
                                    for z in max(0, k * size - 1)..<min(g.dimensions.z, (k + 1) * size + 1) {
                                        for y in max(0, j * size - 1)..<min(g.dimensions.y, (j + 1) * size + 1) {
                                            let row = (z * g.dimensions.y + y) * g.dimensions.x
                                            for x in max(0, i * size - 1)..<min(g.dimensions.x, (i + 1) * size + 1) {
                                                let value = Float(v.value[row + x])
                                                a = min(a, value)
                                                b = max(b, value)
                                            }
                                        }
                                    }
                                    lo.value[(k * by + j) * bx + i] = a
                                    hi.value[(k * by + j) * bx + i] = b
                                }
                            }
                        }
                    }
                }
            }
        }
        brickLow = low
        brickHigh = high
        let upload = half
        texture = try context.perform { [texture] () throws(RenderingError) -> GLuint in
            var id = texture
            if id == 0 { glGenTextures(1, &id) }
            glBindTexture(GLenum(GL_TEXTURE_3D), id)
            glPixelStorei(GLenum(GL_UNPACK_ALIGNMENT), 1)
            glTexImage3D(GLenum(GL_TEXTURE_3D), 0, GL_R16F, GLsizei(g.dimensions.x), GLsizei(g.dimensions.y),
                         GLsizei(g.dimensions.z), 0, GLenum(GL_RED), GLenum(GL_HALF_FLOAT), upload)
            for parameter in [GL_TEXTURE_MIN_FILTER, GL_TEXTURE_MAG_FILTER] {
                glTexParameteri(GLenum(GL_TEXTURE_3D), GLenum(parameter), GL_LINEAR)
            }
            for wrap in [GL_TEXTURE_WRAP_S, GL_TEXTURE_WRAP_T, GL_TEXTURE_WRAP_R] {
                glTexParameteri(GLenum(GL_TEXTURE_3D), GLenum(wrap), GL_CLAMP_TO_EDGE)
            }
            let error = glGetError()
            guard error == GLenum(GL_NO_ERROR) else {
                throw .invalidParameter(name: "volume", reason: "3D texture upload failed (GL error 0x\(String(error, radix: 16)))")
            }
            return id
        }
        geometry = g
    }

    /// One image of the uploaded volume through `transfer`.
    public func render(camera: Camera, width: Int, height: Int, transfer: TransferFunction,
                       background: RGBA = RGBA(0, 0, 0, 1), eyeOffset: Double = 0, shift: Double = 0) throws(RenderingError) -> RGBAImage {
        guard let g = geometry else { throw .invalidParameter(name: "volume", reason: "no volume uploaded") }
        if let expected = transfer.modality, expected != modality {
            throw .invalidParameter(name: "preset \(transfer.name)", reason: "made for \(expected), this series is \(modality.isEmpty ? "of unknown modality" : modality)")
        }
        try context.checkSize(width: width, height: height)
        let eyeCamera = camera.shifted(by: eyeOffset)
        let viewProjection = eyeCamera.projectionMatrix(aspect: Double(width) / Double(height), shift: shift) * eyeCamera.viewMatrix
        guard let inverse = viewProjection.inverse else { throw .invalidParameter(name: "camera", reason: "singular projection") }
        let toTexture = try Self.patientToTexture(g)
        let table = transfer.table(low: range.lowerBound, high: range.upperBound)
        // One sample per smallest voxel size; opacities corrected to it (the table is per 0.5 mm).
        let step = min(g.spacing.x, g.spacing.y, g.spacing.z)
        let diagonal = (SIMD3<Double>(Double(g.dimensions.x), Double(g.dimensions.y), Double(g.dimensions.z)) * g.spacing).length
        let (program, texture, range, bricks) = (self.program, self.texture, self.range, self.bricks)
        // Occupancy: 255 where some value of the brick has a visible opacity in the table.
        var alphaPrefix = [Int](repeating: 0, count: 257)
        for i in 0..<256 { alphaPrefix[i + 1] = alphaPrefix[i] + (table[4 * i + 3] > 0 ? 1 : 0) }
        let span = range.upperBound - range.lowerBound
        let occupancy: [UInt8] = zip(brickLow, brickHigh).map { low, high in
            let a = max(0, min(255, Int(((Double(low) - range.lowerBound) / max(span, 1e-9) * 255).rounded(.down))))
            let b = max(0, min(255, Int(((Double(high) - range.lowerBound) / max(span, 1e-9) * 255).rounded(.up))))
            return alphaPrefix[b + 1] - alphaPrefix[a] > 0 ? 255 : 0
        }
        return try context.perform { () throws(RenderingError) -> RGBAImage in
            let target = try Framebuffer(width: width, height: height)
            defer { target.delete() }
            var transferTexture: GLuint = 0, array: GLuint = 0
            glGenTextures(1, &transferTexture)
            defer { glDeleteTextures(1, &transferTexture) }
            glActiveTexture(GLenum(GL_TEXTURE1))
            glBindTexture(GLenum(GL_TEXTURE_2D), transferTexture)
            glTexImage2D(GLenum(GL_TEXTURE_2D), 0, GL_RGBA8, 256, 1, 0, GLenum(GL_RGBA), GLenum(GL_UNSIGNED_BYTE), table)
            glTexParameteri(GLenum(GL_TEXTURE_2D), GLenum(GL_TEXTURE_MIN_FILTER), GL_LINEAR)
            glTexParameteri(GLenum(GL_TEXTURE_2D), GLenum(GL_TEXTURE_MAG_FILTER), GL_LINEAR)
            glTexParameteri(GLenum(GL_TEXTURE_2D), GLenum(GL_TEXTURE_WRAP_S), GL_CLAMP_TO_EDGE)
            var occupancyTexture: GLuint = 0
            glGenTextures(1, &occupancyTexture)
            defer { glDeleteTextures(1, &occupancyTexture) }
            glActiveTexture(GLenum(GL_TEXTURE2))
            glBindTexture(GLenum(GL_TEXTURE_3D), occupancyTexture)
            glPixelStorei(GLenum(GL_UNPACK_ALIGNMENT), 1)
            glTexImage3D(GLenum(GL_TEXTURE_3D), 0, GL_R8, GLsizei(bricks.x), GLsizei(bricks.y), GLsizei(bricks.z), 0,
                         GLenum(GL_RED), GLenum(GL_UNSIGNED_BYTE), occupancy)
            for parameter in [GL_TEXTURE_MIN_FILTER, GL_TEXTURE_MAG_FILTER] {
                glTexParameteri(GLenum(GL_TEXTURE_3D), GLenum(parameter), GL_NEAREST)
            }
            for wrap in [GL_TEXTURE_WRAP_S, GL_TEXTURE_WRAP_T, GL_TEXTURE_WRAP_R] {
                glTexParameteri(GLenum(GL_TEXTURE_3D), GLenum(wrap), GL_CLAMP_TO_EDGE)
            }
            glActiveTexture(GLenum(GL_TEXTURE0))
            glBindTexture(GLenum(GL_TEXTURE_3D), texture)
            glViewport(0, 0, GLsizei(width), GLsizei(height))
            glDisable(GLenum(GL_DEPTH_TEST))
            glUseProgram(program)
            glUniform1i(glGetUniformLocation(program, "volume"), 0)
            glUniform1i(glGetUniformLocation(program, "transfer"), 1)
            glUniform1i(glGetUniformLocation(program, "occupancy"), 2)
            glUniform3f(glGetUniformLocation(program, "dimensions"), Float(g.dimensions.x), Float(g.dimensions.y),
                        Float(g.dimensions.z))
            glUniformMatrix4fv(glGetUniformLocation(program, "inverseViewProjection"), 1, GLboolean(GL_FALSE), inverse.m)
            glUniformMatrix4fv(glGetUniformLocation(program, "patientToTexture"), 1, GLboolean(GL_FALSE), toTexture.m)
            glUniform2f(glGetUniformLocation(program, "valueRange"), Float(range.lowerBound), Float(range.upperBound))
            glUniform1f(glGetUniformLocation(program, "stepMM"), Float(step))
            glUniform1f(glGetUniformLocation(program, "opacityExponent"), Float(step / 0.5))
            glUniform3f(glGetUniformLocation(program, "textureStep"), 1 / Float(g.dimensions.x), 1 / Float(g.dimensions.y),
                        1 / Float(g.dimensions.z))
            glUniform1i(glGetUniformLocation(program, "maxSteps"), GLint(min(4096, Int(diagonal / step) + 2)))
            glUniform4f(glGetUniformLocation(program, "background"), Float(background.r), Float(background.g),
                        Float(background.b), Float(background.a))
            glGenVertexArrays(1, &array)
            glBindVertexArray(array)
            glDrawArrays(GLenum(GL_TRIANGLES), 0, 3)
            glBindVertexArray(0)
            glDeleteVertexArrays(1, &array)
            return try target.read()
        }
    }

    /// Patient (LPS mm) → texture coordinates: ((D⁻¹ (p − origin)) / spacing + 0.5) / dimensions.
    static func patientToTexture(_ g: VolumeGeometry) throws(RenderingError) -> Matrix4 {
        guard let inverse = g.direction.inverse else {
            throw .invalidParameter(name: "volume direction", reason: "singular direction matrix")
        }
        let d = SIMD3<Double>(Double(g.dimensions.x), Double(g.dimensions.y), Double(g.dimensions.z))
        var m = Matrix4.identity
        let rows = [inverse.rows.0, inverse.rows.1, inverse.rows.2]
        for r in 0..<3 {
            let scale = 1 / (g.spacing[r] * d[r])
            for c in 0..<3 { m[r, c] = Float(rows[r][c] * scale) }
            m[r, 3] = Float(-rows[r].dot(g.origin) * scale + 0.5 / d[r])
        }
        return m
    }
}

extension Matrix4 {
    /// The inverse (Gauss–Jordan in double precision), nil when singular.
    public var inverse: Matrix4? {
        var a = (0..<4).map { r in (0..<4).map { c in Double(self[r, c]) } }
        var b = (0..<4).map { r in (0..<4).map { c in r == c ? 1.0 : 0.0 } }
        for column in 0..<4 {
            guard let pivot = (column..<4).max(by: { abs(a[$0][column]) < abs(a[$1][column]) }),
                  abs(a[pivot][column]) > 1e-15 else { return nil }
            a.swapAt(column, pivot)
            b.swapAt(column, pivot)
            let scale = a[column][column]
            for k in 0..<4 {
                a[column][k] /= scale
                b[column][k] /= scale
            }
            for row in 0..<4 where row != column {
                let factor = a[row][column]
                for k in 0..<4 {
                    a[row][k] -= factor * a[column][k]
                    b[row][k] -= factor * b[column][k]
                }
            }
        }
        var out = Matrix4.identity
        for r in 0..<4 { for c in 0..<4 { out[r, c] = Float(b[r][c]) } }
        return out
    }
}
