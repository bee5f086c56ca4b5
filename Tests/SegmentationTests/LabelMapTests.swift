import Foundation
@testable import Segmentation
import Testing
import TestSupport
import VolumeCore
@testable import VolumeIO

/// Thresholds, presets and label maps on the sample CT, against InVesalius' own mask.
@Suite struct BoneAndLabelMapTests {
    static var reference: URL {
        Fixtures.sampleCT.appendingPathComponent("reference/bone_mask_invesalius.nii.gz")
    }

    @Test func globalThresholdIsInVesaliusMaskVoxelForVoxel() throws {
        let mask = try Thresholding.mask(SampleCTGrowingTests.volume, lower: 226, upper: 3071)
        #expect(mask.voxels.reduce(0) { $0 + Int($1) } == 475_759)
        let invesalius = try NIfTI.readLabelMap(Self.reference)
        #expect(invesalius.geometry.dimensions == mask.geometry.dimensions)
        // nibabel wrote the reference in RAS; read back, it must sit where the DICOM volume sits.
        #expect((invesalius.geometry.origin - mask.geometry.origin).length < 1e-4)
        #expect(invesalius.geometry.direction.maxDifference(to: mask.geometry.direction) < 1e-6)
        #expect(abs(invesalius.geometry.spacing.x - 0.9570312) < 1e-6)
        guard case .uint8(let labels) = invesalius.storage else { throw CancellationError() }
        #expect(labels.voxels == mask.voxels)
    }

    @Test func writtenLabelMapsCarryTheSameAffineAsNibabelWrites() throws {
        let mask = try Thresholding.mask(SampleCTGrowingTests.volume, lower: 226, upper: 3071)
        let folder = try Fixtures.temporaryFolder("nifti")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bone.nii.gz")
        try NIfTI.write(LabelMap(mask: mask, label: BonePreset.label), to: url)
        // Header fields that place the volume, ours against nibabel's (the reference file).
        let ours = try Self.header(url), theirs = try Self.header(Self.reference)
        for offset in [76, 80, 84, 88] + Array(stride(from: 256, to: 328, by: 4)) {
            #expect(abs(ours.float(offset) - theirs.float(offset)) < 1e-4, "float at byte \(offset)")
        }
        #expect(ours.int16(252) == 1 && ours.int16(254) == 1)  // qform and sform: scanner
        // The first voxel in RAS is the first slice's ImagePositionPatient (0, −244.042956, 0) in LPS.
        #expect(ours.float(280 + 12) == 0 && abs(ours.float(296 + 12) - 244.042956) < 1e-4)
        let back = try NIfTI.readLabelMap(url)
        #expect(back.labels == [BonePreset.label])
        #expect(back.geometry.dimensions == mask.dimensions)
        guard case .uint8(let voxels) = back.storage else { throw CancellationError() }
        #expect(voxels.voxels == mask.voxels)
    }

    @Test func obliqueAndUInt16MapsRoundTrip() throws {
        let direction = Matrix3(columns: SIMD3(0, 1, 0), SIMD3(0.6, 0, -0.8), SIMD3(-0.8, 0, -0.6))  // det +1
        let labels = Fixtures.smallUInt16LabelMap(direction: direction)
        let geometry = labels.geometry
        guard case .uint16(let original) = labels.storage else { throw CancellationError() }
        let values = original.voxels
        let folder = try Fixtures.temporaryFolder("nifti")
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["m.nii", "m.nii.gz"] {
            let url = folder.appendingPathComponent(name)
            try NIfTI.write(labels, to: url)
            let back = try NIfTI.readLabelMap(url)
            #expect(back.geometry.direction.maxDifference(to: direction) < 1e-6)
            #expect((back.geometry.origin - geometry.origin).length < 1e-4)
            #expect((back.geometry.spacing - geometry.spacing).length < 1e-6)
            #expect(back.labels.map(\.name) == ["vessels", "tumor"])
            guard case .uint16(let v) = back.storage else { throw CancellationError() }
            #expect(v.voxels == values)
            // Without the sform, the qform alone must give the same place.
            var data = try Data(contentsOf: url)
            if name.hasSuffix(".gz") { data = try Gzip.decompress(data, limit: 1 << 20) }
            data[254] = 0
            data[255] = 0
            let qformOnly = folder.appendingPathComponent("q.nii")
            try data.write(to: qformOnly)
            let q = try NIfTI.read(qformOnly)
            #expect(q.geometry.direction.maxDifference(to: direction) < 1e-5)
            #expect((q.geometry.origin - geometry.origin).length < 1e-3)
        }
    }

    @Test func brokenFilesAreRefusedWithTheirName() throws {
        let folder = try Fixtures.temporaryFolder("nifti")
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("notes.nii")
        try Data(repeating: 65, count: 400).write(to: text)
        #expect(throws: NIfTIError.self) { try NIfTI.read(text) }
        var data = try Gzip.decompress(try Data(contentsOf: Self.reference), limit: 1 << 26)
        data = data.prefix(10_000)  // header intact, voxels cut
        let cut = folder.appendingPathComponent("cut.nii")
        try data.write(to: cut)
        do {
            _ = try NIfTI.read(cut)
            Issue.record("a truncated file was read")
        } catch {
            #expect(error.description.contains("cut.nii") && error.description.contains("256×256×108"))
        }
    }

    @Test func bonePresetFindsTheSkullAndLeavesTheHeadRest() throws {
        // Components of [226, 3071] HU with a voxel ≥ 700 HU: the skull (432,593 voxels), two small
        // bones of 118 and 73 voxels (≥ 0.1 mL), and one half of the CT head rest (20,897 voxels,
        // up to 784 HU), which lies outside the body and is left out as table.
        let result = try BonePreset().run(SampleCTGrowingTests.volume, modality: "CT")
        #expect(result.voxelCount == 432_593 + 118 + 73)
        #expect(result.tableComponents.map(\.voxels) == [20_897])
        #expect(result.tableComponents.allSatisfy { $0.insideBody < 0.5 })
        #expect(result.islandsRemoved >= 1)
        #expect(result.mask[179, 92, 80] == 1)
        var keep = BonePreset()
        keep.excludeTable = false
        #expect(try keep.run(SampleCTGrowingTests.volume, modality: "CT").voxelCount == 432_593 + 118 + 73 + 20_897)
        // A user seed grows only its own component.
        let seeded = try BonePreset().run(SampleCTGrowingTests.volume, modality: "CT", seeds: [.voxel(SIMD3(179, 92, 80))])
        #expect(seeded.voxelCount == 432_593 && seeded.automaticSeedVoxels == 0)
        #expect(throws: SegmentationError.wrongModality(structure: BonePreset.label.name, expected: "CT", found: "MR")) {
            try BonePreset().run(SampleCTGrowingTests.volume, modality: "MR")
        }
    }

    @Test func componentsIslandsAndMorphology() throws {
        var v = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(12, 12, 12)), filledWith: 0)
        for k in 2..<9 { for j in 2..<9 { for i in 2..<9 { v[i, j, k] = 1 } } }  // a 7³ cube
        v[5, 5, 5] = 0  // a one-voxel cavity
        v[11, 11, 11] = 1  // an island
        let components = MaskComponents.components(of: v)
        #expect(components.map(\.voxels) == [342, 1])
        #expect(MaskComponents.keepLargest(v).voxels.reduce(0) { $0 + Int($1) } == 342)
        let (cleaned, removed) = MaskComponents.removeIslands(v, smallerThan: 0.002)  // 2 mm³
        #expect(removed == 1 && cleaned[11, 11, 11] == 0)
        let filled = Morphology.fillHoles(cleaned)
        #expect(filled[5, 5, 5] == 1 && filled.voxels.reduce(0) { $0 + Int($1) } == 343)
        let eroded = Morphology.erode(filled, radius: 1)
        #expect(eroded.voxels.reduce(0) { $0 + Int($1) } == 125)  // 5³
        let dilated = Morphology.dilate(eroded, radius: 1)
        #expect(dilated.voxels.reduce(0) { $0 + Int($1) } == 125 + 6 * 25)  // faces only at radius 1
        #expect(Morphology.open(filled, radius: 1) == dilated)
    }

    static func header(_ url: URL) throws -> (float: (Int) -> Float, int16: (Int) -> Int16) {
        var data = try Data(contentsOf: url)
        if Gzip.isCompressed(data) { data = try Gzip.decompress(data, limit: 1 << 26) }
        let header = data.prefix(348)
        return ({ offset in header.withUnsafeBytes { Float(bitPattern: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) } },
                { offset in header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int16.self) } })
    }
}

extension Volume: Equatable where Voxel: Equatable {
    public static func == (a: Volume, b: Volume) -> Bool { a.geometry == b.geometry && a.voxels == b.voxels }
}
