import CDCMTK
import Foundation

/// A 3D model as a DICOM object of its study (Encapsulated STL, OBJ or MTL; modality M3D): for
/// 3D printing and planning systems and PACS that keep models (PS3.3 A.85–A.87). The model's
/// coordinates are the study's patient coordinates in millimetres, in the study's frame of
/// reference; the patient and study are those of the source images.
public enum EncapsulatedModel {
    public enum Kind: String, Sendable, CaseIterable {
        case stl, obj, mtl

        var sopClassUID: String {
            switch self {
            case .stl: "1.2.840.10008.5.1.4.1.1.104.3"
            case .obj: "1.2.840.10008.5.1.4.1.1.104.4"
            case .mtl: "1.2.840.10008.5.1.4.1.1.104.5"
            }
        }

        var mimeType: String {
            switch self {
            case .stl: "model/stl"
            case .obj: "model/obj"
            case .mtl: "model/mtl"
            }
        }
    }

    /// The SOP class of a DICOM Segmentation, for a model that says it was made from one.
    public static let segmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"

    /// Writes `document` (the model file's bytes) as a DICOM object of `series`' study.
    public static func write(_ document: Data, kind: Kind, of series: SeriesInfo, seriesUID: String, instanceUID: String,
                             seriesNumber: Int, seriesDescription: String, title: String, softwareVersion: String,
                             madeFrom reference: (sopClassUID: String, sopInstanceUID: String, seriesUID: String)?, to file: URL)
        throws(DicomSegmentation.Failure) {
        guard let source = series.sliceSources?.first?.path ?? series.filePaths.first else {
            throw DicomSegmentation.Failure(description: "series \(series.seriesInstanceUID) lists no file to take the patient and study from")
        }
        // Strings that stay alive while the C call runs (until `c` goes).
        let c = CStrings()
        var settings = cdcm_encap_settings()
        settings.source_path = c(source)
        settings.sop_class_uid = c(kind.sopClassUID)
        settings.mime_type = c(kind.mimeType)
        settings.modality = c("M3D")
        settings.series_uid = c(seriesUID)
        settings.instance_uid = c(instanceUID)
        settings.series_number = Int32(seriesNumber)
        settings.series_description = c(seriesDescription)
        settings.document_title = c(title)
        settings.software_version = c(softwareVersion)
        settings.referenced_sop_class_uid = c(reference?.sopClassUID ?? "")
        settings.referenced_sop_instance_uid = c(reference?.sopInstanceUID ?? "")
        settings.referenced_series_uid = c(reference?.seriesUID ?? "")
        let status = withExtendedLifetime(c) {
            document.withUnsafeBytes { bytes in
                cdcm_write_encapsulated(&settings, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, file.path)
            }
        }
        guard status.code == Int32(CDCM_OK) else {
            try? FileManager.default.removeItem(at: file)
            throw DicomSegmentation.Failure(description: withUnsafeBytes(of: status.message) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            })
        }
    }
}
