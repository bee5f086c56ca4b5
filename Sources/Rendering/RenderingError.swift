/// What went wrong rendering; each case names what it concerns (a file, a size, a driver call).
public enum RenderingError: Error, Equatable, Sendable, CustomStringConvertible {
    case noDisplay(reason: String)
    case noContext(reason: String)
    case shaderDirectoryMissing(path: String)
    case shaderFileMissing(path: String)
    case shaderCompile(file: String, log: String)
    case programLink(files: String, log: String)
    case invalidSize(width: Int, height: Int, limit: Int)
    case framebuffer(reason: String)
    case pngWrite(path: String, reason: String)
    case pngRead(path: String, reason: String)
    case imageWrite(format: String, reason: String)
    case videoWrite(path: String, reason: String)
    case invalidParameter(name: String, reason: String)

    public var description: String {
        switch self {
        case .noDisplay(let reason): return "no EGL display: \(reason) (install Mesa's libegl-mesa0 and libgl1-mesa-dri)"
        case .noContext(let reason): return "no OpenGL ES 3 context: \(reason)"
        case .shaderDirectoryMissing(let path): return "\(path): shader directory not found"
        case .shaderFileMissing(let path): return "\(path): shader file not found"
        case .shaderCompile(let file, let log): return "\(file): shader does not compile: \(log)"
        case .programLink(let files, let log): return "\(files): program does not link: \(log)"
        case .invalidSize(let width, let height, let limit):
            return "image size \(width)×\(height) is not possible: each side must be 1…\(limit) pixels"
        case .framebuffer(let reason): return "framebuffer: \(reason)"
        case .pngWrite(let path, let reason): return "\(path): cannot write PNG: \(reason)"
        case .pngRead(let path, let reason): return "\(path): cannot read PNG: \(reason)"
        case .imageWrite(let format, let reason): return "cannot write \(format): \(reason)"
        case .videoWrite(let path, let reason): return "\(path): cannot write the video: \(reason)"
        case .invalidParameter(let name, let reason): return "\(name): \(reason)"
        }
    }
}
