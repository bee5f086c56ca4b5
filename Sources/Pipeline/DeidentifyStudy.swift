import DICOM
import Foundation
import Segmentation
import ScenePackage
import VolumeCore

/// Use case: a de-identified DICOM copy of a study (issue #19), for research, teaching or a
/// registry. The series a scene would be made of (the largest, as `Pipeline.run` picks it) is
/// written again under DICOM PS3.15 Annex E's Basic Application Level Confidentiality Profile
/// (`ConfidentialityProfile.basic`, through `DicomDeidentifier`): identifying attributes removed,
/// emptied or given dummy values, UIDs replaced the way a scene package replaces them (a keyed hash
/// whose key is the study's voxels: the same study always gets the same UIDs, the package's and the
/// copy's alike), private attributes removed. A defacer may replace the pixels (Clean Recognizable
/// Visual Features Option). `vrprep deidentify` and `POST /v1/studies/{id}/deidentified` run it.
public enum DeidentifyStudy {
    /// Gives the volume that replaces the series' pixels (same grid, same values: HU for CT), or nil
    /// when there is nothing to change. Defacing plugs in here.
    public typealias Defacer = @Sendable (LoadedSeries) throws -> AnyVolume?

    public struct Options: Sendable {
        /// Dates moved by this many days (Retain Longitudinal Temporal Information with Modified
        /// Dates Option); nil: dates emptied or removed as the table says.
        public var shiftDays: Int?
        /// Replaces the pixels (defacing); nil: pixels untouched.
        public var defacer: Defacer?
        public var softwareVersion = "0.0.0"
        public var threads: Int?

        public init(shiftDays: Int? = nil, defacer: Defacer? = nil, softwareVersion: String = "0.0.0", threads: Int? = nil) {
            (self.shiftDays, self.defacer, self.softwareVersion, self.threads) = (shiftDays, defacer, softwareVersion, threads)
        }
    }

    /// The days a date may be moved by (about 100 years either way; 0 would keep the dates).
    public static let shiftRange = -36_525...36_525

    public struct Report: Codable, Sendable {
        public struct File: Codable, Sendable {
            public var path: String
            public var bytes: Int
            public var replacedFrames: Int
        }

        /// The folder written.
        public var folder: String
        /// The copy's (replaced) UIDs.
        public var studyInstanceUID: String
        public var seriesInstanceUID: String
        public var modality: String
        public var dimensions: [Int]
        public var spacing: [Double]
        public var files: [File]
        /// Whether the pixels were replaced by the defacer.
        public var defaced: Bool
        /// The days dates were moved by, or nil when dates were removed.
        public var datesShiftedDays: Int?
        /// DeidentificationMethod, and the codes of DeidentificationMethodCodeSequence (CID 7050).
        public var method: String
        public var methodCodes: [String]
        public var seconds: Double
    }

    /// The profile and each option, as CID 7050 codes them.
    public static let basicProfile = DicomSegmentation.Code("113100", "DCM", "Basic Application Confidentiality Profile")
    public static let cleanVisualFeatures = DicomSegmentation.Code("113102", "DCM", "Clean Recognizable Visual Features Option")
    public static let modifiedDates = DicomSegmentation.Code("113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option")

    /// The defacer of a mode (`DefaceStudy`): the series' face removed (`auto`: when one is
    /// found, and when the mode is nil; `on`: an error when none is); nil for `off`.
    public static func defacer(_ asked: DefaceStudy.Mode?, threads: Int?) -> Defacer? {
        let mode = asked ?? .auto
        guard mode != .off else { return nil }
        return { series in
            var copy = series
            let outcome = try DefaceStudy.apply(&copy, mode: mode, threads: threads)
            return outcome.record.removed ? copy.volume : nil
        }
    }

    /// The dummy PatientName.
    public static let patientName = "ANONYMOUS"

    /// Checks what can be checked before any work: the output folder (absent, or empty) and the shift.
    public static func check(out folder: URL, shiftDays: Int?) throws(UseCaseFailure) {
        if let shiftDays, !shiftRange.contains(shiftDays) || shiftDays == 0 {
            throw UseCaseFailure(description: "the date shift must be \(shiftRange.lowerBound)…\(shiftRange.upperBound) days and not 0 " +
                                 "(0 would keep the real dates), not \(shiftDays)")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw UseCaseFailure(description: "\(folder.path) exists and is not a folder") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            guard entries.isEmpty else {
                throw UseCaseFailure(description: "\(folder.path) exists and is not empty (\(entries.count) entr\(entries.count == 1 ? "y" : "ies")): " +
                                     "give a new or empty folder")
            }
        }
    }

    public static func run(study paths: [String], out folder: URL, options: Options = Options(),
                           observer: (any UseCaseObserver)? = nil) throws(UseCaseFailure) -> Report {
        let start = Date()
        try check(out: folder, shiftDays: options.shiftDays)
        try observer.step("loading", fraction: 0)
        // The source files must stay while they are copied: a study in a zip is extracted for the time of it.
        return try DicomLoader(threads: options.threads).withLoaded(paths, progress: { p in observer?.step(p.step(within: 0...0.5)) }) {
            report throws(UseCaseFailure) in
            observer?.loaded(LoadNotes(rejected: report.rejected))
            let series = try SeriesChoice.choose(report, from: paths)
            return try write(series, out: folder, options: options, observer: observer, start: start)
        }
    }

    static func write(_ series: LoadedSeries, out folder: URL, options: Options, observer: (any UseCaseObserver)?,
                      start: Date) throws(UseCaseFailure) -> Report {
        var replacement: AnyVolume?
        if let defacer = options.defacer {
            try observer.step("defacing", fraction: 0.5)
            do {
                replacement = try defacer(series)
            } catch let failure as UseCaseFailure {
                throw failure
            } catch {
                throw UseCaseFailure(description: "defacing failed: \(error)")
            }
        }
        try observer.step("writing", fraction: 0.6)
        // The same keyed hash as the scene package's (its key: the series' voxels as loaded).
        let uids = Deidentification(volume: series.volume)
        let studyUID = uids.replace(series.info.studyInstanceUID)
        var codes = [basicProfile]
        if replacement != nil { codes.append(cleanVisualFeatures) }
        if options.shiftDays != nil { codes.append(modifiedDates) }
        let method = "VRPrep \(options.softwareVersion): PS3.15 E.1 basic profile" + (replacement != nil ? ", defaced" : "") +
            (options.shiftDays != nil ? ", dates shifted" : "")
        // PatientID: a dummy made from the replaced study UID (no byte of the original).
        let patientID = "ANON" + String(studyUID.suffix(12))
        let deidentifier = DicomDeidentifier.Options(shiftDays: options.shiftDays, method: String(method.prefix(64)), codes: codes,
                                                     values: [0x0010_0010: patientName, 0x0010_0020: patientID])
        // Written beside the folder and moved into place once whole.
        let parent = folder.deletingLastPathComponent()
        let partial = parent.appendingPathComponent(".\(folder.lastPathComponent).partial-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        } catch {
            throw UseCaseFailure(description: "cannot make the output folder beside \(folder.path): \(error.localizedDescription)")
        }
        let written: [DicomDeidentifier.Written]
        do {
            written = try DicomDeidentifier.write(series, replacement: replacement, to: partial, options: deidentifier,
                                                  replaceUID: { uids.replace($0) })
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw UseCaseFailure(description: "cannot write the de-identified copy: \(error.description)")
        }
        try? FileManager.default.removeItem(at: folder)  // empty, as checked
        guard rename(partial.path, folder.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: partial)
            throw UseCaseFailure(description: "cannot move the de-identified copy into place at \(folder.path): \(reason)")
        }
        try observer.step("done", fraction: 1)
        let g = series.info.geometry
        return Report(folder: folder.path, studyInstanceUID: studyUID, seriesInstanceUID: uids.replace(series.info.seriesInstanceUID),
                      modality: series.info.modality, dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z],
                      spacing: [g.spacing.x, g.spacing.y, g.spacing.z],
                      files: written.map { Report.File(path: folder.appendingPathComponent(URL(fileURLWithPath: $0.path).lastPathComponent).path,
                                                       bytes: $0.bytes, replacedFrames: $0.replacedFrames) },
                      defaced: replacement != nil, datesShiftedDays: options.shiftDays, method: String(method.prefix(64)),
                      methodCodes: codes.map(\.value), seconds: Date().timeIntervalSince(start))
    }
}
