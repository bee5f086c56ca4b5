import Testing
import VolumeCore

/// Contours traced from a slice give its pixels back, both along the pixels' edges (centre
/// inside) and through the boundary pixels' centres (boundary included): holes, diagonal
/// touches, single pixels and one-pixel lines included.
struct PlanarContoursTests {
    /// A small deterministic generator (the same masks on every run).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: [0.2, 0.5, 0.8])
    func randomSlicesComeBackExactly(density: Double) {
        var random = Generator(state: UInt64(density * 1000))
        for _ in 0..<40 {
            let (columns, rows) = (Int.random(in: 1...14, using: &random), Int.random(in: 1...11, using: &random))
            let mask = (0..<(columns * rows)).map { _ in Double.random(in: 0..<1, using: &random) < density }
            let contours = PlanarContours.trace(columns: columns, rows: rows) { mask[$1 * columns + $0] }
            #expect(PlanarContours.fill(contours, columns: columns, rows: rows) == mask, "along the edges: \(columns)×\(rows) \(mask)")
            let centred = contours.map(PlanarContours.throughCentres)
            #expect(PlanarContours.fill(centred, columns: columns, rows: rows, boundary: true) == mask, "through the centres: \(columns)×\(rows) \(mask)")
        }
    }

    @Test func aRingIsAnOuterContourAndAHole() {
        // 5×5 with the centre pixel empty: one loop around, one around the hole.
        let mask = (0..<25).map { $0 != 12 }
        let contours = PlanarContours.trace(columns: 5, rows: 5) { mask[$1 * 5 + $0] }
        #expect(contours.count == 2)
        #expect(contours.map(\.count).sorted() == [4, 4], "collinear corners are left out: \(contours)")
        #expect(PlanarContours.fill(contours, columns: 5, rows: 5) == mask)
    }
}
