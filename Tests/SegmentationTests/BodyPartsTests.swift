import Foundation
@testable import Segmentation
import Testing
import TestSupport
import VolumeCore

/// Studies holding more than one body part (both knees, both hands, a patient beside a phantom):
/// every part keeps its bone and its skin; only the table and the head rest are left out (issue
/// "Every body part, any size").
@Suite struct BodyPartsTests {
    static var sample: Volume<Int16> {
        guard case .int16(let hu) = SampleCTGrowingTests.volume else { fatalError("the sample is 16-bit") }
        return hu
    }

    /// Two copies of the sample head side by side along x (512 × 256 × 108, the air of both
    /// margins between them), each with its head rest.
    static let twoHeads: Volume<Int16> = {
        let one = sample
        let d = one.dimensions
        var g = one.geometry
        g.dimensions = SIMD3(2 * d.x, d.y, d.z)
        var voxels = [Int16](repeating: -1024, count: g.voxelCount)
        for row in 0..<(d.y * d.z) {
            let source = one.voxels[(row * d.x)..<((row + 1) * d.x)]
            voxels.replaceSubrange((2 * row * d.x)..<((2 * row + 1) * d.x), with: source)
            voxels.replaceSubrange(((2 * row + 1) * d.x)..<((2 * row + 2) * d.x), with: source)
        }
        return Volume(geometry: g, voxels: voxels)
    }()

    static func count(_ mask: Volume<UInt8>) -> Int { mask.voxels.reduce(0) { $0 + Int($1) } }

    /// Voxels of `mask` in x < half and x ≥ half.
    static func halves(_ mask: Volume<UInt8>) -> (Int, Int) {
        let d = mask.dimensions
        var left = 0, right = 0
        for row in 0..<(d.y * d.z) {
            for x in 0..<d.x where mask.voxels[row * d.x + x] != 0 {
                if x < d.x / 2 { left += 1 } else { right += 1 }
            }
        }
        return (left, right)
    }

    static func within(_ value: Int, _ reference: Int, _ fraction: Double) -> Bool {
        abs(Double(value - reference)) <= fraction * Double(reference)
    }

    @Test func twoHeadsSideBySideKeepBothSkullsAndBothSkins() throws {
        let oneBone = try BonePreset().run(.int16(Self.sample), modality: "CT")
        let oneSkin = try SkinPreset().run(.int16(Self.sample), modality: "CT")
        let bone = try BonePreset().run(.int16(Self.twoHeads), modality: "CT")
        let (left, right) = Self.halves(bone.mask)
        #expect(Self.within(left, oneBone.voxelCount, 0.001) && Self.within(right, oneBone.voxelCount, 0.001),
                "bone: \(left) + \(right) voxels, one head \(oneBone.voxelCount)")
        // Both head rests are still left out.
        #expect(bone.tableComponents.map(\.voxels) == [20_897, 20_897], "\(bone.tableComponents)")
        let skin = try SkinPreset().run(.int16(Self.twoHeads), modality: "CT")
        let (skinLeft, skinRight) = Self.halves(skin.mask)
        #expect(Self.within(skinLeft, oneSkin.voxelCount, 0.001) && Self.within(skinRight, oneSkin.voxelCount, 0.001),
                "skin: \(skinLeft) + \(skinRight) voxels, one head \(oneSkin.voxelCount)")
        // Both halves of both head rests are listed as left out, and nothing else.
        #expect(oneSkin.leftOut.count == 2 && skin.leftOut == (oneSkin.leftOut + oneSkin.leftOut).sorted(by: >),
                "two heads: \(skin.leftOut), one: \(oneSkin.leftOut)")
    }

    @Test func theSampleKeepsItsSkinAndLeavesItsHeadRest() throws {
        let skin = try SkinPreset().run(.int16(Self.sample), modality: "CT")
        let largest = MaskComponents.keepLargest(try Thresholding.mask(.int16(Self.sample), lower: -400, upper: 3071), connectivity: .six)
        #expect(skin.voxelCount == Self.count(Morphology.fillHoles(largest)), "one head: the skin is what it was")
    }

    @Test func aBodyPartLyingOnATableKeepsItsBoneAndLosesTheTable() throws {
        // A table top under the back of the head (posterior, +y): a plate 6 mm thick of 900 HU (bright enough to seed bone)
        // along the whole series, touching the scalp.
        var hu = Self.sample
        let d = hu.dimensions, g = hu.geometry
        var back = 0
        for y in stride(from: d.y - 1, through: 0, by: -1) where back == 0 {
            for z in 0..<d.z where hu[d.x / 2, y, z] > -400 { back = y; break }
        }
        let thickness = max(1, Int((6 / g.spacing.y).rounded()))
        for z in 0..<d.z {
            for y in (back + 1)...min(d.y - 1, back + thickness) {
                for x in 20..<(d.x - 20) { hu[x, y, z] = 900 }
            }
        }
        let plain = try BonePreset().run(.int16(Self.sample), modality: "CT")
        let bone = try BonePreset().run(.int16(hu), modality: "CT")
        #expect(Self.within(bone.voxelCount, plain.voxelCount, 0.001), "bone \(bone.voxelCount), without the table \(plain.voxelCount)")
        #expect(bone.tableComponents.contains { $0.voxels >= (d.x - 40) * d.z * thickness / 2 }, "\(bone.tableComponents)")
    }
}
