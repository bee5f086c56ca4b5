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
        #expect(result.warnings.contains { $0.code == .leakGuardLimit && $0.values["limitMM"] == "11.25" && $0.text.contains("11.25 mm limit") }, "\(result.warnings)")
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

private extension Array {
    var pair: (Element, Element) { (self[0], self[1]) }
}

/// Lesions of other sizes and kinds, drawn into the sample head CT: a large one, one pressed
/// against a neighbour of its own value, several seeds, and one too faint to bound.
extension TumorPresetTests {
    @Test func aLesionThatFadesTowardsItsRimIsOutlinedWhereItMeetsItsSurroundings() throws {
        // MR-like: tissue 600 with noise 25; a lesion of 28 × 24 × 24 mm whose centre is 450 above
        // the tissue and whose shells step down by 150 towards a rim still 150 above it (an
        // enhancing tumour brighter at its core). The rays' first edges lie on the inner shells.
        let g = VolumeGeometry(dimensions: SIMD3(72, 72, 36), spacing: SIMD3(1, 1, 2), origin: SIMD3(-36, -36, -36))
        let centre = SIMD3<Double>(1, -2, 2)
        let shells = [SIMD3<Double>(14, 12, 12), SIMD3(9.5, 8, 8), SIMD3(5, 4.5, 4.5)].map { Phantoms.Ellipsoid(centre: centre, radii: $0) }
        var drawn = Volume<Int16>(geometry: g, filledWith: 600)
        var truth: Volume<UInt8>?
        for (n, shell) in shells.enumerated() {
            let (next, mask) = Phantoms.draw(into: drawn, ellipsoids: [shell], contrast: 150, noise: n == shells.count - 1 ? 25 : 0, randomSeed: 11)
            drawn = next
            if truth == nil { truth = mask }
        }
        let mr = Volume<Float>(geometry: g, voxels: drawn.voxels.map { Float($0) })
        let result = try TumorPreset().run(.float32(mr), modality: "MR", seeds: [.patient(centre)])
        let dice = Overlap.dice(result.mask, truth!)
        #expect(dice >= 0.85, "Dice \(dice), interval \(result.lower)…\(result.upper), warnings \(result.warnings)")
        #expect(result.warnings.contains { $0.code == .lesionFades && $0.text.contains("fades towards its rim") })
        // The same lesion without its fading shells (one step of 450) keeps its half-way edge.
        let (sharp, sharpTruth) = Phantoms.draw(into: Volume<Int16>(geometry: g, filledWith: 600), ellipsoids: [shells[0]], contrast: 450,
                                                noise: 25, randomSeed: 11)
        let plain = try TumorPreset().run(.float32(Volume<Float>(geometry: g, voxels: sharp.voxels.map { Float($0) })), modality: "MR",
                                          seeds: [.patient(centre)])
        #expect(Overlap.dice(plain.mask, sharpTruth) >= 0.9)
        #expect(!plain.warnings.contains { $0.code == .lesionFades })
    }

    @Test func aFortyMillimetreLesionIsFoundWithoutARadius() throws {
        // 40 mm across: beyond the old 30 mm growth limit, so the size must come from the image.
        let lesion = Phantoms.Ellipsoid(centre: SIMD3(95, -110, 80), radii: SIMD3(20, 18, 19))
        let (volume, truth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 40, noise: 10)
        let result = try TumorPreset().run(.int16(volume), modality: "CT", seeds: [.patient(lesion.centre)])
        let dice = Overlap.dice(result.mask, truth)
        print("40 mm lesion: Dice \(dice), \(result.volumeML) mL, probe radius \(result.probe.radiusMM) mm, limit \(result.limitMM) mm")
        #expect(dice >= 0.9)
        #expect(result.limitMM > 30)
    }

    @Test func aLesionAgainstANeighbourOfItsOwnValueStaysRound() throws {
        // A 24 mm lesion pressed 4 mm into a 30 mm-thick "wall" of the same value: the rays that
        // leave through the wall borrow their edge from the others, so it does not run into it.
        let lesion = Phantoms.Ellipsoid(centre: SIMD3(95, -110, 80), diameter: 24)
        let wall = Phantoms.Ellipsoid(centre: SIMD3(95 + 12 + 15 - 4, -110, 80), radii: SIMD3(15, 30, 30))
        let (volume, _) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion, wall], contrast: 40, noise: 10)
        let (_, truth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 0, noise: 0)
        let (_, both) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion, wall], contrast: 0, noise: 0)
        let result = try TumorPreset().run(.int16(volume), modality: "CT", seeds: [.patient(lesion.centre)])
        let dice = Overlap.dice(result.mask, truth)
        let (truthML, bothML) = [truth, both].map { Double($0.voxels.reduce(0) { $0 + Int($1) }) * $0.geometry.voxelVolume / 1000 }.pair
        print("lesion against a wall: Dice \(dice), \(result.volumeML) mL of \(truthML) mL (with the wall \(bothML) mL), " +
              "reliable rays \(result.probe.raysWithEdge)/\(result.probe.rays)")
        #expect(dice >= 0.7)
        #expect(result.volumeML < 1.6 * truthML && result.volumeML < 0.5 * bothML)
        #expect(result.probe.raysWithEdge < result.probe.rays)
    }

    @Test func aLesionTooFaintToBoundFailsAndSaysSo() throws {
        // +8 HU in noise of 10 HU: no boundary can be told from the noise.
        let lesion = Phantoms.headLesion
        let (volume, _) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 8, noise: 10)
        do {
            let result = try TumorPreset().run(.int16(volume), modality: "CT", seeds: [.patient(lesion.centre)])
            let detail = "inside \(result.lesionMean), outside \(result.surroundingMedian), \(result.probe.raysWithEdge)/\(result.probe.rays) rays"
            Issue.record(Comment(rawValue: "a region of \(result.volumeML) mL was written for a lesion too faint to bound: \(detail)"))
        } catch {
            #expect(error.description.contains("too faint to bound") && error.description.contains("No region was written"), "\(error)")
        }
    }

    @Test func severalSeedsInOneLesion() throws {
        let lesion = Phantoms.Ellipsoid(centre: SIMD3(95, -110, 80), radii: SIMD3(14, 8, 8))
        let (volume, truth) = Phantoms.draw(into: Self.ct, ellipsoids: [lesion], contrast: 40, noise: 10)
        let seeds: [Seed] = [.patient(lesion.centre + SIMD3(-7, 0, 0)), .patient(lesion.centre + SIMD3(7, 0, 0))]
        let result = try TumorPreset().run(.int16(volume), modality: "CT", seeds: seeds)
        #expect(Overlap.dice(result.mask, truth) >= 0.88)
    }
}
