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
    public static let transferSyntaxUID = DicomTag(0x0002, 0x0010)
    public static let mediaStorageSOPClassUID = DicomTag(0x0002, 0x0002)
    public static let imageType = DicomTag(0x0008, 0x0008)
    public static let sopClassUID = DicomTag(0x0008, 0x0016)
    public static let sopInstanceUID = DicomTag(0x0008, 0x0018)
    public static let patientName = DicomTag(0x0010, 0x0010)
    public static let patientID = DicomTag(0x0010, 0x0020)
    public static let modality = DicomTag(0x0008, 0x0060)
    public static let studyDescription = DicomTag(0x0008, 0x1030)
    public static let seriesDescription = DicomTag(0x0008, 0x103E)
    public static let sliceThickness = DicomTag(0x0018, 0x0050)
    public static let echoTime = DicomTag(0x0018, 0x0081)
    public static let echoNumbers = DicomTag(0x0018, 0x0086)
    public static let spacingBetweenSlices = DicomTag(0x0018, 0x0088)
    public static let triggerTime = DicomTag(0x0018, 0x1060)
    public static let gantryDetectorTilt = DicomTag(0x0018, 0x1120)
    public static let effectiveEchoTime = DicomTag(0x0018, 0x9082)
    public static let mrEchoSequence = DicomTag(0x0018, 0x9114)
    public static let studyInstanceUID = DicomTag(0x0020, 0x000D)
    public static let seriesInstanceUID = DicomTag(0x0020, 0x000E)
    public static let seriesNumber = DicomTag(0x0020, 0x0011)
    public static let acquisitionNumber = DicomTag(0x0020, 0x0012)
    public static let instanceNumber = DicomTag(0x0020, 0x0013)
    public static let imagePositionPatient = DicomTag(0x0020, 0x0032)
    public static let imageOrientationPatient = DicomTag(0x0020, 0x0037)
    public static let frameOfReferenceUID = DicomTag(0x0020, 0x0052)
    public static let temporalPositionIdentifier = DicomTag(0x0020, 0x0100)
    public static let stackID = DicomTag(0x0020, 0x9056)
    public static let inStackPositionNumber = DicomTag(0x0020, 0x9057)
    public static let frameContentSequence = DicomTag(0x0020, 0x9111)
    public static let planePositionSequence = DicomTag(0x0020, 0x9113)
    public static let planeOrientationSequence = DicomTag(0x0020, 0x9116)
    public static let temporalPositionIndex = DicomTag(0x0020, 0x9128)
    public static let samplesPerPixel = DicomTag(0x0028, 0x0002)
    public static let photometricInterpretation = DicomTag(0x0028, 0x0004)
    public static let planarConfiguration = DicomTag(0x0028, 0x0006)
    public static let numberOfFrames = DicomTag(0x0028, 0x0008)
    public static let rows = DicomTag(0x0028, 0x0010)
    public static let columns = DicomTag(0x0028, 0x0011)
    public static let pixelSpacing = DicomTag(0x0028, 0x0030)
    public static let bitsAllocated = DicomTag(0x0028, 0x0100)
    public static let bitsStored = DicomTag(0x0028, 0x0101)
    public static let highBit = DicomTag(0x0028, 0x0102)
    public static let pixelRepresentation = DicomTag(0x0028, 0x0103)
    public static let rescaleIntercept = DicomTag(0x0028, 0x1052)
    public static let rescaleSlope = DicomTag(0x0028, 0x1053)
    public static let rescaleType = DicomTag(0x0028, 0x1054)
    public static let pixelMeasuresSequence = DicomTag(0x0028, 0x9110)
    public static let pixelValueTransformationSequence = DicomTag(0x0028, 0x9145)
    public static let gridFrameOffsetVector = DicomTag(0x3004, 0x000C)
    public static let doseGridScaling = DicomTag(0x3004, 0x000E)
    public static let sharedFunctionalGroupsSequence = DicomTag(0x5200, 0x9229)
    public static let perFrameFunctionalGroupsSequence = DicomTag(0x5200, 0x9230)
    public static let pixelData = DicomTag(0x7FE0, 0x0010)
}

extension DicomTag {
    public static let imagerPixelSpacing = DicomTag(0x0018, 0x1164)
    public static let windowCenter = DicomTag(0x0028, 0x1050)
    public static let windowWidth = DicomTag(0x0028, 0x1051)
    public static let frameIncrementPointer = DicomTag(0x0028, 0x0009)
    public static let sliceLocation = DicomTag(0x0020, 0x1041)
}
