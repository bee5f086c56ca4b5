import Foundation
import Phantoms
import Testing
import VolumeCore
@testable import Segmentation

/// The bone preset on a drawn chest: a body of soft tissue, a vertebra (cortex of 1,000 HU round
/// a marrow of 280 HU: dense and homogeneous, the hardest case for telling marrow from blood), a
/// heart-like pool of contrast blood (450 HU) with an aorta pressed against the vertebra, and a
/// vein full of undiluted contrast (1,600 HU) entering the pool.
struct BoneContrastTests {
    static let spacing = 1.5

    struct Chest {
        var hu: Volume<Int16>
        var vertebra: Volume<UInt8>
        var blood: Volume<UInt8>
    }

    /// `contrast: false` draws the same chest with the blood at 40 HU (no contrast).
    static func chest(contrast: Bool, noise: Double = 20) -> Chest {
        let g = VolumeGeometry(dimensions: SIMD3(120, 100, 80), spacing: SIMD3(repeating: spacing))
        var hu = Volume<Int16>(geometry: g, filledWith: -1000)
        var vertebra = Volume<UInt8>(geometry: g, filledWith: 0), blood = vertebra
        var random = SplitMix64(seed: 7)
        let vertebraCentre = SIMD2(90.0, 110.0), heartCentre = SIMD3(90.0, 45.0, 60.0)
        for k in 0..<g.dimensions.z {
            for j in 0..<g.dimensions.y {
                for i in 0..<g.dimensions.x {
                    let p = SIMD3(Double(i), Double(j), Double(k)) * spacing
                    var v = -1000.0
                    let body = (p.x - 90) * (p.x - 90) / (85 * 85) + (p.y - 75) * (p.y - 75) / (70 * 70)
                    if body <= 1 { v = 40 }
                    let r = ((p.x - vertebraCentre.x) * (p.x - vertebraCentre.x) + (p.y - vertebraCentre.y) * (p.y - vertebraCentre.y)).squareRoot()
                    if r <= 16 && p.z > 10 && p.z < 110 {
                        v = r <= 13 ? 280 : 1000
                        vertebra[i, j, k] = 1
                    }
                    let heart = ((p - heartCentre) * (p - heartCentre)).sum().squareRoot()
                    // The aorta: a tube of radius 12 mm, along z, touching the vertebra's cortex.
                    let aorta = ((p.x - 90) * (p.x - 90) + (p.y - 82) * (p.y - 82)).squareRoot()
                    if heart <= 30 || (aorta <= 12 && p.z > 10 && p.z < 110) {
                        v = contrast ? 450 : 40
                        blood[i, j, k] = 1
                    }
                    // The vein: radius 8 mm, from the pool's side to the top.
                    let vein = ((p.x - 125) * (p.x - 125) + (p.y - 45) * (p.y - 45)).squareRoot()
                    if vein <= 8 && p.z >= 60 && p.z < 118 {
                        v = contrast ? 1600 : 40
                        blood[i, j, k] = 1
                    }
                    hu[i, j, k] = Int16(clamping: Int((v + noise * random.gaussian()).rounded()))
                }
            }
        }
        return Chest(hu: hu, vertebra: vertebra, blood: blood)
    }

    static func count(_ mask: Volume<UInt8>, in other: Volume<UInt8>) -> Int {
        zip(mask.voxels, other.voxels).reduce(0) { $0 + ($1.0 != 0 && $1.1 != 0 ? 1 : 0) }
    }

    @Test func contrastBloodStaysOutOfBoneAndTheVertebraStaysIn() throws {
        let chest = Self.chest(contrast: true)
        let result = try BonePreset().run(.int16(chest.hu), modality: "CT")
        let inBlood = Self.count(result.mask, in: chest.blood)
        let inVertebra = Self.count(result.mask, in: chest.vertebra)
        let vertebraVoxels = chest.vertebra.voxels.reduce(0) { $0 + Int($1) }
        #expect(Double(inBlood) <= 0.02 * Double(result.voxelCount), "\(inBlood) of \(result.voxelCount) bone voxels are blood")
        #expect(Double(inVertebra) >= 0.95 * Double(vertebraVoxels), "\(inVertebra) of \(vertebraVoxels) vertebra voxels found")
        let finding = try #require(result.contrast)
        #expect(finding.pools.count >= 1)
        #expect(finding.pools.allSatisfy { abs($0.medianHU - 450) < 40 })
        #expect(finding.denseML > 1, "the dense vein was found")

        // Without the contrast rule the pool, the aorta and the vein join the vertebra.
        var plain = BonePreset()
        plain.excludeContrast = false
        let threshold = try plain.run(.int16(chest.hu), modality: "CT")
        #expect(Double(Self.count(threshold.mask, in: chest.blood)) > 0.3 * Double(threshold.voxelCount))
    }

    @Test func withoutContrastNothingIsLeftOut() throws {
        let chest = Self.chest(contrast: false)
        let result = try BonePreset().run(.int16(chest.hu), modality: "CT")
        #expect(result.contrast?.isEmpty == true)
        var plain = BonePreset()
        plain.excludeContrast = false
        #expect(try plain.run(.int16(chest.hu), modality: "CT").mask.voxels == result.mask.voxels)
    }

    @Test func aSeedInContrastIsRefused() throws {
        let chest = Self.chest(contrast: true)
        #expect(throws: SegmentationError.self) {
            try BonePreset().run(.int16(chest.hu), modality: "CT", seeds: [.voxel(SIMD3(60, 30, 40))])
        }
    }

    /// Thick slices: a thin rib (a rod 1.5 mm thick of 900 HU) in 3 mm voxels never reaches 700 HU and is
    /// cut into pieces meeting at edges; it is kept. A metal ball (3,000 HU) is reported.
    @Test func thinBoneInThickVoxelsAndMetal() throws {
        let g = VolumeGeometry(dimensions: SIMD3(60, 60, 40), spacing: SIMD3(1, 1, 3))
        var hu = Volume<Int16>(geometry: g, filledWith: 40)
        var rib = Volume<UInt8>(geometry: g, filledWith: 0)
        for k in 0..<40 {
            for j in 0..<60 {
                for i in 0..<60 {
                    // A rod 1.5 mm thick along x, rising 0.2 mm per mm: the mean over the voxel's 3 mm in z.
                    var inside = 0.0
                    for s in 0..<6 {
                        let z = Double(k) * 3 - 1.25 + Double(s) * 0.5
                        let dz = z - (40 + 0.2 * Double(i)), dy = Double(j) - 30
                        if dz * dz + dy * dy <= 0.75 * 0.75 { inside += 1 }
                    }
                    if inside > 0 {
                        hu[i, j, k] = Int16(40 + 860 * inside / 6)
                        if inside >= 2 { rib[i, j, k] = 1 }
                    }
                    let m = SIMD3(Double(i) - 45, Double(j) - 45, (Double(k) - 20) * 3)
                    if (m * m).sum() <= 36 { hu[i, j, k] = 3000 }
                }
            }
        }
        #expect(hu.voxels.allSatisfy { $0 < 700 || $0 == 3000 })
        var bone = BonePreset()
        bone.excludeTable = false
        let result = try bone.run(.int16(hu), modality: "CT")
        let ribVoxels = rib.voxels.reduce(0) { $0 + Int($1) }
        #expect(Double(Self.count(result.mask, in: rib)) >= 0.9 * Double(ribVoxels))
        #expect(result.seedLevel < 700)
        #expect(result.metalML > 0.8 && result.metalML < 1.0)  // a 6 mm ball: 0.9 mL
        let centre = try #require(result.metalCentre)
        #expect(abs(centre.x - 45) < 1 && abs(centre.y - 45) < 1 && abs(centre.z - 60) < 2)
    }
}

extension BoneContrastTests {
    /// The contrast finder's block means (integer row sums, slabs in parallel) are those of a
    /// plain sum over each block, partial blocks at the far edges included.
    @Test func blockMeansAreThePlainMeansOfEachBlock() {
        var state: UInt64 = 99
        let d = SIMD3(37, 23, 11), block = SIMD3(4, 5, 3)
        let voxels = (0..<(d.x * d.y * d.z)).map { _ -> Int16 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int16(truncatingIfNeeded: Int(state >> 40) % 4000 - 1200)
        }
        let hu = Volume(geometry: VolumeGeometry(dimensions: d, spacing: SIMD3(0.7, 0.7, 2)), voxels: voxels)
        let means = ContrastPools.blockMeans(hu, block: block, threads: 3)
        let n = means.dimensions
        #expect(n == SIMD3(10, 5, 4))
        for cz in 0..<n.z { for cy in 0..<n.y { for cx in 0..<n.x {
            var sum = 0.0, count = 0.0
            for z in (cz * block.z)..<min((cz + 1) * block.z, d.z) { for y in (cy * block.y)..<min((cy + 1) * block.y, d.y) {
                for x in (cx * block.x)..<min((cx + 1) * block.x, d.x) { sum += Double(hu[x, y, z]); count += 1 }
            } }
            #expect(means[cx, cy, cz] == Float(sum / count), "block \(cx), \(cy), \(cz)")
        } } }
    }
}
