import DICOM
import Foundation
import Phantoms
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// The tumor preset on lesions drawn into the sample head CT, against their exact masks.
@Suite struct TumorPresetTests {
    static let ct: Volume<Int16> = {
        guard case .int16(let v) = DicomLoader().load([Fixtures.sampleCT.path]).series[0].volume else { fatalError("int16 CT") }
        return v
    }()

    @Test(arguments: [nil, 7.5])
    func aFifteenMillimetreLesionAtFortyHUIsFound(radius: Double?) throws {
        let lesion = Phantoms.headLesion
        let (volume, truth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 40, noise: 10)
        let result = try TumorPreset(radiusMM: radius).run(.int16(volume), modality: "CT", seeds: [.patient(lesion.centre)])
        let dice = Overlap.dice(result.mask, truth)
        let hd95 = try #require(Overlap.hausdorff95(result.mask, truth))
        print("tumor, radius \(radius.map { "\($0)" } ?? "none"): Dice \(dice), HD95 \(hd95) mm, \(result.volumeML) mL, " +
              "diameter \(result.maximalDiameterMM) mm, interval \(result.lower)…\(result.upper), warnings \(result.warnings)")
        #expect(dice >= 0.90)
        #expect(hd95 <= 2.0)
        let truthML = Double(truth.voxels.reduce(0) { $0 + Int($1) }) * truth.geometry.voxelVolume / 1000
        #expect(abs(result.volumeML - truthML) / truthML < 0.15)
        #expect(abs(result.maximalDiameterMM - 15) <= 2.5, "diameter \(result.maximalDiameterMM)")
        #expect(!result.reachedLimit)
        #expect(result.seedMean > 40 && result.seedMean < 80, "seed statistics \(result.seedMean)")
    }

    @Test func aLesionTouchingAnOrganOfTheSameIntensityIsStoppedAtTheLimitAndSaysSo() throws {
        let lesion = Phantoms.headLesion
        // An "organ" 30 × 20 × 20 mm touching the lesion's posterior side, same contrast.
        let organ = Phantoms.Ellipsoid(centre: lesion.centre + SIMD3(0, 7.5 + 14.5, 0), radii: SIMD3(15, 15, 12))
        let (volume, truth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion, organ], contrast: 40, noise: 10)
        let (_, lesionTruth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 0, noise: 0)
        let result = try TumorPreset(radiusMM: 7.5).run(.int16(volume), modality: "CT", seeds: [.patient(lesion.centre)])
        #expect(result.reachedLimit)
        #expect(result.warnings.contains { $0.contains("leak guard") && $0.contains("11.25 mm limit") }, "\(result.warnings)")
        // Nothing beyond the limit, most of the organ left out.
        let g = result.mask.geometry
        var beyond = 0
        for k in 0..<g.dimensions.z { for j in 0..<g.dimensions.y { for i in 0..<g.dimensions.x where result.mask[i, j, k] != 0 {
            if (g.patientPosition(ofIndex: SIMD3(i, j, k)) - lesion.centre).length > 11.25 + 0.01 { beyond += 1 }
        } } }
        #expect(beyond == 0)
        let truthML = Double(truth.voxels.reduce(0) { $0 + Int($1) }) * g.voxelVolume / 1000
        #expect(result.volumeML < truthML / 3)
        #expect(Overlap.dice(result.mask, lesionTruth) > 0.6)
    }

    @Test func seedsInAirOrBoneAndBadRadiiAreRefusedWithAHint() throws {
        let volume = AnyVolume.int16(Self.ct)
        do {
            _ = try TumorPreset().run(volume, modality: "CT", seeds: [.voxel(SIMD3(5, 5, 50))])
            Issue.record("a seed in air was taken")
        } catch {
            #expect(error.description.contains("air") && error.description.contains("inside the lesion"), "\(error)")
        }
        do {
            _ = try TumorPreset().run(volume, modality: "CT", seeds: [.voxel(SIMD3(179, 92, 80))])  // the skull
            Issue.record("a seed in bone was taken")
        } catch {
            #expect(error.description.contains("bone"), "\(error)")
        }
        for radius in [0.0, -3] {
            #expect(throws: SegmentationError.self) {
                try TumorPreset(radiusMM: radius).run(volume, modality: "CT", seeds: [.patient(Phantoms.headLesion.centre)])
            }
        }
        #expect(throws: SegmentationError.noSeeds) { try TumorPreset().run(volume, modality: "CT", seeds: []) }
    }
}

extension TumorPresetTests {
    @Test func aDarkLesionOnAnMRLikeVolumeIsFound() throws {
        // 64³ voxels of 1 × 1 × 2 mm, tissue 500 with noise 25, a hypo-intense ellipsoid at 300.
        let g = VolumeGeometry(dimensions: SIMD3(64, 64, 40), spacing: SIMD3(1, 1, 2), origin: SIMD3(-32, -32, -40))
        let background = Volume<Int16>(geometry: g, filledWith: 500)
        let lesion = Phantoms.Ellipsoid(centre: SIMD3(2, -3, 4), radii: SIMD3(9, 7, 8))
        let (drawn, truth) = Phantoms.draw(into: background, ellipsoids: [lesion], contrast: -200, noise: 25, randomSeed: 7)
        let mr = Volume<Float>(geometry: g, voxels: drawn.voxels.map { Float($0) })
        let result = try TumorPreset().run(.float32(mr), modality: "MR", seeds: [.patient(lesion.centre)])
        let dice = Overlap.dice(result.mask, truth)
        #expect(dice >= 0.9, "Dice \(dice), interval \(result.lower)…\(result.upper)")
        #expect(result.upper < 450 && result.lower < 300)
    }
}
