/// Where a voxel grid sits in patient space.
///
/// Convention (DESIGN.md): voxel index (i, j, k) = (column, row, slice), x fastest.
/// `patient = origin + direction · (index ∘ spacing)` in DICOM LPS millimetres.
/// `direction`'s columns are the unit directions of the i, j and k axes. They are
/// orthonormal for ordinary scans; a gantry-tilted CT keeps its true, sheared k axis.
public struct VolumeGeometry: Equatable, Sendable {
    public var dimensions: SIMD3<Int>
    public var spacing: SIMD3<Double>
    public var origin: SIMD3<Double>
    public var direction: Matrix3

    public init(dimensions: SIMD3<Int>, spacing: SIMD3<Double> = SIMD3(1, 1, 1),
                origin: SIMD3<Double> = .zero, direction: Matrix3 = .identity) {
        self.dimensions = dimensions
        self.spacing = spacing
        self.origin = origin
        self.direction = direction
    }

    public var voxelCount: Int { dimensions.x * dimensions.y * dimensions.z }

    /// Volume of one voxel in mm³ (accounts for a sheared slice axis).
    public var voxelVolume: Double {
        abs(direction.determinant) * spacing.x * spacing.y * spacing.z
    }

    /// Linear offset of voxel (i, j, k) in x-fastest order.
    @inlinable
    public func offset(_ i: Int, _ j: Int, _ k: Int) -> Int {
        (k * dimensions.y + j) * dimensions.x + i
    }

    @inlinable
    public func contains(_ index: SIMD3<Int>) -> Bool {
        index.x >= 0 && index.y >= 0 && index.z >= 0 &&
            index.x < dimensions.x && index.y < dimensions.y && index.z < dimensions.z
    }

    /// Patient (LPS, mm) position of a continuous voxel index.
    public func patientPosition(ofIndex index: SIMD3<Double>) -> SIMD3<Double> {
        origin + direction * (index * spacing)
    }

    public func patientPosition(ofIndex index: SIMD3<Int>) -> SIMD3<Double> {
        patientPosition(ofIndex: SIMD3<Double>(Double(index.x), Double(index.y), Double(index.z)))
    }

    /// The smallest patient-axis-aligned box (LPS, mm) holding every voxel centre.
    public var boundingBox: (SIMD3<Double>, SIMD3<Double>) {
        let corners = (0..<8).map { c in
            patientPosition(ofIndex: SIMD3<Int>(c & 1 == 0 ? 0 : dimensions.x - 1, c & 2 == 0 ? 0 : dimensions.y - 1,
                                                c & 4 == 0 ? 0 : dimensions.z - 1))
        }
        return (corners.reduce(corners[0], pointwiseMin), corners.reduce(corners[0], pointwiseMax))
    }

    /// Continuous voxel index of a patient (LPS, mm) position; nil if the direction matrix is singular.
    public func continuousIndex(ofPatient point: SIMD3<Double>) -> SIMD3<Double>? {
        guard let inverse = direction.inverse else { return nil }
        return (inverse * (point - origin)) / spacing
    }

    /// Nearest voxel index of a patient position (it may lie outside the grid).
    public func nearestIndex(ofPatient point: SIMD3<Double>) -> SIMD3<Int>? {
        guard let c = continuousIndex(ofPatient: point) else { return nil }
        return SIMD3(Int(saturating: c.x.rounded()), Int(saturating: c.y.rounded()), Int(saturating: c.z.rounded()))
    }

    /// The 4×4 index-to-patient matrix (row-major, LPS mm), as NIfTI/ITK tools expect it.
    public var indexToPatientMatrix: [[Double]] {
        let m = direction
        var result: [[Double]] = []
        for r in 0..<3 {
            let row = [m.rows.0, m.rows.1, m.rows.2][r]
            result.append([row.x * spacing.x, row.y * spacing.y, row.z * spacing.z, origin[r]])
        }
        result.append([0, 0, 0, 1])
        return result
    }
}
