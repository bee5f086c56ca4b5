/// A DICOM attribute tag (group, element).
public struct DicomTag: Hashable, Sendable, CustomStringConvertible {
    public let group: UInt16
    public let element: UInt16

    public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    var packed: UInt32 { UInt32(group) << 16 | UInt32(element) }

    public var description: String {
        "(" + hex(group) + "," + hex(element) + ")"
    }

    private func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// The attributes the loader reads, by their DICOM keyword.
extension DicomTag {
    static let transferSyntaxUID = DicomTag(0x0002, 0x0010)
    static let mediaStorageSOPClassUID = DicomTag(0x0002, 0x0002)
    static let imageType = DicomTag(0x0008, 0x0008)
    static let sopClassUID = DicomTag(0x0008, 0x0016)
    static let sopInstanceUID = DicomTag(0x0008, 0x0018)
    static let modality = DicomTag(0x0008, 0x0060)
    static let studyDescription = DicomTag(0x0008, 0x1030)
    static let seriesDescription = DicomTag(0x0008, 0x103E)
    static let sliceThickness = DicomTag(0x0018, 0x0050)
    static let echoTime = DicomTag(0x0018, 0x0081)
    static let echoNumbers = DicomTag(0x0018, 0x0086)
    static let spacingBetweenSlices = DicomTag(0x0018, 0x0088)
    static let triggerTime = DicomTag(0x0018, 0x1060)
    static let gantryDetectorTilt = DicomTag(0x0018, 0x1120)
    static let effectiveEchoTime = DicomTag(0x0018, 0x9082)
    static let mrEchoSequence = DicomTag(0x0018, 0x9114)
    static let studyInstanceUID = DicomTag(0x0020, 0x000D)
    static let seriesInstanceUID = DicomTag(0x0020, 0x000E)
    static let seriesNumber = DicomTag(0x0020, 0x0011)
    static let acquisitionNumber = DicomTag(0x0020, 0x0012)
    static let instanceNumber = DicomTag(0x0020, 0x0013)
    static let imagePositionPatient = DicomTag(0x0020, 0x0032)
    static let imageOrientationPatient = DicomTag(0x0020, 0x0037)
    static let frameOfReferenceUID = DicomTag(0x0020, 0x0052)
    static let temporalPositionIdentifier = DicomTag(0x0020, 0x0100)
    static let stackID = DicomTag(0x0020, 0x9056)
    static let inStackPositionNumber = DicomTag(0x0020, 0x9057)
    static let frameContentSequence = DicomTag(0x0020, 0x9111)
    static let planePositionSequence = DicomTag(0x0020, 0x9113)
    static let planeOrientationSequence = DicomTag(0x0020, 0x9116)
    static let temporalPositionIndex = DicomTag(0x0020, 0x9128)
    static let samplesPerPixel = DicomTag(0x0028, 0x0002)
    static let photometricInterpretation = DicomTag(0x0028, 0x0004)
    static let planarConfiguration = DicomTag(0x0028, 0x0006)
    static let numberOfFrames = DicomTag(0x0028, 0x0008)
    static let rows = DicomTag(0x0028, 0x0010)
    static let columns = DicomTag(0x0028, 0x0011)
    static let pixelSpacing = DicomTag(0x0028, 0x0030)
    static let bitsAllocated = DicomTag(0x0028, 0x0100)
    static let bitsStored = DicomTag(0x0028, 0x0101)
    static let highBit = DicomTag(0x0028, 0x0102)
    static let pixelRepresentation = DicomTag(0x0028, 0x0103)
    static let rescaleIntercept = DicomTag(0x0028, 0x1052)
    static let rescaleSlope = DicomTag(0x0028, 0x1053)
    static let rescaleType = DicomTag(0x0028, 0x1054)
    static let pixelMeasuresSequence = DicomTag(0x0028, 0x9110)
    static let pixelValueTransformationSequence = DicomTag(0x0028, 0x9145)
    static let gridFrameOffsetVector = DicomTag(0x3004, 0x000C)
    static let doseGridScaling = DicomTag(0x3004, 0x000E)
    static let sharedFunctionalGroupsSequence = DicomTag(0x5200, 0x9229)
    static let perFrameFunctionalGroupsSequence = DicomTag(0x5200, 0x9230)
    static let pixelData = DicomTag(0x7FE0, 0x0010)
}

extension DicomTag {
    static let imagerPixelSpacing = DicomTag(0x0018, 0x1164)
    static let windowCenter = DicomTag(0x0028, 0x1050)
    static let windowWidth = DicomTag(0x0028, 0x1051)
    static let frameIncrementPointer = DicomTag(0x0028, 0x0009)
    static let sliceLocation = DicomTag(0x0020, 0x1041)
}
