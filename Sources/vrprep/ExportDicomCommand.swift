import ArgumentParser
import Foundation
import Pipeline

struct ExportDicomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-dicom",
        abstract: "Write a segmentation back as DICOM objects of the original study (for its PACS).",
        discussion: """
            From the identified study (DICOM folder, files or zip) and its segmentation (--package: a scene \
            package made from this study, its label map named by its manifest; or --labels: a NIfTI label map \
            on the study's grid), writes into --out a DICOM Segmentation (BINARY, one segment per structure, \
            seg.dcm): a new series in the same study, on the study's own grid, each frame referencing the \
            image it was made from, with the patient and study of the source images. These objects carry the \
            patient's identity: they go back to the hospital, never into a shared package. A label map on \
            another grid is refused.
            Exit status: 0 on success, 1 when the study, the segmentation or the writing fails, 2 on usage errors.
            """
    )

    @Argument(help: "The original study: DICOM folders, files or .zip archives.")
    var paths: [String]

    @Option(help: "A scene package (folder or .zip) made from this study.")
    var package: String?

    @Option(help: "A NIfTI label map (.nii, .nii.gz) on the study's grid.")
    var labels: String?

    @Option(help: "The folder to write into (made if missing).")
    var out: String

    @Option(help: "What to write, comma-separated: seg, rtstruct, stl and obj (these two from --package).")
    var formats: String = "seg"

    @Option(help: "The series (its number in `vrprep inspect`, or its SeriesInstanceUID; default: the largest).")
    var series: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if (package == nil) == (labels == nil) { throw ValidationError("give --package PKG or --labels FILE (one of them)") }
        for format in formats.split(separator: ",") where ExportDicom.Format(rawValue: String(format)) == nil {
            throw ValidationError("--formats: '\(format)' is not one of \(ExportDicom.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try checkOption(threads, "--threads", OptionRange.threads)
    }

    func run() throws {
        let progress = TerminalProgress()
        let source: ExportDicom.Source = package.map { .package(URL(fileURLWithPath: $0)) } ?? .labels(URL(fileURLWithPath: labels!))
        let report: ExportDicom.Report
        do {
            report = try ExportDicom.run(study: paths, series: series, source: source, out: URL(fileURLWithPath: out),
                                         formats: formats.split(separator: ",").compactMap { ExportDicom.Format(rawValue: String($0)) },
                                         softwareVersion: VRPrep.version, threads: threads, observer: progress)
        } catch {
            progress.finish()
            fail(error.description)
        }
        progress.finish()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        for file in report.files {
            print("\(file.path): \(file.format.rawValue.uppercased()), \(file.bytes) bytes, segments \(file.segments.joined(separator: ", "))")
        }
        print("source series \(report.sourceSeries), study \(report.studyInstanceUID); \(String(format: "%.2f", report.seconds)) s")
    }
}
