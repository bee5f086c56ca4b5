import CFreeType
import Foundation
import VolumeCore

/// A font face (FreeType 2) that draws text into an `RGBAImage`: anti-aliased glyphs blended over
/// what is there. One face per object; not thread-safe (one caller at a time).
public final class FontFace {
    private var library: FT_Library?
    private var face: FT_Face?
    public let path: String

    /// The fonts tried, in order, when none is named: Noto Sans CJK (Debian's fonts-noto-cjk; its
    /// face 0 is the Japanese one, and it holds Latin too), then DejaVu Sans (Latin only).
    public static let searchPath: [(path: String, index: Int, japanese: Bool)] = [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0, true),
        ("/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf", 0, true),
        ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, false),
    ]

    /// The first font of `searchPath` that exists (`VRPREP_FONT` first, when set), able to write
    /// Japanese when `japanese`.
    public static func standard(japanese: Bool) throws(RenderingError) -> FontFace {
        if let named = ProcessInfo.processInfo.environment["VRPREP_FONT"], !named.isEmpty {
            return try FontFace(path: named)
        }
        for candidate in searchPath where (candidate.japanese || !japanese) && FileManager.default.fileExists(atPath: candidate.path) {
            return try FontFace(path: candidate.path, index: candidate.index)
        }
        throw .invalidParameter(name: "font", reason: japanese
            ? "no font with Japanese glyphs: install Debian's fonts-noto-cjk (or name one with VRPREP_FONT)"
            : "no font found: install Debian's fonts-noto-cjk or fonts-dejavu-core (or name one with VRPREP_FONT)")
    }

    public init(path: String, index: Int = 0) throws(RenderingError) {
        self.path = path
        guard FT_Init_FreeType(&library) == 0, let library else { throw .invalidParameter(name: path, reason: "FreeType did not start") }
        guard FT_New_Face(library, path, index, &face) == 0, face != nil else {
            FT_Done_FreeType(library)
            self.library = nil
            throw .invalidParameter(name: path, reason: "not a font FreeType can read")
        }
    }

    deinit {
        if let face { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// Whether the face has a glyph for every character of `text` (else those show as boxes).
    public func covers(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.isWhitespace || FT_Get_Char_Index(face, FT_ULong($0.value)) != 0 }
    }

    /// Width in pixels and the line's ascent and descent at `pixels` per em.
    public func measure(_ text: String, pixels: Int) -> (width: Int, ascent: Int, descent: Int) {
        guard let face else { return (0, 0, 0) }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixels))
        var width = 0
        for scalar in text.unicodeScalars where FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_DEFAULT)) == 0 {
            width += Int(face.pointee.glyph.pointee.advance.x >> 6)
        }
        let metrics = face.pointee.size.pointee.metrics
        return (width, Int(metrics.ascender >> 6), Int(-metrics.descender >> 6))
    }

    /// Draws `text` with its baseline at row `baseline`, starting at column `x`; returns the column after it.
    @discardableResult
    public func draw(_ text: String, into image: inout RGBAImage, x: Int, baseline: Int, pixels: Int, color: RGBA) -> Int {
        guard let face else { return x }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixels))
        var pen = x
        let ink = SIMD3<Double>(color.r, color.g, color.b) * 255
        for scalar in text.unicodeScalars {
            guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_RENDER)) == 0 else { continue }
            let glyph = face.pointee.glyph.pointee
            let bitmap = glyph.bitmap
            let left = pen + Int(glyph.bitmap_left), top = baseline - Int(glyph.bitmap_top)
            if let buffer = bitmap.buffer, bitmap.pixel_mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue) {
                for row in 0..<Int(bitmap.rows) {
                    let y = top + row
                    guard y >= 0, y < image.height else { continue }
                    for column in 0..<Int(bitmap.width) {
                        let px = left + column
                        guard px >= 0, px < image.width else { continue }
                        let coverage = Double(buffer[row * Int(bitmap.pitch) + column]) / 255 * color.a
                        guard coverage > 0 else { continue }
                        let i = (y * image.width + px) * 4
                        for c in 0..<3 {
                            image.pixels[i + c] = UInt8((Double(image.pixels[i + c]) * (1 - coverage) + ink[c] * coverage).rounded())
                        }
                        image.pixels[i + 3] = 255
                    }
                }
            }
            pen += Int(glyph.advance.x >> 6)
        }
        return pen
    }
}

extension RGBAImage {
    /// A rectangle blended over the image (clipped to it).
    public mutating func fill(x: Int, y: Int, width: Int, height: Int, color: RGBA) {
        let ink = SIMD3<Double>(color.r, color.g, color.b) * 255
        let (top, bottom, left, right) = (max(0, y), min(self.height, y + height), max(0, x), min(self.width, x + width))
        guard top < bottom, left < right else { return }  // wholly outside (or empty)
        for row in top..<bottom {
            for column in left..<right {
                let i = (row * self.width + column) * 4
                for c in 0..<3 { pixels[i + c] = UInt8((Double(pixels[i + c]) * (1 - color.a) + ink[c] * color.a).rounded()) }
                pixels[i + 3] = 255
            }
        }
    }

    /// A line of `thickness` pixels from (x0, y0) to (x1, y1).
    public mutating func line(from a: SIMD2<Double>, to b: SIMD2<Double>, thickness: Int, color: RGBA) {
        let d = b - a
        let steps = max(1, Int((d.x * d.x + d.y * d.y).squareRoot().rounded(.up)))
        for step in 0...steps {
            let p = a + (b - a) * (Double(step) / Double(steps))
            fill(x: Int(p.x) - thickness / 2, y: Int(p.y) - thickness / 2, width: thickness, height: thickness, color: color)
        }
    }
}
