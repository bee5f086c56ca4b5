import CPNG
import CWebP
import Foundation

/// An RGBA image, 8 bits per channel, rows top to bottom.
public struct RGBAImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 4)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public func pixel(_ x: Int, _ y: Int) -> SIMD4<UInt8> {
        let i = (y * width + x) * 4
        return SIMD4(pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
    }

    /// Writes a PNG through libpng's simplified API (no text chunks, nothing but pixels).
    public func writePNG(to url: URL) throws(RenderingError) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // RGBA
        let ok = pixels.withUnsafeBytes { raw in
            url.path.withCString { path in
                png_image_write_to_file(&image, path, 0, raw.baseAddress, Int32(width * 4), nil)
            }
        }
        guard ok != 0 else {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            png_image_free(&image)
            throw .pngWrite(path: url.path, reason: message)
        }
    }

    /// The image as PNG bytes (libpng's simplified API, in memory; pixels only, no text chunks).
    public func pngData() throws(RenderingError) -> Data {
        try PNG.encode(pixels, width: width, height: height, channels: 4)
    }

    /// Reads a PNG as RGBA (libpng's simplified API converts any colour type).
    public static func readPNG(from url: URL) throws(RenderingError) -> RGBAImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let opened = url.path.withCString { png_image_begin_read_from_file(&image, $0) }
        func message() -> String { withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        guard opened != 0 else { throw .pngRead(path: url.path, reason: message()) }
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        let (width, height) = (Int(image.width), Int(image.height))
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            png_image_free(&image)
            throw .pngRead(path: url.path, reason: "absurd size \(width)×\(height)")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        let done = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 4), nil) }
        guard done != 0 else {
            let reason = message()
            png_image_free(&image)
            throw .pngRead(path: url.path, reason: reason)
        }
        return RGBAImage(width: width, height: height, pixels: pixels)
    }
}

/// PNG encoding in memory through libpng's simplified API: grey (1 channel), RGB (3) or RGBA (4).
public enum PNG {
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws(RenderingError) -> Data {
        guard [1, 3, 4].contains(channels), width > 0, height > 0, pixels.count == width * height * channels else {
            throw .pngWrite(path: "(memory)", reason: "\(pixels.count) bytes are not \(width)×\(height) pixels of \(channels) channel(s)")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(channels == 1 ? 0 : channels == 3 ? PNG_FORMAT_FLAG_COLOR : PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        let stride = Int32(width * channels)
        // One pass into a buffer that holds any PNG of these pixels (the raw rows with their filter
        // bytes, zlib's stored-block overhead, the chunks): libpng compresses once. When it does
        // not fit (it always should), libpng says how much it needs and the second pass uses that.
        var size = (width * channels + 1) * height
        size += size / 64 + 4096
        for _ in 0..<2 {
            var out = Data(count: size)
            let capacity = size
            let written = out.withUnsafeMutableBytes { target in
                pixels.withUnsafeBytes { png_image_write_to_memory(&image, target.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
            }
            if written != 0 { return out.prefix(size) }
            guard size > capacity else {
                let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                png_image_free(&image)
                throw .pngWrite(path: "(memory)", reason: message)
            }
            image.warning_or_error = 0
        }
        throw .pngWrite(path: "(memory)", reason: "libpng asked for more room twice")
    }
}

/// Lossy WebP in memory through libwebp (grey or RGB pixels; grey is sent as RGB, which WebP
/// keeps as its luma): the workstation's slices while the clinician scrolls, a fifth of the PNG's
/// size on noisy CT at quality 95 in a third of its time.
public enum WebP {
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Float) throws(RenderingError) -> Data {
        guard [1, 3].contains(channels), width > 0, height > 0, width <= Int(WEBP_MAX_DIMENSION), height <= Int(WEBP_MAX_DIMENSION),
              pixels.count == width * height * channels else {
            throw .imageWrite(format: "WebP", reason: "\(pixels.count) bytes are not \(width)×\(height) pixels of \(channels) channel(s) (at most \(WEBP_MAX_DIMENSION) a side)")
        }
        guard (0...100).contains(quality) else { throw .invalidParameter(name: "quality", reason: "\(quality) is not 0…100") }
        var config = WebPConfig()
        guard WebPConfigInitInternal(&config, WEBP_PRESET_DEFAULT, quality, WEBP_ENCODER_ABI_VERSION) != 0 else {
            throw .imageWrite(format: "WebP", reason: "libwebp's version does not match its header")
        }
        // Method 2 of 0 (fastest) … 6: at quality 95 on 512 × 432 slices, 11 ms and within 2 % of
        // method 4's size (method 4: 21 ms).
        config.method = 2
        var picture = WebPPicture()
        guard WebPPictureInitInternal(&picture, WEBP_ENCODER_ABI_VERSION) != 0 else {
            throw .imageWrite(format: "WebP", reason: "libwebp's version does not match its header")
        }
        defer { WebPPictureFree(&picture) }
        picture.width = Int32(width)
        picture.height = Int32(height)
        let rgb: [UInt8]
        if channels == 3 {
            rgb = pixels
        } else {
            rgb = [UInt8](unsafeUninitializedCapacity: pixels.count * 3) { buffer, count in
                for (i, grey) in pixels.enumerated() { buffer[3 * i] = grey; buffer[3 * i + 1] = grey; buffer[3 * i + 2] = grey }
                count = pixels.count * 3
            }
        }
        guard rgb.withUnsafeBufferPointer({ WebPPictureImportRGB(&picture, $0.baseAddress, Int32(width * 3)) }) != 0 else {
            throw .imageWrite(format: "WebP", reason: "out of memory importing \(width)×\(height) pixels")
        }
        var writer = WebPMemoryWriter()
        WebPMemoryWriterInit(&writer)
        defer { WebPMemoryWriterClear(&writer) }
        let encoded = withUnsafeMutablePointer(to: &writer) { pointer in
            picture.writer = WebPMemoryWrite
            picture.custom_ptr = UnsafeMutableRawPointer(pointer)
            return WebPEncode(&config, &picture)
        }
        guard encoded != 0, let bytes = writer.mem else {
            throw .imageWrite(format: "WebP", reason: "libwebp error \(picture.error_code.rawValue)")
        }
        return Data(bytes: bytes, count: writer.size)
    }
}
