import CEGL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's EGL display and one OpenGL ES 3 context, owned by one thread for its whole
/// life: every GL call goes through `perform`, which runs it on that thread. Headless: Mesa's
/// surfaceless platform (no X server, no /dev/dri needed); an NVIDIA EGL driver works the same way.
public final class GLContext: @unchecked Sendable {
    private let thread: RenderThread
    private var display: EGLDisplay?
    private var context: EGLContext?
    public private(set) var renderer = ""
    public private(set) var version = ""
    public private(set) var maxSize = 0
    public private(set) var max3DTextureSize = 0
    /// The driver's OpenGL ES extensions.
    public private(set) var extensions: Set<String> = []

    /// Creates the context on a new thread. Throws when no display or context can be had.
    public init() throws(RenderingError) {
        thread = RenderThread()
        let outcome: Result<Void, RenderingError> = thread.run { [self] in
            do throws(RenderingError) {
                try self.create()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try outcome.get()
    }

    deinit {
        let (display, context) = (self.display, self.context)
        thread.run {
            if let display, let context {
                eglMakeCurrent(display, nil, nil, nil)
                eglDestroyContext(display, context)
            }
        }
        thread.stop()
    }

    /// Refuses image sizes the driver cannot hold (each side 1…maxSize pixels).
    public func checkSize(width: Int, height: Int) throws(RenderingError) {
        guard width >= 1, height >= 1, width <= maxSize, height <= maxSize else {
            throw .invalidSize(width: width, height: height, limit: maxSize)
        }
    }

    /// Runs `body` on the context's thread, with the context current, and waits for it.
    public func perform<T>(_ body: @escaping () throws(RenderingError) -> T) throws(RenderingError) -> T {
        let result: Result<T, RenderingError> = thread.run {
            do throws(RenderingError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func create() throws(RenderingError) {
        let display = try Self.sharedDisplay()
        guard eglBindAPI(EGLenum(EGL_OPENGL_ES_API)) == EGLBoolean(EGL_TRUE) else {
            throw .noContext(reason: "eglBindAPI(OpenGL ES) failed (0x\(String(eglGetError(), radix: 16)))")
        }
        let attributes: [EGLint] = [EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 1, EGL_NONE]
        // EGL_KHR_no_config_context: no config, no surface; rendering goes to framebuffer objects.
        guard let context = eglCreateContext(display, nil, nil, attributes) else {
            throw .noContext(reason: "eglCreateContext failed (0x\(String(eglGetError(), radix: 16)))")
        }
        guard eglMakeCurrent(display, nil, nil, context) == EGLBoolean(EGL_TRUE) else {
            eglDestroyContext(display, context)
            throw .noContext(reason: "eglMakeCurrent failed (0x\(String(eglGetError(), radix: 16)))")
        }
        self.display = display
        self.context = context
        renderer = glString(GL_RENDERER)
        version = glString(GL_VERSION)
        var value: GLint = 0
        glGetIntegerv(GLenum(GL_MAX_RENDERBUFFER_SIZE), &value)
        maxSize = Int(value)
        glGetIntegerv(GLenum(GL_MAX_3D_TEXTURE_SIZE), &value)
        max3DTextureSize = Int(value)
        glGetIntegerv(GLenum(GL_NUM_EXTENSIONS), &value)
        for i in 0..<max(0, value) {
            if let name = glGetStringi(GLenum(GL_EXTENSIONS), GLuint(i)) { extensions.insert(String(cString: name)) }
        }
    }

    private func glString(_ name: Int32) -> String {
        guard let pointer = glGetString(GLenum(name)) else { return "" }
        return String(cString: pointer)
    }

    // One display per process, initialised once and never terminated (PLATFORM.md).
    private static let displayLock = NSLock()
    nonisolated(unsafe) private static var display: EGLDisplay?

    private static func sharedDisplay() throws(RenderingError) -> EGLDisplay {
        displayLock.lock()
        defer { displayLock.unlock() }
        if let display { return display }
        // EGL_PLATFORM_SURFACELESS_MESA through the core EGL 1.5 call; else the default display.
        var candidate = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_SURFACELESS_MESA), nil, nil)
        if candidate == nil { candidate = eglGetDisplay(nil) }
        guard let found = candidate else {
            throw .noDisplay(reason: "eglGetPlatformDisplay(surfaceless) and eglGetDisplay returned none")
        }
        var major: EGLint = 0, minor: EGLint = 0
        guard eglInitialize(found, &major, &minor) == EGLBoolean(EGL_TRUE) else {
            throw .noDisplay(reason: "eglInitialize failed (0x\(String(eglGetError(), radix: 16)))")
        }
        display = found
        return found
    }
}

/// A thread that runs submitted closures one at a time (the owner of a GL context). A POSIX
/// thread, so that `stop` can join it: a render thread still exiting while the process exits
/// raced the libraries' exit handlers and corrupted the heap (a crash at exit, under load).
final class RenderThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var handle: pthread_t = 0

    init() {
        let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)
        defer { attributes.deallocate() }
        pthread_attr_init(attributes)
        pthread_attr_setstacksize(attributes, 8 << 20)
        let me = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&handle, attributes, { raw in
            let thread = Unmanaged<RenderThread>.fromOpaque(raw!).takeRetainedValue()
            thread.loop()
            return nil
        }, me)
        pthread_attr_destroy(attributes)
        precondition(created == 0, "cannot start the render thread (pthread_create: \(created))")
    }

    private var isCurrent: Bool { pthread_equal(pthread_self(), handle) != 0 }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the thread and waits for its result. Called from the thread itself (a
    /// renderer released inside a job, whose deinit frees GL objects), it runs inline.
    func run<T>(_ body: @escaping () -> T) -> T {
        if isCurrent { return body() }
        var result: T?
        let done = DispatchSemaphore(value: 0)
        // What `body` holds is let go here, on this thread, before the caller goes on: were the
        // caller to drop its own references first, the last one (a renderer, its context) would
        // go on the render thread, which would then end itself detached while the process exits.
        var pending: (() -> T)? = body
        condition.lock()
        jobs.append {
            result = pending!()
            pending = nil
            done.signal()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        return result!
    }

    /// Ends the thread once its jobs are done and waits until it has exited (detaches it instead
    /// when called from the thread itself).
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        if isCurrent {
            pthread_detach(handle)
        } else {
            pthread_join(handle, nil)
        }
    }
}
