import ArgumentParser
import DICOM
import Foundation
import VolumeCore

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the DICOM series found in folders, files or zip archives.",
        discussion: """
            Reads every file (folders recursively, zip archives without extracting to their own paths), \
            groups slices into series, sorts them by position, decodes the pixels and prints each series' \
            geometry and value range, then every file that was not used and why.
            Exit status: 0 when at least one series loaded, 1 when none did, 2 on usage errors.
            """
    )

    @Argument(help: "DICOM folders, files or .zip archives.")
    var paths: [String]

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try checkOption(threads, "--threads", OptionRange.threads)
    }

    func run() throws {
        let loader = DicomLoader(threads: threads)
        let progress = TerminalProgress()
        var callback: (@Sendable (LoadProgress) -> Void)?
        if let progress { callback = { progress.update($0) } }
        let report = loader.load(paths, progress: callback)
        progress?.finish()
        if json {
            print(try InspectJSON(report).encoded())
        } else {
            printText(report)
        }
        if report.series.isEmpty { throw ExitCode(1) }
    }

    private func printText(_ report: LoadReport) {
        if report.series.isEmpty { print("No series could be loaded.") }
        for (index, series) in report.series.enumerated() {
            let info = series.info, g = info.geometry
            print("Series \(index + 1): \(info.modality) \"\(info.seriesDescription)\" (number \(info.seriesNumber.map(String.init) ?? "–"))")
            print("  study         \(info.studyInstanceUID) \"\(info.studyDescription)\"")
            print("  series UID    \(info.seriesInstanceUID)")
            print("  dimensions    \(g.dimensions.x) × \(g.dimensions.y) × \(g.dimensions.z) voxels (\(series.volume.voxelTypeName))")
            print("  spacing       \(fmt(g.spacing.x)) × \(fmt(g.spacing.y)) × \(fmt(g.spacing.z)) mm")
            print("  origin        (\(fmt(g.origin.x)), \(fmt(g.origin.y)), \(fmt(g.origin.z))) mm LPS")
            print("  direction     \(g.direction.rowMajor.map(fmt).joined(separator: " "))")
            if let range = series.valueRange {
                print("  values        \(fmt(range.lowerBound)) … \(fmt(range.upperBound))\(info.units.map { " " + $0 } ?? "")")
            }
            print("  files         \(info.files) (\(info.slices) slices; \(info.transferSyntaxes.joined(separator: ", ")))")
            for warning in info.warnings { print("  warning       \(warning)") }
        }
        if !report.rejected.isEmpty {
            print("Rejected files (\(report.rejected.count)):")
            for rejection in report.rejected { print("  \(rejection.path): \(rejection.reason)") }
        }
    }
}

func fmt(_ value: Double) -> String {
    let rounded = (value * 1e9).rounded() / 1e9
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int(rounded)) }
    return String(rounded)
}

/// The `--json` shape of `vrprep inspect`.
struct InspectJSON: Encodable {
    struct Series: Encodable {
        var seriesInstanceUID: String
        var studyInstanceUID: String
        var modality: String
        var description: String
        var seriesNumber: Int?
        var dimensions: [Int]
        var spacing: [Double]
        var origin: [Double]
        var direction: [Double]
        var valueRange: [Double]?
        var voxelType: String
        var units: String?
        var files: Int
        var slices: Int
        var transferSyntaxes: [String]
        var splitBy: String?
        var warnings: [String]
    }

    var series: [Series]
    var rejected: [Rejection]

    init(_ report: LoadReport) {
        series = report.series.map { loaded in
            let info = loaded.info, g = info.geometry
            return Series(
                seriesInstanceUID: info.seriesInstanceUID, studyInstanceUID: info.studyInstanceUID,
                modality: info.modality, description: info.seriesDescription, seriesNumber: info.seriesNumber,
                dimensions: [g.dimensions.x, g.dimensions.y, g.dimensions.z],
                spacing: [g.spacing.x, g.spacing.y, g.spacing.z].map(clean),
                origin: [g.origin.x, g.origin.y, g.origin.z].map(clean),
                direction: g.direction.rowMajor.map(clean),
                valueRange: loaded.valueRange.map { [$0.lowerBound, $0.upperBound] },
                voxelType: loaded.volume.voxelTypeName, units: info.units, files: info.files, slices: info.slices,
                transferSyntaxes: info.transferSyntaxes, splitBy: info.splitBy?.rawValue, warnings: info.warnings)
        }
        rejected = report.rejected
    }

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Rounds away binary noise (1e-9) so 0.9570312 prints as written in the DICOM header.
private func clean(_ value: Double) -> Double {
    let rounded = (value * 1e9).rounded() / 1e9
    return rounded == 0 ? 0 : rounded
}
