@testable import Meshing
import Testing
import VolumeCore

/// Surface extraction on shapes drawn by hand.
@Suite struct ExtractionTests {
    static func ball(radius: Double, dimensions: SIMD3<Int> = SIMD3(24, 22, 20), spacing: SIMD3<Double> = SIMD3(1, 1, 1),
                     centre: SIMD3<Double>? = nil) -> Volume<UInt8> {
        let geometry = VolumeGeometry(dimensions: dimensions, spacing: spacing, origin: SIMD3(-5, 7, 100))
        let c = centre ?? SIMD3<Double>(Double(dimensions.x - 1), Double(dimensions.y - 1), Double(dimensions.z - 1)) / 2
        var mask = Volume<UInt8>(geometry: geometry, filledWith: 0)
        for k in 0..<dimensions.z {
            for j in 0..<dimensions.y {
                for i in 0..<dimensions.x {
                    let d = (SIMD3<Double>(Double(i), Double(j), Double(k)) - c) * spacing
                    if d.length <= radius { mask[i, j, k] = 1 }
                }
            }
        }
        return mask
    }

    @Test func everyCaseIsClosedAndOutward() {
        // Each of the 256 cases alone in a 2×2×2 grid (padded outside): a closed, outward surface.
        for bits in 1..<256 {
            var mask = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(2, 2, 2)), filledWith: 0)
            for c in 0..<8 where bits >> c & 1 == 1 { mask[c & 1, c >> 1 & 1, c >> 2 & 1] = 1 }
            let m = MeshMeasurements(Surfaces.surface(of: mask, threads: 1))
            #expect(m.watertight, "case \(bits)")
            #expect(m.volumeML > 0, "case \(bits): volume \(m.volumeML)")
            #expect(m.degenerateTriangles == 0)
        }
    }

    @Test(arguments: [1, 2, 3])
    func aBallIsClosedAndTheSameWithAnyThreadCount(threads: Int) {
        let mask = Self.ball(radius: 7.5, spacing: SIMD3(0.8, 0.9, 1.2))
        let mesh = Surfaces.surface(of: mask, threads: threads)
        let reference = Surfaces.surface(of: mask, threads: 1)
        #expect(mesh.positions == reference.positions && mesh.indices == reference.indices)
        let m = MeshMeasurements(mesh)
        #expect(m.watertight)
        #expect(m.vertices == Set(mesh.positions.map { [$0.x, $0.y, $0.z] }).count)  // no duplicate points
        // Marching cubes at half-way crossings encloses close to the voxel volume.
        let voxels = Double(mask.voxels.reduce(0) { $0 + Int($1) }) * mask.geometry.voxelVolume / 1000
        #expect(abs(m.volumeML - voxels) / voxels < 0.05, "\(m.volumeML) vs \(voxels)")
    }

    @Test func aStructureOnTheBorderIsClosedAndSitsWhereItsVoxelsAre() {
        var mask = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(4, 3, 2), spacing: SIMD3(2, 2, 2),
                                                          origin: SIMD3(10, 20, 30)), filledWith: 1)
        mask[0, 0, 0] = 0
        let m = MeshMeasurements(Surfaces.surface(of: mask))
        #expect(m.watertight)
        // Caps lie half a voxel (1 mm) outside the outer voxel centres.
        #expect(m.minimum == SIMD3(9, 19, 29) && m.maximum == SIMD3(17, 25, 33))
    }

    @Test func isoSurfacesInterpolateBetweenVoxels() {
        // A ramp along x: value = 10·i; iso 25 crosses between i = 2 and 3 at 2.5.
        var v = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(6, 3, 3)), filledWith: 0)
        for k in 0..<3 { for j in 0..<3 { for i in 0..<6 { v[i, j, k] = Int16(10 * i) } } }
        let mesh = Surfaces.isoSurface(.int16(v), iso: 25)
        let xs = Set(mesh.positions.filter { $0.y == 1 && $0.z == 1 }.map(\.x))
        #expect(xs.contains(2.5))
        #expect(MeshMeasurements(mesh).watertight)
    }
}
