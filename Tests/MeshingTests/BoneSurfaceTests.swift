import DICOM
import Foundation
@testable import Meshing
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// The bars of the sample CT's bone (threshold 226…3071 HU) against InVesalius' own surface.
@Suite struct BoneSurfaceTests {
    static let volume: AnyVolume = DicomLoader().load([Fixtures.sampleCT.path]).series[0].volume
    static let mask: Volume<UInt8> = try! Thresholding.mask(volume, lower: 226, upper: 3071)
    static let mesh: Mesh = Surfaces.surface(of: mask)
    static let invesalius: Mesh = try! VTKPolyData.readTriangles(
        Fixtures.sampleCT.appendingPathComponent("reference/surface_invesalius.vtp"))

    @Test func theBoneMeshLiesOnInVesaliusSurface() throws {
        #expect(Self.invesalius.vertexCount == 205_777)
        let smoothed = Self.mesh.smoothed(passes: 10)
        let summary = MeshDistance.symmetric(smoothed, Self.invesalius)
        print("bone mesh (10 Taubin passes) vs InVesalius surface: mean \(summary.mean) mm, 95th percentile " +
              "\(summary.percentile95) mm, max \(summary.maximum) mm")
        #expect(summary.mean <= 0.5, "mean symmetric distance \(summary.mean) mm")
        #expect(summary.percentile95 <= 1.5, "95th percentile \(summary.percentile95) mm")
    }

    @Test func theClosedMeshEnclosesTheVoxelVolumeAndSmoothingKeepsIt() {
        let voxels = Double(Self.mask.voxels.reduce(0) { $0 + Int($1) }) * Self.mask.geometry.voxelVolume / 1000
        let raw = MeshMeasurements(Self.mesh)
        #expect(raw.watertight)
        #expect(abs(raw.volumeML - voxels) / voxels < 0.02, "\(raw.volumeML) mL vs \(voxels) mL of voxels")
        let smoothed = MeshMeasurements(Self.mesh.smoothed(passes: 20))
        #expect(smoothed.watertight)
        #expect(abs(smoothed.volumeML - raw.volumeML) / raw.volumeML < 0.01)
        print("bone mesh: \(raw.volumeML) mL (voxels \(voxels) mL), after 20 passes \(smoothed.volumeML) mL")
    }

    @Test func decimatedToATenthItStaysClosedAndClose() throws {
        let full = Self.mesh.smoothed(passes: 20)
        let reduced = try full.decimated(targetTriangles: full.triangleCount / 10)
        let m = MeshMeasurements(reduced)
        #expect(m.watertight, "\(m.boundaryEdges) open, \(m.nonManifoldEdges) non-manifold edges")
        #expect(abs(Double(m.triangles) - Double(full.triangleCount) / 10) / (Double(full.triangleCount) / 10) < 0.05)
        let mean = MeshDistance.Summary(MeshDistance.distances(from: reduced.positions, to: full)
                                        + MeshDistance.distances(from: full.positions, to: reduced)).mean
        #expect(mean <= 0.3, "mean distance to the full mesh \(mean) mm")
        print("decimated to \(m.triangles) of \(full.triangleCount) triangles: mean distance \(mean) mm, watertight \(m.watertight)")
        #expect(throws: MeshingError.self) { try full.decimated(targetTriangles: 0) }
    }

    /// Edge collapses pinch the thin bone of the skull and face: meshoptimizer leaves thousands of
    /// edges with four or six triangles, and a few of them (where the surface meets itself along
    /// the edge) were left with four by the repair, two non-manifold edges in the measurements.
    /// Before the fix these opened the mesh: 15 passes at 32,500, 33,000, 33,500, 34,000 and 35,000
    /// triangles, 20 passes at 3,500, 9,500 and 15,000. Every target must give a closed manifold.
    @Test func decimatedToAnyTargetItStaysClosedAndManifold() throws {
        let spread = [1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000]
        for (passes, targets) in [(15, spread + Array(stride(from: 32_000, through: 35_500, by: 500))),
                                  (20, spread + [3_500, 9_500, 15_000])] {
            let full = Self.mesh.smoothed(passes: passes)
            for target in targets {
                let m = MeshMeasurements(try full.decimated(targetTriangles: target))
                #expect(m.nonManifoldEdges == 0 && m.boundaryEdges == 0 && m.watertight,
                        "\(passes) passes, \(target) triangles: \(m.boundaryEdges) open, \(m.nonManifoldEdges) non-manifold edges")
                if target >= 20_000 {
                    #expect(abs(Double(m.triangles - target)) <= 0.05 * Double(target), "\(m.triangles) triangles for \(target)")
                }
            }
        }
    }

    /// The repair after decimation works one edge at a time in a fixed order: the same mesh
    /// whatever the thread count.
    @Test func decimationIsTheSameWhateverTheThreadCount() throws {
        let full = Self.mesh.smoothed(passes: 15)
        let one = try full.decimated(targetTriangles: 33_000, threads: 1)
        let four = try full.decimated(targetTriangles: 33_000, threads: 4)
        #expect(one.indices == four.indices)
        #expect(one.positions == four.positions)
    }
}
