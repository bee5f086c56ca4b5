import Foundation
import VolumeCore

extension Defacing {
    /// A grid of cubic cells aligned with the patient's axes (LPS), over the series' box, with a
    /// cell of margin on each side: the face is looked for in patient coordinates, whatever the
    /// orientation of the series. Cells are about 2 mm (larger for a very large box, so that there
    /// are at most about 6 million).
    struct PatientGrid: Sendable {
        let source: VolumeGeometry
        /// Patient position of cell (0, 0, 0), the cell's edge (mm), and the cells along L, P, S.
        let origin: SIMD3<Double>
        let cell: Double
        let dimensions: SIMD3<Int>
        /// Patient position → continuous voxel index: `toIndex * (p - source.origin)`.
        let toIndex: Matrix3

        init?(_ g: VolumeGeometry) {
            guard let inverse = g.direction.inverse, g.voxelCount > 0 else { return nil }
            source = g
            let scale = Matrix3(rows: SIMD3(1 / g.spacing.x, 0, 0), SIMD3(0, 1 / g.spacing.y, 0), SIMD3(0, 0, 1 / g.spacing.z))
            toIndex = scale * inverse
            let (lo, hi) = g.boundingBox
            let extent = pointwiseMax(hi - lo, SIMD3(repeating: 1))
            let size = max(2, Foundation.cbrt(extent.x * extent.y * extent.z / 6e6), g.spacing.min())
            cell = size
            origin = lo - size
            dimensions = SIMD3((0..<3).map { Int((extent[$0] / size).rounded(.up)) + 3 })
        }

        var geometry: VolumeGeometry {
            VolumeGeometry(dimensions: dimensions, spacing: SIMD3(repeating: cell), origin: origin, direction: .identity)
        }

        var count: Int { dimensions.x * dimensions.y * dimensions.z }

        /// The series' nearest voxel at each cell's centre. Cells up to a cell beyond the series'
        /// edge take its edge voxel (a face or a neck cut by the series' end stays closed there);
        /// farther ones are air (−∞).
        func sample(_ volume: AnyVolume, threads: Int?) -> [Float] {
            var values = [Float](repeating: -.infinity, count: count)
            let d = dimensions, n = source.dimensions
            let reach = SIMD3<Double>((0..<3).map { 0.5 + cell / source.spacing[$0] })
            values.withUnsafeMutableBufferPointer { buffer in
                let out = UncheckedSendable(buffer.baseAddress!)
                parallelFor(0..<d.z, threads: threads) { levels in
                    for k in levels {
                        for j in 0..<d.y {
                            let row = origin + SIMD3(0, Double(j), Double(k)) * cell
                            var index = toIndex * (row - source.origin)
                            let step = toIndex.column(0) * cell
                            for i in 0..<d.x {
                                defer { index += step }
                                var v = SIMD3<Int>.zero, inside = true
                                for axis in 0..<3 {
                                    let x = index[axis], top = Double(n[axis] - 1)
                                    if x < -reach[axis] || x > top + reach[axis] { inside = false; break }
                                    v[axis] = Int(min(max(x, 0), top).rounded())
                                }
                                guard inside else { continue }
                                out.value[(k * d.y + j) * d.x + i] = Float(volume.value(v.x, v.y, v.z))
                            }
                        }
                    }
                }
            }
            return values
        }

        /// The patient position of a cell (by its index).
        func position(ofCell n: Int) -> SIMD3<Double> {
            origin + SIMD3(Double(n % dimensions.x), Double((n / dimensions.x) % dimensions.y), Double(n / (dimensions.x * dimensions.y))) * cell
        }

        /// The cell holding a patient position, if any.
        @inline(__always) func cellIndex(_ p: SIMD3<Double>) -> Int? {
            let c = (p - origin) / cell
            let x = Int(c.x.rounded()), y = Int(c.y.rounded()), z = Int(c.z.rounded())
            guard x >= 0, y >= 0, z >= 0, x < dimensions.x, y < dimensions.y, z < dimensions.z else { return nil }
            return (z * dimensions.y + y) * dimensions.x + x
        }

        /// 1 for the cells that hold a voxel of at least `threshold` (CT bone), else 0, looked
        /// for among the series' voxels in `box` (an index box) only.
        func anyAbove(_ volume: AnyVolume, _ threshold: Double, within box: (SIMD3<Int>, SIMD3<Int>), threads: Int?) -> [UInt8] {
            switch volume {
            case .int16(let v): return anyAbove(v, Int16(clamping: Int(threshold.rounded(.up))), within: box, threads: threads)
            case .float32(let v): return anyAbove(v, Float(threshold), within: box, threads: threads)
            }
        }

        private func anyAbove<V: VoxelValue>(_ v: Volume<V>, _ threshold: V, within box: (SIMD3<Int>, SIMD3<Int>), threads: Int?) -> [UInt8] {
            let n = source.dimensions, (a, b) = box
            let step = source.direction.column(0) * source.spacing.x
            // Each chunk of slices marks its own cells; the marks are joined after.
            let marks = v.voxels.withUnsafeBufferPointer { buffer in
                let voxels = UncheckedSendable(buffer.baseAddress!)
                return parallelMap(a.z..<(b.z + 1), threads: threads) { slices -> [UInt8] in
                    var marked = [UInt8](repeating: 0, count: count)
                    for k in slices {
                        for j in a.y...b.y {
                            let row = voxels.value + (k * n.y + j) * n.x
                            var p = source.patientPosition(ofIndex: SIMD3(a.x, j, k))
                            for i in a.x...b.x {
                                defer { p += step }
                                if row[i] >= threshold, let c = cellIndex(p) { marked[c] = 1 }
                            }
                        }
                    }
                    return marked
                }
            }
            var out = [UInt8](repeating: 0, count: count)
            for chunk in marks { for c in chunk.indices where chunk[c] != 0 { out[c] = 1 } }
            return out
        }

        /// The index box of the series' voxels that lie in marked cells (a cell of margin), or nil.
        func indexBox(of marked: [UInt8]) -> (SIMD3<Int>, SIMD3<Int>)? {
            var lo = SIMD3<Int>(repeating: .max), hi = SIMD3<Int>(repeating: .min)
            for n in marked.indices where marked[n] != 0 {
                let c = SIMD3(n % dimensions.x, (n / dimensions.x) % dimensions.y, n / (dimensions.x * dimensions.y))
                lo = pointwiseMin(lo, c)
                hi = pointwiseMax(hi, c)
            }
            guard lo.x <= hi.x else { return nil }
            var first = SIMD3<Double>(repeating: .infinity), last = SIMD3<Double>(repeating: -.infinity)
            for corner in 0..<8 {
                let c = SIMD3(corner & 1 == 0 ? Double(lo.x) - 1 : Double(hi.x) + 2, corner & 2 == 0 ? Double(lo.y) - 1 : Double(hi.y) + 2,
                              corner & 4 == 0 ? Double(lo.z) - 1 : Double(hi.z) + 2)
                let index = toIndex * (origin + c * cell - source.origin)
                first = pointwiseMin(first, index)
                last = pointwiseMax(last, index)
            }
            let n = source.dimensions
            let a = SIMD3<Int>((0..<3).map { max(0, Int(first[$0].rounded(.down))) })
            let b = SIMD3<Int>((0..<3).map { min(n[$0] - 1, Int(last[$0].rounded(.up))) })
            guard a.x <= b.x, a.y <= b.y, a.z <= b.z else { return nil }
            return (a, b)
        }
    }
}
