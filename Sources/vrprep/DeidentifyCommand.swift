import ArgumentParser
import Foundation
import Pipeline

struct DeidentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deidentify",
        abstract: "Write a de-identified DICOM copy of a study (PS3.15 Annex E basic profile).",
        discussion: """
            Loads the study (DICOM folders, files or zip archives) and writes the series a scene would be made of \
            (the largest) into --out as new DICOM files (IM0001.dcm… in slice order), under DICOM PS3.15 Annex E's \
            Basic Application Level Confidentiality Profile: the attributes of its Table E.1-1 removed, emptied, given \
            dummy values (PatientName ANONYMOUS, a PatientID made from the new study UID) or their UIDs replaced (the \
            same replacement as the study's scene package), in sequences too; every private attribute removed; \
            PatientIdentityRemoved YES with the method and its codes (113100; 113107 with --keep-dates-shifted). \
            A head's face is removed from the pixels first (--deface, as for process; the Clean Recognizable Visual \
            Features Option, code 113102); other pixel data is copied as it is (compressed data untouched). Not covered: text burned into the pixels, other \
            series (secondary captures, reports). --out must be new or empty; it appears only when complete.
            Exit status: 0 on success, 1 when the study or the writing fails, 2 on usage errors.
            """
    )

    @Argument(help: "The study: DICOM folders, files or .zip archives.")
    var paths: [String]

    @Option(help: "The folder to write into (new, or empty).")
    var out: String

    @Option(help: defaceHelp("the default: a head's face is removed from the pixels, the Clean Recognizable Visual Features Option"))
    var deface: DefaceStudy.Mode?

    @Option(name: .customLong("keep-dates-shifted"),
            help: "Keep dates, each moved by DAYS (Retain Longitudinal Temporal Information with Modified Dates Option); default: dates removed.")
    var keepDatesShifted: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let days = keepDatesShifted, !DeidentifyStudy.shiftRange.contains(days) || days == 0 {
            throw ValidationError("--keep-dates-shifted: \(days) is out of range (expected \(DeidentifyStudy.shiftRange.lowerBound)…" +
                                  "\(DeidentifyStudy.shiftRange.upperBound), not 0: 0 would keep the real dates)")
        }
        try checkOption(threads, "--threads", OptionRange.threads)
    }

    func run() throws {
        let progress = TerminalProgress()
        let options = DeidentifyStudy.Options(shiftDays: keepDatesShifted, defacer: DeidentifyStudy.defacer(deface, threads: threads),
                                              softwareVersion: VRPrep.version, threads: threads)
        let report: DeidentifyStudy.Report
        do {
            report = try DeidentifyStudy.run(study: paths, out: URL(fileURLWithPath: out), options: options, observer: progress)
        } catch {
            progress.finish()
            fail(error.description)
        }
        progress.finish()
        if json {
            print(try report.encoded())
            return
        }
        print("\(report.folder): \(report.files.count) file\(report.files.count == 1 ? "" : "s"), \(report.modality) " +
              "\(report.dimensions.map(String.init).joined(separator: "×")), study \(report.studyInstanceUID)")
        print("\(report.method) (codes \(report.methodCodes.joined(separator: ", "))); \(String(format: "%.2f", report.seconds)) s")
    }
}

extension DeidentifyStudy.Report: PrintedJSON {}
