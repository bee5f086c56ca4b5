import ArgumentParser
import DICOM
import Pipeline
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
        let progress = TerminalProgress()
        let inspection = StudyInspection(paths, threads: threads, observer: progress)
        progress.finish()
        if json {
            print(try inspection.encoded())
        } else {
            printText(inspection)
        }
        if inspection.series.isEmpty { throw ExitCode(1) }
    }

    private func printText(_ inspection: StudyInspection) {
        if inspection.series.isEmpty { print("No series could be loaded.") }
        for (index, series) in inspection.series.enumerated() {
            let (d, s, o) = (series.dimensions, series.spacing, series.origin)
            print("Series \(index + 1): \(series.modality) \"\(series.description)\" (number \(series.seriesNumber.map(String.init) ?? "–"))")
            print("  study         \(series.studyInstanceUID) \"\(series.studyDescription)\"")
            print("  series UID    \(series.seriesInstanceUID)")
            print("  dimensions    \(d[0]) × \(d[1]) × \(d[2]) voxels (\(series.voxelType))")
            print("  spacing       \(plainNumber(s[0])) × \(plainNumber(s[1])) × \(plainNumber(s[2])) mm")
            print("  origin        (\(plainNumber(o[0])), \(plainNumber(o[1])), \(plainNumber(o[2]))) mm LPS")
            print("  direction     \(series.direction.map(plainNumber).joined(separator: " "))")
            if let range = series.valueRange {
                print("  values        \(plainNumber(range[0])) … \(plainNumber(range[1]))\(series.units.map { " " + $0 } ?? "")")
            }
            print("  files         \(series.files) (\(series.slices) slices; \(series.transferSyntaxes.joined(separator: ", ")))")
            for warning in series.warnings { print("  warning       \(warning)") }
        }
        if !inspection.rejected.isEmpty {
            print("Rejected files (\(inspection.rejected.count)):")
            for rejection in inspection.rejected { print("  \(rejection.path): \(rejection.reason)") }
        }
    }
}

extension StudyInspection: PrintedJSON {}
