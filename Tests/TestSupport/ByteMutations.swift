import Phantoms

/// What the mutation tests (Tests/DICOMTests/FuzzRegressionTests.swift,
/// Tests/SegmentationTests/NIfTIMutationTests.swift) share: a seeded generator, so mutant n of a
/// file is the same on every run and platform, and the mutations any damaged file shows
/// (flipped bits, a cut, junk inserted, a little-endian field overwritten).

/// Phantoms' SplitMix64, with the draw the mutations need.
public typealias MutationRandom = SplitMix64

extension SplitMix64 {
    /// A number in 0..<bound (0 when bound is 0).
    public mutating func below(_ bound: Int) -> Int { bound > 0 ? Int(next() % UInt64(bound)) : 0 }
}

public enum ByteMutations {
    /// One to eight bits flipped anywhere.
    public static func flipBits(_ bytes: inout [UInt8], _ random: inout MutationRandom) {
        guard !bytes.isEmpty else { return }
        for _ in 0..<(1 + random.below(8)) {
            bytes[random.below(bytes.count)] ^= UInt8(1) << UInt8(random.below(8))
        }
    }

    /// The file cut anywhere, possibly to nothing.
    public static func truncate(_ bytes: inout [UInt8], _ random: inout MutationRandom) {
        bytes.removeSubrange(random.below(bytes.count + 1)...)
    }

    /// 1 to 64 random bytes inserted anywhere.
    public static func insertJunk(_ bytes: inout [UInt8], _ random: inout MutationRandom) {
        let junk = (0..<(1 + random.below(64))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        bytes.insert(contentsOf: junk, at: random.below(bytes.count + 1))
    }

    /// `value`'s low `width` bytes written little-endian at `offset` (what lies past the end is dropped).
    public static func overwrite(_ bytes: inout [UInt8], at offset: Int, width: Int, with value: UInt32) {
        for byte in 0..<width where offset + byte < bytes.count {
            bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(byte)))
        }
    }
}
