/// Closed contours of a binary slice along its pixels' edges (RT Structure Sets draw a
/// structure as such polygons, one plane at a time), and the way back: the pixels a set of
/// contours encloses (even-odd, so that an inner contour is a hole).
public enum PlanarContours {
    /// A closed polygon in pixel coordinates: x along the columns, y along the rows, pixel
    /// (column c, row r) covering [c − 0.5, c + 0.5] × [r − 0.5, r + 0.5]. The first point is not
    /// repeated at the end; collinear points are left out.
    public typealias Contour = [SIMD2<Double>]

    /// The boundaries of the pixels where `inside(column, row)` holds, on a `columns` × `rows`
    /// slice: outer boundaries counter-clockwise and holes clockwise (in x right, y down: the
    /// inside on the left of each edge). Filling them even-odd gives back exactly those pixels.
    public static func trace(columns: Int, rows: Int, inside: (Int, Int) -> Bool) -> [Contour] {
        func at(_ c: Int, _ r: Int) -> Bool { c >= 0 && r >= 0 && c < columns && r < rows && inside(c, r) }
        // Directed edges between lattice corners (corner (i, j) is the top-left of pixel (i, j)),
        // keyed by their start; the inside pixel is on the edge's left (y down).
        var next: [Int: [Int]] = [:]
        let stride = columns + 1
        func corner(_ i: Int, _ j: Int) -> Int { j * stride + i }
        for r in 0..<rows {
            for c in 0..<columns where at(c, r) {
                // Top edge when the pixel above is outside: from its top-right to its top-left.
                if !at(c, r - 1) { next[corner(c + 1, r), default: []].append(corner(c, r)) }
                // Bottom: left to right.
                if !at(c, r + 1) { next[corner(c, r + 1), default: []].append(corner(c + 1, r + 1)) }
                // Left: top to bottom.
                if !at(c - 1, r) { next[corner(c, r), default: []].append(corner(c, r + 1)) }
                // Right: bottom to top.
                if !at(c + 1, r) { next[corner(c + 1, r + 1), default: []].append(corner(c + 1, r)) }
            }
        }
        var contours: [Contour] = []
        // Each corner with edges still to walk starts a loop (in raster order).
        for start in next.keys.sorted() {
            while let ends = next[start], let first = ends.first {
            var loop: [Int] = [start]
            var from = start, to = first
            while true {
                // Take the edge from→to.
                next[from]!.removeAll { $0 == to }
                if next[from]!.isEmpty { next[from] = nil }
                if to == start { break }
                loop.append(to)
                guard let choices = next[to], !choices.isEmpty else { break }
                // At a corner where two pixels touch diagonally, turn so as to keep the inside on the
                // left: of the two ways on, the one that turns left (counter-clockwise in y-down terms).
                let incoming = SIMD2(to % stride - from % stride, to / stride - from / stride)
                let pick = choices.min { a, b in
                    turn(incoming, SIMD2(a % stride - to % stride, a / stride - to / stride))
                        < turn(incoming, SIMD2(b % stride - to % stride, b / stride - to / stride))
                }!
                from = to
                to = pick
            }
            // Corners as points (pixel corner (i, j) at (i − 0.5, j − 0.5)), collinear ones left out.
            var points: Contour = []
            let n = loop.count
            for k in 0..<n {
                let p = loop[k], a = loop[(k + n - 1) % n], b = loop[(k + 1) % n]
                let d1 = SIMD2(p % stride - a % stride, p / stride - a / stride)
                let d2 = SIMD2(b % stride - p % stride, b / stride - p / stride)
                if d1 == d2 { continue }
                points.append(SIMD2(Double(p % stride) - 0.5, Double(p / stride) - 0.5))
            }
            if points.count >= 3 { contours.append(points) }
            }
        }
        return contours
    }

    /// How sharply `b` turns from `a` (unit grid steps): left turn 0, straight 1, right turn 2.
    private static func turn(_ a: SIMD2<Int>, _ b: SIMD2<Int>) -> Int {
        // In y-down coordinates a left turn of (dx, dy) is (dy, −dx).
        if b == SIMD2(a.y, -a.x) { return 0 }
        if b == a { return 1 }
        return 2
    }

    /// A traced contour moved inward by half a pixel: the polygon through the centres of its
    /// boundary pixels, as RT planning systems and OpenCV-based tools (rt-utils) draw and fill
    /// contours (each vertex moves along the inward normals of its two edges; a part one pixel
    /// wide becomes a line through its centres).
    public static func throughCentres(_ contour: Contour) -> Contour {
        let n = contour.count
        return (0..<n).map { k in
            let previous = contour[(k + n - 1) % n], point = contour[k], next = contour[(k + 1) % n]
            func inward(_ from: SIMD2<Double>, _ to: SIMD2<Double>) -> SIMD2<Double> {
                let d = to - from
                let length = (d.x * d.x + d.y * d.y).squareRoot()
                // The inside is on the left of each edge: in y-down terms, (dy, −dx)… turned to (d.y, −d.x).
                return length > 0 ? SIMD2(d.y / length, -d.x / length) : .zero
            }
            return point + (inward(previous, point) + inward(point, next)) * 0.5
        }
    }

    /// The pixels whose centres the contours enclose (even-odd over all of them), as a
    /// `columns` × `rows` mask (row-major); with `boundary`, also those whose centres lie on a
    /// contour (as contours drawn through boundary pixels' centres mean them). Points are in
    /// pixel coordinates.
    public static func fill(_ contours: [Contour], columns: Int, rows: Int, boundary: Bool = false) -> [Bool] {
        var mask = [Bool](repeating: false, count: columns * rows)
        if boundary {
            // Every pixel centre on an edge: the integer points of each segment, within 10⁻⁶ px.
            for contour in contours {
                let n = contour.count
                for k in 0..<n {
                    let a = contour[k], b = contour[(k + 1) % n]
                    let steps = Int(max(abs(b.x - a.x), abs(b.y - a.y)).rounded(.up)) * 4 + 1
                    for t in 0...steps {
                        let p = a + (b - a) * (Double(t) / Double(steps))
                        let c = p.x.rounded(), r = p.y.rounded()
                        guard abs(p.x - c) < 1e-6 || abs(p.y - r) < 1e-6 else { continue }
                        // The nearest centre, if it lies on the segment.
                        let ab = b - a, ap = SIMD2(c, r) - a
                        let cross = ab.x * ap.y - ab.y * ap.x
                        let length = (ab.x * ab.x + ab.y * ab.y).squareRoot()
                        guard length == 0 || abs(cross) / length < 1e-6 else { continue }
                        let (i, j) = (Int(c), Int(r))
                        if i >= 0, j >= 0, i < columns, j < rows { mask[j * columns + i] = true }
                    }
                }
            }
        }
        for r in 0..<rows {
            let y = Double(r)
            var crossings: [Double] = []
            for contour in contours {
                let n = contour.count
                for k in 0..<n {
                    let a = contour[k], b = contour[(k + 1) % n]
                    // Half-open rule: an edge counts when the row's centre line lies in [min y, max y).
                    if (a.y <= y && b.y > y) || (b.y <= y && a.y > y) {
                        crossings.append(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x))
                    }
                }
            }
            crossings.sort()
            var k = 0
            while k + 1 < crossings.count {
                let from = max(0, Int((crossings[k]).rounded(.up))), to = min(columns - 1, Int((crossings[k + 1]).rounded(.down)))
                if from <= to { for c in from...to where Double(c) >= crossings[k] && Double(c) <= crossings[k + 1] { mask[r * columns + c] = true } }
                k += 2
            }
        }
        return mask
    }
}
