/// Turns one decoded frame (stored samples) into voxel values: `stored × slope + intercept`.
enum FrameConversion {
    /// Integer rescale into Int16. Returns false when a value does not fit in Int16 (the caller
    /// then loads the series as Float); the written values are clamped either way.
    static func toInt16(_ raw: UnsafeRawBufferPointer, count: Int, format: PixelFormat,
                        slope: Int32, intercept: Int32, into out: UnsafeMutablePointer<Int16>) -> Bool {
        var low = Int32.max, high = Int32.min
        if format.bitsAllocated == 16 && format.highBit == format.bitsStored - 1 {
            // The common case (CT, MR): 16-bit words, low bits stored. Kept simple so it vectorises
            // (masking shifts and wrapping arithmetic: no overflow or over-shift branches).
            let words = raw.bindMemory(to: UInt16.self)
            let mask = UInt16(truncatingIfNeeded: (1 << format.bitsStored) - 1)
            let shift = UInt16(16 - format.bitsStored)
            if format.isSigned {
                for index in 0..<count {
                    let stored = Int32(Int16(bitPattern: (words[index] & mask) &<< shift) &>> shift)
                    let value = stored &* slope &+ intercept
                    low = min(low, value)
                    high = max(high, value)
                    out[index] = Int16(truncatingIfNeeded: min(max(value, -32768), 32767))
                }
            } else {
                for index in 0..<count {
                    let value = Int32(words[index] & mask) &* slope &+ intercept
                    low = min(low, value)
                    high = max(high, value)
                    out[index] = Int16(truncatingIfNeeded: min(max(value, -32768), 32767))
                }
            }
        } else {
            let slope64 = Int64(slope), intercept64 = Int64(intercept)
            for index in 0..<count {
                let value = format.storedValue(raw, at: index) * slope64 + intercept64
                let clamped = Int32(clamping: value)
                low = min(low, clamped)
                high = max(high, clamped)
                out[index] = Int16(clamping: value)
            }
        }
        return count == 0 || (low >= -32768 && high <= 32767)
    }

    /// Real-valued rescale into Float.
    static func toFloat(_ raw: UnsafeRawBufferPointer, count: Int, format: PixelFormat,
                        slope: Double, intercept: Double, into out: UnsafeMutablePointer<Float>) {
        if format.bitsAllocated == 16 && format.highBit == format.bitsStored - 1 {
            let words = raw.bindMemory(to: UInt16.self)
            let mask = UInt16(truncatingIfNeeded: (1 << format.bitsStored) - 1)
            let shift = UInt16(16 - format.bitsStored)
            for index in 0..<count {
                let bits = words[index] & mask
                let stored = format.isSigned ? Double(Int16(bitPattern: bits &<< shift) &>> shift) : Double(bits)
                out[index] = Float(stored * slope + intercept)
            }
        } else {
            for index in 0..<count {
                out[index] = Float(Double(format.storedValue(raw, at: index)) * slope + intercept)
            }
        }
    }
}
