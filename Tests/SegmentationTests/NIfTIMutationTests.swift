import Foundation
import Phantoms
import Testing
import TestSupport
import VolumeCore
@testable import VolumeIO

/// The NIfTI half of the fuzz regression tests (the DICOM half is Tests/DICOMTests/FuzzRegressionTests.swift;
/// this one lives here because DICOMTests does not depend on VolumeIO). Small NIfTI files made
/// here, mutated 300 times each with a fixed seed (bit flips, truncation, header fields overwritten
/// with extreme values, junk inserted; plain and gzipped), read back: every mutant is read or
/// refused with a thrown NIfTIError that names the file. A trap ends the test process.
@Suite struct NIfTIMutationTests {
    /// A 4×3×2 UInt16 label map with two named labels (so the comment extension is there too) and
    /// a 5×4×3 Float volume (another datatype, no extension).
    static func originals() throws -> [(name: String, bytes: [UInt8])] {
        let labels = Fixtures.smallUInt16LabelMap(direction: Matrix3(columns: SIMD3(0, 1, 0), SIMD3(-1, 0, 0), SIMD3(0, 0, 1)))
        let labelBytes = [UInt8](try NIfTI.data(labels, gzip: false))

        let folder = try Fixtures.temporaryFolder("nifti-original")
        defer { try? FileManager.default.removeItem(at: folder) }
        let floatGeometry = VolumeGeometry(dimensions: SIMD3(5, 4, 3), spacing: SIMD3(1, 1, 2))
        let floats = Volume<Float>(geometry: floatGeometry, voxels: (0..<60).map { Float($0) * 0.5 - 3 })
        let url = folder.appendingPathComponent("float.nii")
        try NIfTI.write(floats, to: url)
        return [("labels", labelBytes), ("float", [UInt8](try Data(contentsOf: url)))]
    }

    @Test func mutatedNIfTIFilesAreReadOrRefused() throws {
        let folder = try Fixtures.temporaryFolder("nifti-mutants")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (index, original) in try Self.originals().enumerated() {
            // The original reads, or the test would prove nothing.
            let plain = folder.appendingPathComponent("\(original.name).nii")
            try Data(original.bytes).write(to: plain)
            _ = try NIfTI.read(plain)

            var random = MutationRandom(seed: 0xA11CE + UInt64(index))
            for number in 0..<300 {
                var mutant = NIfTIMutator.mutate(original.bytes, random: &random)
                // A third of them gzipped (.nii.gz), and of those half with the gzip stream itself damaged.
                let gzipped = number % 3 == 2
                if gzipped {
                    mutant = [UInt8](try Gzip.compress(Data(mutant)))
                    if number % 2 == 0 { mutant = NIfTIMutator.mutate(mutant, random: &random) }
                }
                let name = "\(original.name)-mutant-\(number).nii" + (gzipped ? ".gz" : "")
                let url = folder.appendingPathComponent(name)
                try Data(mutant).write(to: url)
                do throws(NIfTIError) {
                    // maxBytes as a caller with a limit would give it; the default is 16 GiB.
                    let image = try NIfTI.read(url, maxBytes: 64 << 20)
                    #expect(image.geometry.voxelCount > 0, "\(name)")
                } catch {
                    #expect(error.description.contains(name), "\(name): \(error.description)")
                }
                do throws(NIfTIError) {
                    _ = try NIfTI.readLabelMap(url)
                } catch {
                    #expect(error.description.contains(name), "\(name): \(error.description)")
                }
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}

/// Flipped bits, a cut, junk inserted, and header fields overwritten: the NIfTI-1 header's
/// numbers sit at fixed offsets, so the fields that size, place and type the data (sizeof_hdr,
/// dim, datatype, bitpix, pixdim, vox_offset, qform/sform codes and parameters, the extension
/// flag and size) get extreme values: zero, negative, the largest, NaN, infinities.
private enum NIfTIMutator {
    /// (offset, width) of header fields; 4-byte fields at 76...108 and 252...328 are floats.
    static let fields: [(offset: Int, width: Int)] = [(0, 4), (40, 2), (42, 2), (44, 2), (46, 2), (48, 2), (50, 2),
                                                      (70, 2), (72, 2), (76, 4), (80, 4), (84, 4), (88, 4),
                                                      (108, 4), (112, 4), (252, 2), (254, 2), (256, 4), (260, 4),
                                                      (264, 4), (268, 4), (280, 4), (284, 4), (296, 4), (312, 4),
                                                      (348, 1), (352, 4), (356, 4)]
    static let values: [UInt32] = [0, 1, 2, 3, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 348, 352,
                                   0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                   Float.nan.bitPattern, Float.infinity.bitPattern, (-Float.infinity).bitPattern,
                                   Float(1e30).bitPattern, Float(-1e30).bitPattern, Float(9.2e18).bitPattern,
                                   Float(-0.0).bitPattern, Float(1e-30).bitPattern]

    static func mutate(_ input: [UInt8], random: inout MutationRandom) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + random.below(3)) {
            switch random.below(5) {
            case 0: ByteMutations.flipBits(&bytes, &random)
            case 1: ByteMutations.truncate(&bytes, &random)
            case 2: ByteMutations.insertJunk(&bytes, &random)
            default:
                let field = fields[random.below(fields.count)]
                let value = random.below(4) == 0 ? UInt32(truncatingIfNeeded: random.next()) : values[random.below(values.count)]
                ByteMutations.overwrite(&bytes, at: field.offset, width: field.width, with: value)
            }
        }
        return bytes
    }
}
