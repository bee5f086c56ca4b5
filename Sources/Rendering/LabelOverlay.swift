import Foundation
import VolumeCore

/// Names drawn over a render, for a patient or an audience: a legend (each structure's colour,
/// name and volume) in the top left corner, and a leader line from each structure to its name at
/// the nearer side of the picture. The words come translated from the caller; the glyphs from a
/// `FontFace`.
public enum LabelOverlay {
    public struct Item: Sendable {
        public var name: String
        public var color: RGBA
        /// Shown after the name ("12.3 mL"); nil: no volume.
        public var volumeML: Double?
        /// Surface points (LPS mm) of the structure: the leader line ends on the one nearest the
        /// middle of the structure on screen, in front.
        public var points: [SIMD3<Float>]

        public init(name: String, color: RGBA, volumeML: Double?, points: [SIMD3<Float>]) {
            (self.name, self.color, self.volumeML, self.points) = (name, color, volumeML, points)
        }
    }

    /// Text size in pixels per em for an image of this height.
    public static func textPixels(height: Int) -> Int { max(12, height / 36) }

    /// Where a point lands on the image (pixels, top row 0) and its depth (NDC), or nil behind the camera.
    static func project(_ p: SIMD3<Float>, _ matrix: Matrix4, width: Int, height: Int) -> (x: Double, y: Double, depth: Double)? {
        let m = matrix.m
        let v = [Float(p.x), Float(p.y), Float(p.z), 1]
        var clip = [Float](repeating: 0, count: 4)
        for row in 0..<4 { clip[row] = (0..<4).reduce(0) { $0 + m[$1 * 4 + row] * v[$1] } }
        guard clip[3] > 1e-6 else { return nil }
        let (x, y, z) = (Double(clip[0] / clip[3]), Double(clip[1] / clip[3]), Double(clip[2] / clip[3]))
        return ((x + 1) / 2 * Double(width), (1 - y) / 2 * Double(height), z)
    }

    /// The anchor of an item on screen: among its points that land near the middle of their
    /// projections, the one in front; nil when none is in the picture.
    static func anchor(_ points: [SIMD3<Float>], _ matrix: Matrix4, width: Int, height: Int) -> SIMD2<Double>? {
        let step = max(1, points.count / 20_000)
        var projected: [(x: Double, y: Double, depth: Double)] = []
        for index in stride(from: 0, to: points.count, by: step) {
            if let p = project(points[index], matrix, width: width, height: height),
               p.x >= 0, p.y >= 0, p.x < Double(width), p.y < Double(height) { projected.append(p) }
        }
        guard !projected.isEmpty else { return nil }
        let cx = projected.reduce(0) { $0 + $1.x } / Double(projected.count)
        let cy = projected.reduce(0) { $0 + $1.y } / Double(projected.count)
        let radius = Double(max(width, height)) * 0.03
        let near = projected.filter { ($0.x - cx) * ($0.x - cx) + ($0.y - cy) * ($0.y - cy) <= radius * radius }
        let chosen = near.min { $0.depth < $1.depth }
            ?? projected.min { ($0.x - cx) * ($0.x - cx) + ($0.y - cy) * ($0.y - cy) < ($1.x - cx) * ($1.x - cx) + ($1.y - cy) * ($1.y - cy) }!
        return SIMD2(chosen.x, chosen.y)
    }

    /// "12.3 mL" (one decimal under 100 mL, none above).
    public static func volumeText(_ ml: Double) -> String {
        ml < 100 ? String(format: "%.1f mL", ml) : String(format: "%.0f mL", ml)
    }

    /// Draws the legend and the leader labels of `items` over `image`, seen by `camera`.
    public static func draw(_ items: [Item], on image: inout RGBAImage, camera: Camera, font: FontFace) {
        guard !items.isEmpty else { return }
        let (width, height) = (image.width, image.height)
        let pixels = textPixels(height: height)
        let metrics = font.measure("Mg", pixels: pixels)
        let line = metrics.ascent + metrics.descent + pixels / 3
        let margin = pixels / 2
        let panel = RGBA(0, 0, 0, 0.6), white = RGBA(1, 1, 1)
        let texts = items.map { item in item.name + (item.volumeML.map { "  " + volumeText($0) } ?? "") }

        // The legend: a swatch and the text per structure, on a dark panel.
        let legendWidth = (texts.map { font.measure($0, pixels: pixels).width }.max() ?? 0) + pixels + 3 * margin
        image.fill(x: margin, y: margin, width: legendWidth, height: items.count * line + margin, color: panel)
        for (row, item) in items.enumerated() {
            let top = margin + margin / 2 + row * line
            var swatch = item.color
            swatch.a = 1
            image.fill(x: 2 * margin, y: top + (line - pixels) / 2, width: pixels - 2, height: pixels - 2, color: swatch)
            font.draw(texts[row], into: &image, x: 2 * margin + pixels + margin / 2, baseline: top + metrics.ascent + (line - metrics.ascent - metrics.descent) / 2,
                      pixels: pixels, color: white)
        }

        // Leader labels, on the side nearer each structure, below the legend, kept apart.
        let matrix = camera.projectionMatrix(aspect: Double(width) / Double(height)) * camera.viewMatrix
        let legendBottom = margin + items.count * line + margin
        var placed: [(left: Bool, y: Double)] = []
        let anchored = items.enumerated().compactMap { index, item -> (Int, SIMD2<Double>)? in
            anchor(item.points, matrix, width: width, height: height).map { (index, $0) }
        }.sorted { $0.1.y < $1.1.y }
        for (index, point) in anchored {
            let left = point.x < Double(width) / 2
            let label = items[index].name
            let textWidth = font.measure(label, pixels: pixels).width
            var y = min(max(point.y, Double(legendBottom + line)), Double(height - margin - metrics.descent))
            while placed.contains(where: { $0.left == left && abs($0.y - y) < Double(line) }) { y += Double(line) }
            placed.append((left, y))
            let textX = left ? margin * 2 : width - margin * 2 - textWidth
            let end = SIMD2<Double>(left ? Double(textX + textWidth + margin) : Double(textX - margin), y - Double(metrics.ascent) / 3)
            var color = items[index].color
            color.a = 1
            image.line(from: end, to: point, thickness: max(2, pixels / 8), color: white)
            image.fill(x: Int(point.x) - pixels / 5, y: Int(point.y) - pixels / 5, width: 2 * (pixels / 5) + 1, height: 2 * (pixels / 5) + 1, color: color)
            image.fill(x: textX - margin / 2, y: Int(y) - metrics.ascent - margin / 2, width: textWidth + margin,
                       height: metrics.ascent + metrics.descent + margin, color: panel)
            font.draw(label, into: &image, x: textX, baseline: Int(y), pixels: pixels, color: white)
        }
    }
}
