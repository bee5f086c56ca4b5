import DICOM
import Foundation
import VolumeCore

/// Use case: what a study holds. Every series found in folders, files or zip archives, with its
/// geometry, value range, encodings and warnings, and every file not used and why. `vrprep
/// inspect` prints it (as text, or as this type's JSON).
public struct StudyInspection: Codable, Sendable {
    public struct Series: Codable, Sendable {
        public var seriesInstanceUID: String
        public var studyInstanceUID: String
        /// Not in the JSON (kept as it was); the text shows it.
        public var studyDescription: String = ""
        public var modality: String
        public var description: String
        public var seriesNumber: Int?
        public var dimensions: [Int]
        public var spacing: [Double]
        public var origin: [Double]
        public var direction: [Double]
        public var valueRange: [Double]?
        public var voxelType: String
        public var units: String?
        public var files: Int
        public var slices: Int
        public var transferSyntaxes: [String]
        public var splitBy: String?
        public var warnings: [String]

        enum CodingKeys: String, CodingKey {
            case seriesInstanceUID, studyInstanceUID, modality, description, seriesNumber, dimensions, spacing, origin, direction,
                 valueRange, voxelType, units, files, slices, transferSyntaxes, splitBy, warnings
        }
    }

    public var series: [Series]
    public var rejected: [Rejection]

    /// Reads the study (the whole series are decoded: the value range needs the pixels).
    public init(_ paths: [String], threads: Int? = nil, observer: (any UseCaseObserver)? = nil) {
        self.init(DicomLoader(threads: threads).load(paths) { p in
            observer?.step(p.step(within: 0...1))
        })
    }

    public init(_ report: LoadReport) {
        series = report.series.map { loaded in
            let info = loaded.info, g = info.geometry
            return Series(
                seriesInstanceUID: info.seriesInstanceUID, studyInstanceUID: info.studyInstanceUID,
                studyDescription: info.studyDescription, modality: info.modality, description: info.seriesDescription,
                seriesNumber: info.seriesNumber, dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z],
                spacing: [g.spacing.x, g.spacing.y, g.spacing.z].map(Self.clean),
                origin: [g.origin.x, g.origin.y, g.origin.z].map(Self.clean),
                direction: g.direction.rowMajor.map(Self.clean),
                valueRange: loaded.valueRange.map { [$0.lowerBound, $0.upperBound] },
                voxelType: loaded.volume.voxelTypeName, units: info.units, files: info.files, slices: info.slices,
                transferSyntaxes: info.transferSyntaxes, splitBy: info.splitBy?.rawValue, warnings: info.warnings)
        }
        rejected = report.rejected
    }

    /// Rounds away binary noise (1e-9) so 0.9570312 prints as written in the DICOM header.
    static func clean(_ value: Double) -> Double {
        let rounded = (value * 1e9).rounded() / 1e9
        return rounded == 0 ? 0 : rounded
    }
}
