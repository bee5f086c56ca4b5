import CEGL
import Foundation
import VolumeCore

/// 3D textures of volumes and label maps, shared by the volume and slice renderers (GL thread
/// only unless stated).
enum VolumeTextures {
    /// Uploads the values as a linearly filtered texture and returns it with the value a texel of
    /// 1 stands for. Where the driver has 16-bit normalised textures (EXT_texture_norm16), Int16
    /// voxels go up as they are (scale 32767) and others scaled to their largest magnitude; else
    /// as half floats (scale 1). Call from any thread: it converts first, then uploads on the GL one.
    static func upload(_ volume: AnyVolume, range: ClosedRange<Double>, replacing existing: GLuint,
                       context: GLContext) throws(RenderingError) -> (GLuint, Double) {
        let g = volume.geometry
        let limit = context.max3DTextureSize
        guard g.dimensions.x <= limit, g.dimensions.y <= limit, g.dimensions.z <= limit else {
            throw .invalidParameter(name: "volume", reason: "\(g.dimensions.x)×\(g.dimensions.y)×\(g.dimensions.z) voxels exceed the 3D texture limit of \(limit)")
        }
        let norm16 = context.extensions.contains("GL_EXT_texture_norm16")
        switch volume {
        case .int16(let v) where norm16:
            return (try context.perform { () throws(RenderingError) -> GLuint in
                try texture3D(existing, g.dimensions, GL_R16_SNORM_EXT, GL_RED, GL_SHORT, v.voxels, filter: GL_LINEAR)
            }, 32767)
        case .float32(let v) where norm16:
            let largest = max(abs(range.lowerBound), abs(range.upperBound), 1e-30)
            let factor = Float(32767 / largest)
            let data = v.voxels.map { Int16(($0 * factor).rounded()) }
            return (try context.perform { () throws(RenderingError) -> GLuint in
                try texture3D(existing, g.dimensions, GL_R16_SNORM_EXT, GL_RED, GL_SHORT, data, filter: GL_LINEAR)
            }, largest)
        case .int16(let v):
            let data = v.voxels.map { Float16(Float($0)) }
            return (try context.perform { () throws(RenderingError) -> GLuint in
                try texture3D(existing, g.dimensions, GL_R16F, GL_RED, GL_HALF_FLOAT, data, filter: GL_LINEAR)
            }, 1)
        case .float32(let v):
            let data = v.voxels.map { Float16($0) }
            return (try context.perform { () throws(RenderingError) -> GLuint in
                try texture3D(existing, g.dimensions, GL_R16F, GL_RED, GL_HALF_FLOAT, data, filter: GL_LINEAR)
            }, 1)
        }
    }

    /// Uploads a label map as an unsigned integer texture (R8UI or R16UI, nearest).
    static func upload(_ labels: LabelMap, replacing existing: GLuint, context: GLContext) throws(RenderingError) -> GLuint {
        let d = labels.geometry.dimensions
        let limit = context.max3DTextureSize
        guard d.x <= limit, d.y <= limit, d.z <= limit else {
            throw .invalidParameter(name: "label map", reason: "\(d.x)×\(d.y)×\(d.z) voxels exceed the 3D texture limit of \(limit)")
        }
        return try context.perform { () throws(RenderingError) -> GLuint in
            switch labels.storage {
            case .uint8(let v):
                try texture3D(existing, d, GL_R8UI, GL_RED_INTEGER, GL_UNSIGNED_BYTE, v.voxels, filter: GL_NEAREST)
            case .uint16(let v):
                try texture3D(existing, d, GL_R16UI, GL_RED_INTEGER, GL_UNSIGNED_SHORT, v.voxels, filter: GL_NEAREST)
            }
        }
    }

    /// Creates (or replaces the contents of) a 3D texture.
    static func texture3D<T: BitwiseCopyable>(_ existing: GLuint, _ d: SIMD3<Int>, _ internalFormat: Int32, _ format: Int32,
                                              _ type: Int32, _ data: [T], filter: Int32) throws(RenderingError) -> GLuint {
        var id = existing
        if id == 0 { glGenTextures(1, &id) }
        bind(id, unit: 0, target: GL_TEXTURE_3D, filter: filter)
        glPixelStorei(GLenum(GL_UNPACK_ALIGNMENT), 1)
        data.withUnsafeBytes { bytes in
            glTexImage3D(GLenum(GL_TEXTURE_3D), 0, internalFormat, GLsizei(d.x), GLsizei(d.y), GLsizei(d.z), 0,
                         GLenum(format), GLenum(type), bytes.baseAddress)
        }
        let error = glGetError()
        guard error == GLenum(GL_NO_ERROR) else {
            throw .invalidParameter(name: "volume", reason: "3D texture upload failed (GL error 0x\(String(error, radix: 16)); out of memory?)")
        }
        return id
    }

    /// Binds `texture` to a texture unit with the given filter and clamping at the edges.
    static func bind(_ texture: GLuint, unit: Int, target: Int32, filter: Int32) {
        glActiveTexture(GLenum(GL_TEXTURE0 + Int32(unit)))
        glBindTexture(GLenum(target), texture)
        glTexParameteri(GLenum(target), GLenum(GL_TEXTURE_MIN_FILTER), filter)
        glTexParameteri(GLenum(target), GLenum(GL_TEXTURE_MAG_FILTER), filter)
        for wrap in [GL_TEXTURE_WRAP_S, GL_TEXTURE_WRAP_T, GL_TEXTURE_WRAP_R] {
            glTexParameteri(GLenum(target), GLenum(wrap), GL_CLAMP_TO_EDGE)
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

