import CEGL
import Foundation
import VolumeCore

/// Renders surface meshes (opaque first, then translucent ones without depth writes) into an
/// offscreen framebuffer and reads the image back.
public final class SurfaceRenderer: @unchecked Sendable {
    public let context: GLContext
    private var program: GLuint = 0

    public init(context: GLContext, shaders: ShaderLibrary) throws(RenderingError) {
        self.context = context
        program = try context.perform { () throws(RenderingError) -> GLuint in
            try shaders.program(vertex: "mesh.vert", fragment: "mesh.frag")
        }
    }

    deinit {
        let program = self.program
        _ = try? context.perform { glDeleteProgram(program) }
    }

    /// One image of `meshes` seen by `camera`; `shift` moves the frustum sideways (off-axis
    /// stereo) and `eyeOffset` the eye along the camera's right vector, both in mm.
    public func render(_ meshes: [Mesh], camera: Camera, width: Int, height: Int,
                       background: RGBA = RGBA(0, 0, 0, 1), eyeOffset: Double = 0, shift: Double = 0)
        throws(RenderingError) -> RGBAImage {
        try render(meshes, camera: camera, width: width, height: height, background: background,
                   eyes: [(eyeOffset, shift)])[0]
    }

    /// Several images of the same meshes (the eyes of a stereo pair, frames of a turntable), with
    /// the meshes uploaded once: `eyes` lists (eye offset, frustum shift) per image.
    public func render(_ meshes: [Mesh], camera: Camera, width: Int, height: Int, background: RGBA = RGBA(0, 0, 0, 1),
                       eyes: [(offset: Double, shift: Double)]) throws(RenderingError) -> [RGBAImage] {
        try context.checkSize(width: width, height: height)
        return try render(upload(meshes), camera: camera, width: width, height: height, background: background, eyes: eyes)
    }

    /// Uploads meshes for several `render` calls (normals computed where missing).
    public func upload(_ meshes: [Mesh]) throws(RenderingError) -> UploadedMeshes {
        try UploadedMeshes(meshes, context: context)
    }

    /// Images of meshes uploaded before.
    public func render(_ meshes: UploadedMeshes, camera: Camera, width: Int, height: Int, background: RGBA = RGBA(0, 0, 0, 1),
                       eyes: [(offset: Double, shift: Double)]) throws(RenderingError) -> [RGBAImage] {
        try context.checkSize(width: width, height: height)
        let aspect = Double(width) / Double(height)
        let matrices = eyes.map { eye -> (Matrix4, Matrix4) in
            let eyeCamera = camera.shifted(by: eye.offset)
            return (eyeCamera.viewMatrix, eyeCamera.projectionMatrix(aspect: aspect, shift: eye.shift))
        }
        let uploaded = meshes.meshes
        return try context.perform { [self] () throws(RenderingError) -> [RGBAImage] in
            let target = try Framebuffer(width: width, height: height)
            defer { target.delete() }
            var images: [RGBAImage] = []
            for (view, projection) in matrices {
                glViewport(0, 0, GLsizei(width), GLsizei(height))
                glClearColor(Float(background.r), Float(background.g), Float(background.b), Float(background.a))
                glClear(GLbitfield(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT))
                glEnable(GLenum(GL_DEPTH_TEST))
                draw(uploaded, view: view, projection: projection, translucent: false)
                draw(uploaded, view: view, projection: projection, translucent: true)
                images.append(try target.read())
            }
            return images
        }
    }

    /// Draws the opaque meshes (depth written) or the translucent ones (blended, depth tested
    /// but not written) into the bound framebuffer (GL thread only).
    func draw(_ meshes: [UploadedMesh], view: Matrix4, projection: Matrix4, translucent: Bool) {
        let chosen = meshes.filter { ($0.color.a < 1) == translucent }
        guard !chosen.isEmpty else { return }
        glUseProgram(program)
        setMatrix(program, "modelViewProjection", projection * view)
        setMatrix(program, "modelView", view)
        glUniform1f(glGetUniformLocation(program, "ambient"), 0.25)
        glUniform1f(glGetUniformLocation(program, "specular"), 0.25)
        glUniform1f(glGetUniformLocation(program, "shininess"), 32)
        if translucent {
            glEnable(GLenum(GL_BLEND))
            glBlendFunc(GLenum(GL_SRC_ALPHA), GLenum(GL_ONE_MINUS_SRC_ALPHA))
            glDepthMask(GLboolean(GL_FALSE))
        }
        for mesh in chosen { mesh.draw(program) }
        if translucent {
            glDepthMask(GLboolean(GL_TRUE))
            glDisable(GLenum(GL_BLEND))
        }
    }

    private func setMatrix(_ program: GLuint, _ name: String, _ matrix: Matrix4) {
        glUniformMatrix4fv(glGetUniformLocation(program, name), 1, GLboolean(GL_FALSE), matrix.m)
    }

    /// Uploads one mesh: positions and normals interleaved, 32-bit indices (GL thread only).
    static func upload(_ mesh: Mesh) -> UploadedMesh {
        var interleaved = [Float]()
        interleaved.reserveCapacity(mesh.vertexCount * 6)
        for (p, n) in zip(mesh.positions, mesh.normals) { interleaved += [p.x, p.y, p.z, n.x, n.y, n.z] }
        var buffers = [GLuint](repeating: 0, count: 2), array: GLuint = 0
        glGenVertexArrays(1, &array)
        glBindVertexArray(array)
        glGenBuffers(2, &buffers)
        glBindBuffer(GLenum(GL_ARRAY_BUFFER), buffers[0])
        glBufferData(GLenum(GL_ARRAY_BUFFER), interleaved.count * 4, interleaved, GLenum(GL_STATIC_DRAW))
        glVertexAttribPointer(0, 3, GLenum(GL_FLOAT), GLboolean(GL_FALSE), 24, nil)
        glEnableVertexAttribArray(0)
        glVertexAttribPointer(1, 3, GLenum(GL_FLOAT), GLboolean(GL_FALSE), 24, UnsafeRawPointer(bitPattern: 12))
        glEnableVertexAttribArray(1)
        glBindBuffer(GLenum(GL_ELEMENT_ARRAY_BUFFER), buffers[1])
        glBufferData(GLenum(GL_ELEMENT_ARRAY_BUFFER), mesh.indices.count * 4, mesh.indices, GLenum(GL_STATIC_DRAW))
        glBindVertexArray(0)
        return UploadedMesh(array: array, buffers: buffers, count: mesh.indices.count, color: mesh.color)
    }
}

/// Meshes in GL buffers, freed with the object.
public final class UploadedMeshes: @unchecked Sendable {
    let context: GLContext
    let meshes: [UploadedMesh]
    public let triangles: Int

    init(_ meshes: [Mesh], context: GLContext) throws(RenderingError) {
        self.context = context
        let prepared = meshes.map { $0.normals.count == $0.vertexCount ? $0 : $0.withNormals() }
        triangles = meshes.reduce(0) { $0 + $1.triangleCount }
        self.meshes = try context.perform { prepared.map { SurfaceRenderer.upload($0) } }
    }

    deinit {
        let meshes = self.meshes
        _ = try? context.perform { meshes.forEach { $0.delete() } }
    }
}

/// A mesh in GL buffers (GL thread only).
struct UploadedMesh {
    let array: GLuint
    let buffers: [GLuint]
    let count: Int
    let color: RGBA

    func draw(_ program: GLuint) {
        guard count > 0 else { return }
        glUniform4f(glGetUniformLocation(program, "color"), Float(color.r), Float(color.g), Float(color.b), Float(color.a))
        glBindVertexArray(array)
        glDrawElements(GLenum(GL_TRIANGLES), GLsizei(count), GLenum(GL_UNSIGNED_INT), nil)
        glBindVertexArray(0)
    }

    func delete() {
        glDeleteBuffers(2, buffers)
        var a = array
        glDeleteVertexArrays(1, &a)
    }
}

/// A framebuffer whose depth (32-bit float) and optional RGBA8 colour are textures that later
/// passes sample (GL thread only).
struct TextureTarget {
    var framebuffer: GLuint = 0
    var depth: GLuint = 0
    var colour: GLuint = 0

    init(width: Int, height: Int, colour withColour: Bool) throws(RenderingError) {
        glGenFramebuffers(1, &framebuffer)
        glBindFramebuffer(GLenum(GL_FRAMEBUFFER), framebuffer)
        glGenTextures(1, &depth)
        glBindTexture(GLenum(GL_TEXTURE_2D), depth)
        glTexImage2D(GLenum(GL_TEXTURE_2D), 0, GL_DEPTH_COMPONENT32F, GLsizei(width), GLsizei(height), 0,
                     GLenum(GL_DEPTH_COMPONENT), GLenum(GL_FLOAT), nil)
        glFramebufferTexture2D(GLenum(GL_FRAMEBUFFER), GLenum(GL_DEPTH_ATTACHMENT), GLenum(GL_TEXTURE_2D), depth, 0)
        if withColour {
            glGenTextures(1, &colour)
            glBindTexture(GLenum(GL_TEXTURE_2D), colour)
            glTexImage2D(GLenum(GL_TEXTURE_2D), 0, GL_RGBA8, GLsizei(width), GLsizei(height), 0, GLenum(GL_RGBA),
                         GLenum(GL_UNSIGNED_BYTE), nil)
            glFramebufferTexture2D(GLenum(GL_FRAMEBUFFER), GLenum(GL_COLOR_ATTACHMENT0), GLenum(GL_TEXTURE_2D), colour, 0)
        } else {
            var none = GLenum(GL_NONE)
            glDrawBuffers(1, &none)
        }
        let status = glCheckFramebufferStatus(GLenum(GL_FRAMEBUFFER))
        guard status == GLenum(GL_FRAMEBUFFER_COMPLETE) else {
            delete()
            throw .framebuffer(reason: "incomplete texture target (status 0x\(String(status, radix: 16))) at \(width)×\(height)")
        }
    }

    func delete() {
        var f = framebuffer
        glDeleteFramebuffers(1, &f)
        var textures = [depth, colour].filter { $0 != 0 }
        glDeleteTextures(GLsizei(textures.count), &textures)
    }
}

/// An offscreen render target: RGBA8 colour and 24-bit depth renderbuffers (GL thread only).
struct Framebuffer {
    let width: Int, height: Int
    var framebuffer: GLuint = 0
    var renderbuffers = [GLuint](repeating: 0, count: 2)

    init(width: Int, height: Int) throws(RenderingError) {
        self.width = width
        self.height = height
        glGenFramebuffers(1, &framebuffer)
        glBindFramebuffer(GLenum(GL_FRAMEBUFFER), framebuffer)
        glGenRenderbuffers(2, &renderbuffers)
        glBindRenderbuffer(GLenum(GL_RENDERBUFFER), renderbuffers[0])
        glRenderbufferStorage(GLenum(GL_RENDERBUFFER), GLenum(GL_RGBA8), GLsizei(width), GLsizei(height))
        glFramebufferRenderbuffer(GLenum(GL_FRAMEBUFFER), GLenum(GL_COLOR_ATTACHMENT0), GLenum(GL_RENDERBUFFER), renderbuffers[0])
        glBindRenderbuffer(GLenum(GL_RENDERBUFFER), renderbuffers[1])
        glRenderbufferStorage(GLenum(GL_RENDERBUFFER), GLenum(GL_DEPTH_COMPONENT24), GLsizei(width), GLsizei(height))
        glFramebufferRenderbuffer(GLenum(GL_FRAMEBUFFER), GLenum(GL_DEPTH_ATTACHMENT), GLenum(GL_RENDERBUFFER), renderbuffers[1])
        let status = glCheckFramebufferStatus(GLenum(GL_FRAMEBUFFER))
        guard status == GLenum(GL_FRAMEBUFFER_COMPLETE) else {
            delete()
            throw .framebuffer(reason: "incomplete (status 0x\(String(status, radix: 16))) at \(width)×\(height)")
        }
    }

    func delete() {
        var f = framebuffer
        glDeleteFramebuffers(1, &f)
        glDeleteRenderbuffers(2, renderbuffers)
    }

    /// The pixels, rows flipped to top-to-bottom.
    func read() throws(RenderingError) -> RGBAImage {
        var raw = [UInt8](repeating: 0, count: width * height * 4)
        glPixelStorei(GLenum(GL_PACK_ALIGNMENT), 1)
        glReadPixels(0, 0, GLsizei(width), GLsizei(height), GLenum(GL_RGBA), GLenum(GL_UNSIGNED_BYTE), &raw)
        let error = glGetError()
        guard error == GLenum(GL_NO_ERROR) else { throw .framebuffer(reason: "glReadPixels failed (0x\(String(error, radix: 16)))") }
        var flipped = [UInt8](repeating: 0, count: raw.count)
        let row = width * 4
        for y in 0..<height {
            flipped.replaceSubrange((y * row)..<((y + 1) * row), with: raw[((height - 1 - y) * row)..<((height - y) * row)])
        }
        return RGBAImage(width: width, height: height, pixels: flipped)
    }
}
