import CEGL
import Foundation

/// GLSL sources read from a directory at run time (one file per stage), compiled and linked on
/// the GL thread; errors name the file and carry the driver's log (with line numbers).
public struct ShaderLibrary: Sendable {
    public let directory: URL

    /// `directory`, else `$VRPREP_SHADERS`, else a `Shaders` folder next to the executable or in
    /// one of its parent folders (a build tree or an install prefix), else `./Shaders`.
    public init(directory: URL? = nil) throws(RenderingError) {
        if let directory {
            guard Self.isDirectory(directory) else { throw .shaderDirectoryMissing(path: directory.path) }
            self.directory = directory
            return
        }
        if let env = ProcessInfo.processInfo.environment["VRPREP_SHADERS"] {
            let url = URL(fileURLWithPath: env)
            guard Self.isDirectory(url) else { throw .shaderDirectoryMissing(path: env) }
            self.directory = url
            return
        }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<8 {
            for candidate in [folder.appendingPathComponent("Shaders"), folder.appendingPathComponent("share/vrprep/Shaders")]
            where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("mesh.vert").path) {
                self.directory = candidate
                return
            }
            folder.deleteLastPathComponent()
        }
        let local = URL(fileURLWithPath: "Shaders")
        guard Self.isDirectory(local) else {
            throw .shaderDirectoryMissing(path: "Shaders (set VRPREP_SHADERS to the folder of the .vert/.frag files)")
        }
        self.directory = local
    }

    private static func isDirectory(_ url: URL) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &folder) && folder.boolValue
    }

    /// Every program of the renderer: (vertex file, fragment file).
    public static let programs: [(String, String)] = [
        ("mesh.vert", "mesh.frag"), ("volume.vert", "volume.frag"), ("bricks.vert", "depth.frag"), ("volume.vert", "slice.frag"),
    ]

    func source(_ name: String) throws(RenderingError) -> String {
        let url = directory.appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw .shaderFileMissing(path: url.path) }
        return text
    }

    /// Compiles and links a program (call on the GL thread); `defines` are macros set in the
    /// fragment stage (`#define NAME`), for variants that must not branch at run time (llvmpipe
    /// runs both sides of a branch on a uniform).
    func program(vertex: String, fragment: String, defines: [String] = []) throws(RenderingError) -> GLuint {
        let vs = try compile(vertex, GLenum(GL_VERTEX_SHADER))
        defer { glDeleteShader(vs) }
        let fs = try compile(fragment, GLenum(GL_FRAGMENT_SHADER), defines: defines)
        defer { glDeleteShader(fs) }
        let program = glCreateProgram()
        glAttachShader(program, vs)
        glAttachShader(program, fs)
        glLinkProgram(program)
        var status: GLint = 0
        glGetProgramiv(program, GLenum(GL_LINK_STATUS), &status)
        guard status == GL_TRUE else {
            let log = infoLog(program, glGetProgramiv, glGetProgramInfoLog)
            glDeleteProgram(program)
            throw .programLink(files: "\(vertex) + \(fragment)", log: log)
        }
        return program
    }

    private func compile(_ name: String, _ stage: GLenum, defines: [String] = []) throws(RenderingError) -> GLuint {
        var text = try source(name)
        if !defines.isEmpty, let end = text.firstIndex(of: "\n") {
            // After the #version line, which must come first; #line keeps the driver's line numbers those of the file.
            text.insert(contentsOf: "\n" + defines.map { "#define \($0)\n" }.joined() + "#line 2", at: end)
        }
        let shader = glCreateShader(stage)
        text.withCString { pointer in
            var source: UnsafePointer<GLchar>? = pointer
            glShaderSource(shader, 1, &source, nil)
        }
        glCompileShader(shader)
        var status: GLint = 0
        glGetShaderiv(shader, GLenum(GL_COMPILE_STATUS), &status)
        guard status == GL_TRUE else {
            let log = infoLog(shader, glGetShaderiv, glGetShaderInfoLog)
            glDeleteShader(shader)
            throw .shaderCompile(file: directory.appendingPathComponent(name).path, log: log)
        }
        return shader
    }

    private func infoLog(_ object: GLuint, _ parameter: (GLuint, GLenum, UnsafeMutablePointer<GLint>?) -> Void,
                         _ read: (GLuint, GLsizei, UnsafeMutablePointer<GLsizei>?, UnsafeMutablePointer<GLchar>?) -> Void) -> String {
        var length: GLint = 0
        parameter(object, GLenum(GL_INFO_LOG_LENGTH), &length)
        var buffer = [GLchar](repeating: 0, count: Int(max(length, 1)) + 1)
        read(object, GLsizei(buffer.count), nil, &buffer)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
