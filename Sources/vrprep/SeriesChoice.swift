import DICOM
import VolumeCore

/// The series a command works on: `choice` (its number in `vrprep inspect`, or its
/// SeriesInstanceUID) when given, else the largest. Exits with status 1 when nothing loaded
/// (naming the first rejected files) or the choice matches no series.
func chooseSeries(_ report: LoadReport, from paths: [String], choice: String? = nil) -> LoadedSeries {
    guard !report.series.isEmpty else {
        let reasons = report.rejected.prefix(5).map { "\($0.path): \($0.reason)" }.joined(separator: "\n  ")
        fail("no series could be loaded from \(paths.joined(separator: ", "))" + (reasons.isEmpty ? "" : ":\n  " + reasons))
    }
    if let choice {
        if let number = Int(choice), number >= 1, number <= report.series.count { return report.series[number - 1] }
        if let match = report.series.first(where: { $0.info.seriesInstanceUID == choice }) { return match }
        fail("no series '\(choice)' here: give 1…\(report.series.count) or a SeriesInstanceUID (see vrprep inspect)")
    }
    return report.series.max { $0.info.geometry.voxelCount < $1.info.geometry.voxelCount }!
}
