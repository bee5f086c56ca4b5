/// How a frame's stored samples are laid out (group 0028).
public struct PixelFormat: Hashable, Sendable, CustomStringConvertible {
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    public var isSigned: Bool
    public var samplesPerPixel: Int
    public var photometricInterpretation: String

    public var bytesPerSample: Int { bitsAllocated == 1 ? 0 : bitsAllocated / 8 }

    /// Bytes of one decoded frame of `pixels` pixels.
    public func frameBytes(pixels: Int) -> Int {
        bitsAllocated == 1 ? (pixels * samplesPerPixel + 7) / 8 : pixels * samplesPerPixel * bytesPerSample
    }

    /// Smallest and largest value the stored bits can hold.
    public var storedRange: ClosedRange<Int64> {
        let bits = Int64(max(1, min(bitsStored, 32)))
        return isSigned ? -(1 << (bits - 1))...((1 << (bits - 1)) - 1) : 0...((1 << bits) - 1)
    }

    public var description: String {
        "\(bitsAllocated)-bit allocated, \(bitsStored) stored, \(isSigned ? "signed" : "unsigned"), " +
            "\(samplesPerPixel) sample(s), \(photometricInterpretation)"
    }

    /// Why this format cannot be decoded into a scalar volume, or nil when it can.
    var unsupportedReason: String? {
        guard [1, 8, 16, 32].contains(bitsAllocated) else {
            return "BitsAllocated \(bitsAllocated) is not supported (1, 8, 16 or 32)"
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated, highBit >= bitsStored - 1, highBit < bitsAllocated else {
            return "inconsistent BitsStored \(bitsStored) / HighBit \(highBit) for BitsAllocated \(bitsAllocated)"
        }
        return nil
    }

    /// Reads sample `index` of a decoded frame as its stored integer value: the bits
    /// BitsStored/HighBit select, sign-extended when PixelRepresentation is 1.
    @inlinable
    public func storedValue(_ raw: UnsafeRawBufferPointer, at index: Int) -> Int64 {
        let word: UInt64
        switch bitsAllocated {
        case 1: return Int64((raw[index >> 3] >> UInt8(index & 7)) & 1)
        case 8: word = UInt64(raw[index])
        case 16: word = UInt64(raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        default: word = UInt64(raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
        }
        let shift = UInt64(highBit + 1 - bitsStored)
        let mask: UInt64 = bitsStored >= 64 ? .max : (1 << UInt64(bitsStored)) - 1
        let bits = (word >> shift) & mask
        if isSigned, bitsStored < 64, bits & (1 << UInt64(bitsStored - 1)) != 0 {
            return Int64(bitPattern: bits | ~mask)
        }
        return Int64(bitPattern: bits)
    }
}
