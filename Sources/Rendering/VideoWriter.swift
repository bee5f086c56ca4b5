import CVideo
import Foundation

/// Writes RGBA frames as an H.264 MP4 (High profile, 4:2:0, BT.709, index at the front) through
/// Debian's FFmpeg libraries and libx264: a file that browsers, phones and 3D televisions play.
/// Frames are appended in order; `finish` must be called for a playable file. A writer that is
/// dropped unfinished removes its partial file.
public final class VideoWriter {
    public struct Options: Sendable {
        public var framesPerSecond = 24
        /// x264's constant rate factor: 0 lossless … 51; 18 is visually lossless.
        public var quality = 18
        /// x264's speed preset.
        public var preset = "veryfast"
        public init() {}
    }

    public let url: URL
    public let width: Int
    public let height: Int
    public private(set) var frames = 0
    private var writer: OpaquePointer?

    /// What encodes ("libavcodec 59.37.100, libx264").
    public static var encoder: String { String(cString: cvid_version()) }

    public init(url: URL, width: Int, height: Int, options: Options = Options()) throws(RenderingError) {
        (self.url, self.width, self.height) = (url, width, height)
        var message = [CChar](repeating: 0, count: 256)
        var settings = cvid_options(width: Int32(clamping: width), height: Int32(clamping: height),
                                    fps: Int32(clamping: options.framesPerSecond), crf: Int32(clamping: options.quality), preset: nil)
        let status = options.preset.withCString { preset in
            settings.preset = preset
            return cvid_open(url.path, &settings, &writer, &message, message.count)
        }
        guard status == CVID_OK, writer != nil else {
            try? FileManager.default.removeItem(at: url)
            throw .videoWrite(path: url.path, reason: String(cString: message))
        }
    }

    deinit {
        if let writer {
            cvid_abandon(writer)
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Appends a frame of the writer's size (its alpha is ignored: a video is opaque).
    public func append(_ image: RGBAImage) throws(RenderingError) {
        guard let writer else { throw .videoWrite(path: url.path, reason: "the video is already finished") }
        guard image.width == width, image.height == height else {
            throw .videoWrite(path: url.path, reason: "frame \(frames + 1) is \(image.width)×\(image.height), the video \(width)×\(height)")
        }
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            cvid_write_rgba(writer, pixels.baseAddress, width * 4, &message, message.count)
        }
        guard status == CVID_OK else { throw .videoWrite(path: url.path, reason: String(cString: message)) }
        frames += 1
    }

    /// Flushes the encoder and closes the file.
    public func finish() throws(RenderingError) {
        guard let writer else { return }
        self.writer = nil
        var message = [CChar](repeating: 0, count: 256)
        guard cvid_finish(writer, &message, message.count) == CVID_OK else {
            try? FileManager.default.removeItem(at: url)
            throw .videoWrite(path: url.path, reason: String(cString: message))
        }
    }
}
