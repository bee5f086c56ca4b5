extension DicomFile {
    /// The stored-sample layout this object declares (group 0028), nil without pixel attributes.
    public func pixelFormat() -> PixelFormat? {
        guard let bitsAllocated = int(.bitsAllocated) else { return nil }
        let bitsStored = int(.bitsStored) ?? bitsAllocated
        return PixelFormat(bitsAllocated: bitsAllocated, bitsStored: bitsStored,
                           highBit: int(.highBit) ?? bitsStored - 1,
                           isSigned: int(.pixelRepresentation) == 1,
                           samplesPerPixel: int(.samplesPerPixel) ?? 1,
                           photometricInterpretation: string(.photometricInterpretation) ?? "MONOCHROME2")
    }

    /// Decodes one frame and returns its stored values (before rescale), pixel by pixel with
    /// samples interleaved (R, G, B, R, …) whatever the PlanarConfiguration, plus the colour model
    /// of the decoded samples (DCMTK returns JPEG YBR as RGB).
    public func storedValues(frame: Int) throws(DicomError) -> (values: [Int64], colorModel: String) {
        guard let format = pixelFormat(), format.unsupportedReason == nil,
              let rows = int(.rows), let columns = int(.columns), rows > 0, columns > 0 else {
            throw .unusable(path: path, reason: "missing or unsupported pixel description (group 0028)")
        }
        let pixels = rows * columns, samples = format.samplesPerPixel
        let bytes = format.frameBytes(pixels: pixels)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes + 2, alignment: 16)
        defer { buffer.deallocate() }
        let decoded = try decodeFrame(frame, into: buffer)
        guard decoded.bytes >= bytes || decoded.colorModel == "YBR_FULL_422" else {
            throw .decodeFailed(path: path, reason: "frame \(frame): decoded \(decoded.bytes) bytes, expected \(bytes)")
        }
        let raw = UnsafeRawBufferPointer(buffer)
        var values = [Int64](repeating: 0, count: pixels * samples)
        if decoded.colorModel == "YBR_FULL_422", samples == 3, decoded.bytes < bytes {
            // Native 4:2:2: each pixel pair is stored as Y1 Y2 Cb Cr; give both pixels the pair's Cb, Cr.
            for pair in 0..<(pixels / 2) {
                let y1 = format.storedValue(raw, at: pair * 4), y2 = format.storedValue(raw, at: pair * 4 + 1)
                let cb = format.storedValue(raw, at: pair * 4 + 2), cr = format.storedValue(raw, at: pair * 4 + 3)
                values.replaceSubrange(pair * 6..<pair * 6 + 6, with: [y1, cb, cr, y2, cb, cr])
            }
            return (values, "YBR_FULL")
        }
        let planar = samples > 1 && int(.planarConfiguration) == 1
        for index in 0..<(pixels * samples) {
            // Planar data holds all of sample 0, then all of sample 1, ...
            let target = planar ? (index % pixels) * samples + index / pixels : index
            values[target] = format.storedValue(raw, at: index)
        }
        return (values, decoded.colorModel)
    }
}
