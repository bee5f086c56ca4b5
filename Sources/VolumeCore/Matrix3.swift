/// A 3×3 matrix of doubles, stored row-major. Small and explicit on purpose: the
/// geometry code needs products, transposes and inverses of direction matrices only.
public struct Matrix3: Equatable, Sendable, CustomStringConvertible {
    /// Rows of the matrix.
    public var rows: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)

    public init(rows r0: SIMD3<Double>, _ r1: SIMD3<Double>, _ r2: SIMD3<Double>) {
        rows = (r0, r1, r2)
    }

    /// A matrix whose columns are the three given vectors.
    public init(columns c0: SIMD3<Double>, _ c1: SIMD3<Double>, _ c2: SIMD3<Double>) {
        rows = (SIMD3(c0.x, c1.x, c2.x), SIMD3(c0.y, c1.y, c2.y), SIMD3(c0.z, c1.z, c2.z))
    }

    /// Nine numbers in row-major order (the order ITK's and SimpleITK's GetDirection use).
    public init?(rowMajor values: [Double]) {
        guard values.count == 9 else { return nil }
        self.init(rows: SIMD3(values[0], values[1], values[2]),
                  SIMD3(values[3], values[4], values[5]),
                  SIMD3(values[6], values[7], values[8]))
    }

    public static let identity = Matrix3(rows: SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1))

    public var rowMajor: [Double] {
        [rows.0.x, rows.0.y, rows.0.z, rows.1.x, rows.1.y, rows.1.z, rows.2.x, rows.2.y, rows.2.z]
    }

    public func column(_ index: Int) -> SIMD3<Double> {
        SIMD3(rows.0[index], rows.1[index], rows.2[index])
    }

    public var transposed: Matrix3 { Matrix3(columns: rows.0, rows.1, rows.2) }

    public var determinant: Double {
        let (a, b, c) = rows
        return a.x * (b.y * c.z - b.z * c.y) - a.y * (b.x * c.z - b.z * c.x) + a.z * (b.x * c.y - b.y * c.x)
    }

    /// The inverse, or nil when the matrix is singular.
    public var inverse: Matrix3? {
        let det = determinant
        guard abs(det) > 1e-12 else { return nil }
        let (a, b, c) = rows
        // Rows of the inverse are the cross products of the columns' complements, divided by det.
        let r0 = SIMD3(b.y * c.z - b.z * c.y, a.z * c.y - a.y * c.z, a.y * b.z - a.z * b.y)
        let r1 = SIMD3(b.z * c.x - b.x * c.z, a.x * c.z - a.z * c.x, a.z * b.x - a.x * b.z)
        let r2 = SIMD3(b.x * c.y - b.y * c.x, a.y * c.x - a.x * c.y, a.x * b.y - a.y * b.x)
        return Matrix3(rows: r0 / det, r1 / det, r2 / det)
    }

    public static func * (m: Matrix3, v: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3((m.rows.0 * v).sum(), (m.rows.1 * v).sum(), (m.rows.2 * v).sum())
    }

    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        Matrix3(columns: a * b.column(0), a * b.column(1), a * b.column(2))
    }

    public static func == (a: Matrix3, b: Matrix3) -> Bool {
        a.rows.0 == b.rows.0 && a.rows.1 == b.rows.1 && a.rows.2 == b.rows.2
    }

    /// Largest absolute difference between corresponding entries.
    public func maxDifference(to other: Matrix3) -> Double {
        zip(rowMajor, other.rowMajor).map { abs($0 - $1) }.max() ?? 0
    }

    public var description: String { "Matrix3(\(rowMajor))" }
}

extension SIMD3 where Scalar == Double {
    public func dot(_ other: SIMD3<Double>) -> Double { (self * other).sum() }

    public func cross(_ o: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(y * o.z - z * o.y, z * o.x - x * o.z, x * o.y - y * o.x)
    }

    public var length: Double { dot(self).squareRoot() }

    public var normalized: SIMD3<Double> {
        let l = length
        return l > 0 ? self / l : self
    }
}
