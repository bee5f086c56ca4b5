import Foundation
import VolumeCore

/// What is known about one loaded series (one volume).
public struct SeriesInfo: Sendable {
    public var seriesInstanceUID: String
    public var studyInstanceUID: String
    public var frameOfReferenceUID: String
    public var modality: String
    public var sopClassUID: String
    public var seriesDescription: String
    public var studyDescription: String
    public var seriesNumber: Int?
    public var geometry: VolumeGeometry
    /// Files that contributed slices, and slices read (before any interpolation).
    public var files: Int
    public var filePaths: [String]
    public var slices: Int
    public var transferSyntaxes: [String]
    /// What voxel values mean: "HU" for CT, else the RescaleType or nil (values as stored).
    public var units: String?
    public var window: (center: Double, width: Double)?
    /// Set when frames sharing this SeriesInstanceUID were split into several volumes.
    public var splitBy: SplitReason?
    public var warnings: [String]
    /// The image behind each slice of the volume, in order; nil when the slices were
    /// interpolated (uneven spacing), so that no slice is one image.
    public var sliceSources: [SliceSource]?
}

/// The DICOM image (a file, or one frame of a multi-frame file) that one slice of a volume is.
public struct SliceSource: Sendable, Equatable {
    public var path: String
    /// 0-based, among `framesInFile`.
    public var frame: Int
    public var framesInFile: Int
    public var sopClassUID: String
    public var sopInstanceUID: String
    /// ImagePositionPatient (mm), when the image has one.
    public var position: SIMD3<Double>?
    public var rows: Int, columns: Int
    public var rowDirection: SIMD3<Double>?, columnDirection: SIMD3<Double>?
    public var pixelSpacing: SIMD2<Double>?
    public var sliceThickness: Double?
}

public struct LoadedSeries: Sendable {
    public var info: SeriesInfo
    public var volume: AnyVolume
    public var valueRange: ClosedRange<Double>?
}

public struct LoadReport: Sendable {
    public var series: [LoadedSeries]
    /// Files (or archive entries) not used, each with the reason.
    public var rejected: [Rejection]
}

public struct LoadProgress: Sendable {
    public enum Stage: String, Sendable { case reading, decoding }
    public var stage: Stage
    public var done: Int
    public var total: Int
}

/// Loads DICOM series from folders (recursively), files and zip archives.
///
/// Files are grouped into series by SeriesInstanceUID and then by the attributes that must agree
/// within one volume (see `SplitReason`), sorted along the slice normal by ImagePositionPatient,
/// checked for spacing, duplicates and gantry tilt, and decoded in parallel. Nothing unusable
/// stops the rest: every file that is not used is listed in `LoadReport.rejected` with its reason.
public struct DicomLoader: Sendable {
    public var threads: Int
    public var limits: DicomLimits

    public init(threads: Int? = nil, limits: DicomLimits = DicomLimits()) {
        self.threads = max(1, threads ?? Parallelism.defaultThreadCount)
        self.limits = limits
    }

    public func load(_ paths: [String], progress: (@Sendable (LoadProgress) -> Void)? = nil) -> LoadReport {
        let inputs = InputCollection(paths: paths, limits: limits)
        defer { inputs.removeTemporaryFiles() }
        return load(inputs, progress: progress)
    }

    /// Loads the inputs and runs `body` while the files behind the series still exist: zip
    /// entries are extracted to temporary files, which a writer copying attributes from the
    /// source images (`SliceSource.path`) opens again.
    public func withLoaded<T, E: Error>(_ paths: [String], progress: (@Sendable (LoadProgress) -> Void)? = nil,
                                        _ body: (LoadReport) throws(E) -> T) throws(E) -> T {
        let inputs = InputCollection(paths: paths, limits: limits)
        defer { inputs.removeTemporaryFiles() }
        return try body(load(inputs, progress: progress))
    }

    private func load(_ inputs: InputCollection, progress: (@Sendable (LoadProgress) -> Void)?) -> LoadReport {
        var rejected = inputs.rejected
        let (frames, unreadable) = readHeaders(inputs.files, progress: progress)
        rejected += unreadable

        let groups = SeriesGrouping.group(frames).sorted {
            ($0.frames[0].seriesNumber ?? Int.max, $0.frames[0].seriesInstanceUID) <
                ($1.frames[0].seriesNumber ?? Int.max, $1.frames[0].seriesInstanceUID)
        }
        let counter = ProgressCounter(total: frames.count, stage: .decoding, report: progress)
        var series: [LoadedSeries] = []
        for group in groups {
            switch build(group, counter: counter) {
            case .success(let loaded):
                if let built = loaded.series { series.append(built) }
                rejected += loaded.rejected
            case .failure(let error):
                let paths = Set(group.frames.map(\.path)).sorted()
                rejected += paths.map { Rejection(path: $0, reason: "series \(error.path): \(error.reason)") }
            }
        }
        return LoadReport(series: series, rejected: rejected)
    }

    /// Reads every file's header in parallel; keeps input order.
    private func readHeaders(_ files: [InputFile], progress: (@Sendable (LoadProgress) -> Void)?)
        -> ([FrameHeader], [Rejection]) {
        let counter = ProgressCounter(total: files.count, stage: .reading, report: progress)
        let limits = self.limits
        let results = parallelMap(0..<files.count, grain: 4, threads: threads) { range in
            range.map { index -> Swift.Result<[FrameHeader], DicomError> in
                defer { counter.add(1) }
                let input = files[index]
                if let reason = Self.sniff(input.diskPath) {
                    return .failure(.notDicom(path: input.displayPath, reason: reason))
                }
                do throws(DicomError) {
                    let file = try DicomFile(path: input.diskPath, name: input.displayPath)
                    return .success(try FrameHeader.read(file, diskPath: input.diskPath, limits: limits))
                } catch {
                    return .failure(error)
                }
            }
        }.flatMap { $0 }
        var frames: [FrameHeader] = []
        var rejected: [Rejection] = []
        for result in results {
            switch result {
            case .success(let headers): frames += headers
            case .failure(let error): rejected.append(Rejection(path: error.path, reason: error.reason))
            }
        }
        return (frames, rejected)
    }

    /// A quick look at the first bytes: "DICM" at offset 128 (Part 10), or a plausible dataset
    /// start (group 0002 or 0008, either byte order). Returns why the file is not DICOM, or nil.
    static func sniff(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "cannot open file for reading" }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 132)) ?? Data()
        if head.isEmpty { return "empty file" }
        if head.count >= 132, head[128..<132] == Data("DICM".utf8) { return nil }
        if head.count >= 8 {
            let groupLE = UInt16(head[0]) | UInt16(head[1]) << 8
            let groupBE = UInt16(head[0]) << 8 | UInt16(head[1])
            if [0x0002, 0x0008].contains(groupLE) || [0x0002, 0x0008].contains(groupBE) { return nil }
        }
        return "not a DICOM file (no \"DICM\" marker at byte 128 and no DICOM dataset at the start)"
    }

    private struct Built {
        /// Nil when no slice of the group could be decoded (the reasons are in `rejected`).
        var series: LoadedSeries?
        var rejected: [Rejection]
    }

    private func build(_ group: SeriesGrouping.Group, counter: ProgressCounter) -> Swift.Result<Built, DicomError> {
        let plan: SeriesPlan
        do {
            plan = try SeriesPlan.make(group.frames, splitBy: group.splitBy, limits: limits)
        } catch {
            return .failure(error)
        }
        let output = SeriesDecoding.preferredOutput(plan.frames)
        let decoded = SeriesDecoding.decode(plan.frames, geometry: plan.geometry, output: output, threads: threads,
                                            progress: { counter.add($0) })
        var finalPlan = plan
        var stack = decoded.volume
        var rejected = plan.duplicates
        if !decoded.failed.isEmpty {
            // Drop slices that failed to decode; the plan then reports (and fills) the gap.
            let keep = plan.frames.indices.filter { decoded.failed[$0] == nil }
            rejected = decoded.failed.keys.sorted().map { decoded.failed[$0]! }
            guard !keep.isEmpty else { return .success(Built(series: nil, rejected: rejected)) }
            do {
                finalPlan = try SeriesPlan.make(keep.map { plan.frames[$0] }, splitBy: group.splitBy, limits: limits)
            } catch {
                return .failure(error)
            }
            finalPlan.warnings.insert("\(decoded.failed.count) slice(s) could not be decoded and were left out " +
                "(see rejected files)", at: 0)
            stack = Self.keepSlices(keep, of: stack)
        }
        let volume = finalPlan.resampling.map {
            SeriesDecoding.resample(stack, geometry: finalPlan.geometry, plan: $0, threads: threads)
        } ?? stack
        let first = finalPlan.frames[0]
        let units: String? = first.modality == "CT" ? "HU" : first.rescaleType.flatMap { $0.isEmpty ? nil : $0 }
        var warnings = finalPlan.warnings
        if finalPlan.frames.contains(where: { $0.format.photometricInterpretation == "MONOCHROME1" }) {
            warnings.append("MONOCHROME1: higher values display darker; values are kept as stored")
        }
        if finalPlan.frames.contains(where: \.lossy) {
            warnings.append("lossy compressed pixel data: values are approximate")
        }
        if let split = group.splitBy {
            warnings.append("SeriesInstanceUID shared with other volumes: split by \(split.rawValue)")
        }
        let info = SeriesInfo(
            seriesInstanceUID: first.seriesInstanceUID, studyInstanceUID: first.studyInstanceUID,
            frameOfReferenceUID: first.frameOfReferenceUID, modality: first.modality,
            sopClassUID: first.sopClassUID, seriesDescription: first.seriesDescription,
            studyDescription: first.studyDescription, seriesNumber: first.seriesNumber,
            geometry: volume.geometry, files: Set(finalPlan.frames.map(\.diskPath)).count,
            filePaths: Array(Set(finalPlan.frames.map(\.path))).sorted(),
            slices: finalPlan.frames.count,
            transferSyntaxes: Array(Set(finalPlan.frames.map(\.transferSyntax))).sorted(),
            units: units, window: first.window, splitBy: group.splitBy, warnings: warnings,
            sliceSources: finalPlan.resampling == nil ? finalPlan.frames.map {
                SliceSource(path: $0.diskPath, frame: $0.frame, framesInFile: $0.framesInFile, sopClassUID: $0.sopClassUID,
                            sopInstanceUID: $0.sopInstanceUID, position: $0.position, rows: $0.rows, columns: $0.columns,
                            rowDirection: $0.rowDirection, columnDirection: $0.columnDirection, pixelSpacing: $0.pixelSpacing,
                            sliceThickness: $0.sliceThickness)
            } : nil)
        let series = LoadedSeries(info: info, volume: volume, valueRange: volume.valueRange(threads: threads))
        return .success(Built(series: series, rejected: rejected))
    }

    private static func keepSlices(_ keep: [Int], of stack: AnyVolume) -> AnyVolume {
        func compact<Voxel>(_ volume: Volume<Voxel>) -> Volume<Voxel> {
            let slice = volume.dimensions.x * volume.dimensions.y
            var geometry = volume.geometry
            geometry.dimensions.z = keep.count
            var voxels: [Voxel] = []
            voxels.reserveCapacity(slice * keep.count)
            for k in keep { voxels += volume.voxels[k * slice..<(k + 1) * slice] }
            return Volume(geometry: geometry, voxels: voxels)
        }
        switch stack {
        case .int16(let volume): return .int16(compact(volume))
        case .float32(let volume): return .float32(compact(volume))
        }
    }
}

/// Counts finished work from many threads and forwards it to a progress callback, in order (the
/// callback runs under the counter's lock, so a listener never sees the count go back).
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let stage: LoadProgress.Stage
    private let report: (@Sendable (LoadProgress) -> Void)?

    init(total: Int, stage: LoadProgress.Stage, report: (@Sendable (LoadProgress) -> Void)?) {
        self.total = total
        self.stage = stage
        self.report = report
    }

    func add(_ count: Int) {
        guard let report else { return }
        lock.lock()
        defer { lock.unlock() }
        done += count
        report(LoadProgress(stage: stage, done: done, total: total))
    }
}
