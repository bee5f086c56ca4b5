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
}
