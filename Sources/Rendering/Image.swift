import CPNG
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
        var size = 0
        // First call: the size needed; second: the bytes.
        let sized = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard sized != 0, size > 0 else { throw .pngWrite(path: "(memory)", reason: "libpng could not size the image") }
        var out = Data(count: size)
        let written = out.withUnsafeMutableBytes { target in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, target.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw .pngWrite(path: "(memory)", reason: message)
        }
        return out.prefix(size)
    }
}
