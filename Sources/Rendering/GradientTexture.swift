import CEGL
import Foundation
import VolumeCore

/// The volume's gradients, computed once when a volume is uploaded, as an RGBA8 texture that the
/// ray caster reads with one linearly filtered fetch per shaded sample instead of six (on Mesa's
/// llvmpipe the six fetches were 45 % of a frame of bone). What VTK's CPU ray caster does too.
///
/// Each voxel holds the central-difference gradient in patient space (per mm, so anisotropic
/// voxels shade right), as a direction whose length grows with the gradient up to `knee` and is
/// one above it: strong edges weigh fully in the filtering between voxels, noise little, as they
/// do in the gradient of the filtered values that the six fetches computed. Components are
/// stored as 128 + 127·x. The alpha channel is unused (a 3-byte format is padded to 4 anyway).
enum GradientTexture {
    /// Volumes of more voxels than this are shaded from six fetches per sample instead (the
    /// texture costs 4 bytes a voxel: 2 GiB at this limit).
    static let voxelLimit = 512 * 1024 * 1024

    /// Slices computed and uploaded at a time (the whole texture is never held in our memory).
    static let slab = 16

    /// Makes the gradient texture of `voxels` (deleting `existing`, the previous one). `toPatient` is the
    /// column-major 3×3 matrix from a voxel-index gradient to a patient one (`gradientToPatient`).
    /// Call on the GL thread; the slabs are computed on all cores.
    static func upload<T: TextureVoxel>(_ voxels: [T], geometry g: VolumeGeometry, toPatient m: [Float], knee: Float,
                                        replacing existing: GLuint) throws(RenderingError) -> GLuint {
        let (nx, ny, nz) = (g.dimensions.x, g.dimensions.y, g.dimensions.z)
        // Immutable storage, so a new texture for each volume. Making it touches all of its memory
        // once (about 0.3 s of the large series' upload, as much as computing the gradients).
        var id = existing
        if id != 0 { glDeleteTextures(1, &id) }
        glGenTextures(1, &id)
        VolumeTextures.bind(id, unit: 0, target: GL_TEXTURE_3D, filter: GL_LINEAR)
        glPixelStorei(GLenum(GL_UNPACK_ALIGNMENT), 1)
        glTexStorage3D(GLenum(GL_TEXTURE_3D), 1, GLenum(GL_RGBA8), GLsizei(nx), GLsizei(ny), GLsizei(nz))
        var buffer = [UInt8](repeating: 255, count: 4 * nx * ny * min(slab, nz))
        let inverseKnee = 0.5 / max(knee, 1e-30)  // central differences span two voxels
        voxels.withUnsafeBufferPointer { values in
            for first in stride(from: 0, to: nz, by: slab) {
                let last = min(first + slab, nz)
                buffer.withUnsafeMutableBufferPointer { out in
                    let (source, target) = (UncheckedSendable(values), UncheckedSendable(out))
                    parallelFor(0..<((last - first) * ny), grain: 8) { rows in
                        for row in rows {
                            let (z, y) = (first + row / ny, row % ny)
                            Self.row(source.value, target.value, x: nx, y: y, z: z, ny: ny, nz: nz, outputRow: row, m: m,
                                     inverseKnee: inverseKnee)
                        }
                    }
                }
                buffer.withUnsafeBytes { bytes in
                    glTexSubImage3D(GLenum(GL_TEXTURE_3D), 0, 0, 0, GLint(first), GLsizei(nx), GLsizei(ny), GLsizei(last - first),
                                    GLenum(GL_RGBA), GLenum(GL_UNSIGNED_BYTE), bytes.baseAddress)
                }
            }
        }
        let error = glGetError()
        guard error == GLenum(GL_NO_ERROR) else {
            glDeleteTextures(1, &id)
            throw .invalidParameter(name: "volume", reason: "gradient texture upload failed (GL error 0x\(String(error, radix: 16)); out of memory?)")
        }
        return id
    }

    /// One row of `nx` voxels: differences across the neighbours (one-sided at the volume's faces),
    /// into patient space, encoded; eight voxels at a time.
    @_specialize(where T == Int16)
    @_specialize(where T == Float)
    private static func row<T: TextureVoxel>(_ v: UnsafeBufferPointer<T>, _ out: UnsafeMutableBufferPointer<UInt8>, x nx: Int,
                                             y: Int, z: Int, ny: Int, nz: Int, outputRow: Int, m: [Float], inverseKnee: Float) {
        let plane = nx * ny
        let base = (z * ny + y) * nx
        let values = v.baseAddress!
        let centre = values + base
        let (below, above) = (values + (y > 0 ? base - nx : base), values + (y < ny - 1 ? base + nx : base))
        let (back, front) = (values + (z > 0 ? base - plane : base), values + (z < nz - 1 ? base + plane : base))
        let matrix = (SIMD8<Float>(repeating: m[0]), SIMD8<Float>(repeating: m[1]), SIMD8<Float>(repeating: m[2]),
                      SIMD8<Float>(repeating: m[3]), SIMD8<Float>(repeating: m[4]), SIMD8<Float>(repeating: m[5]),
                      SIMD8<Float>(repeating: m[6]), SIMD8<Float>(repeating: m[7]), SIMD8<Float>(repeating: m[8]))
        let target = UnsafeMutableRawPointer(out.baseAddress!) + outputRow * nx * 4
        @inline(__always) func encode(_ gx: SIMD8<Float>, _ gy: SIMD8<Float>, _ gz: SIMD8<Float>) -> SIMD8<UInt32> {
            let px = matrix.0 * gx + matrix.3 * gy + matrix.6 * gz
            let py = matrix.1 * gx + matrix.4 * gy + matrix.7 * gz
            let pz = matrix.2 * gx + matrix.5 * gy + matrix.8 * gz
            let length = (px * px + py * py + pz * pz).squareRoot()
            // Direction × min(length / knee, 1), times 127 for the components (0 where there is no gradient).
            let weight = pointwiseMin(length * inverseKnee, SIMD8(repeating: 1))
            let scale = 127 * weight / pointwiseMax(length, SIMD8(repeating: 1e-30))
            // 128 + [-127, 127], rounded by adding 1.5·2²³ (the integer lands in the low mantissa bits).
            let magic = SIMD8<Float>(repeating: 128 + 12_582_912)
            let r = unsafeBitCast(px * scale + magic, to: SIMD8<UInt32>.self) & 0xFF
            let g = unsafeBitCast(py * scale + magic, to: SIMD8<UInt32>.self) & 0xFF
            let b = unsafeBitCast(pz * scale + magic, to: SIMD8<UInt32>.self) & 0xFF
            return r | (g &<< 8) | (b &<< 16) | 0xFF00_0000
        }
        var x = 0
        // Inside the row, eight at a time; its ends (and rows shorter than ten) one at a time.
        if nx >= 10 {
            x = 1
            while x + 8 < nx {
                let gx = T.load8(centre + x + 1) - T.load8(centre + x - 1)
                let gy = T.load8(above + x) - T.load8(below + x)
                let gz = T.load8(front + x) - T.load8(back + x)
                (target + 4 * x).storeBytes(of: encode(gx, gy, gz), as: SIMD8<UInt32>.self)
                x += 8
            }
        }
        func single(_ x: Int) {
            let gx = centre[min(x + 1, nx - 1)].floatValue - centre[max(x - 1, 0)].floatValue
            let gy = above[x].floatValue - below[x].floatValue, gz = front[x].floatValue - back[x].floatValue
            let word = encode(SIMD8(repeating: gx), SIMD8(repeating: gy), SIMD8(repeating: gz))[0]
            (target + 4 * x).storeBytes(of: word, as: UInt32.self)
        }
        if x > 0 { single(0) }
        for rest in x..<nx { single(rest) }
    }
}
