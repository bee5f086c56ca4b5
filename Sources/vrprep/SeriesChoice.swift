import DICOM
import Pipeline

/// The series a command works on (`SeriesChoice`: the given one, else the largest); exits with
/// status 1 and the reason when nothing loaded or the choice matches no series.
func chooseSeries(_ report: LoadReport, from paths: [String], choice: String? = nil) -> LoadedSeries {
    do {
        return try SeriesChoice.choose(report, from: paths, choice: choice)
    } catch {
        fail("\(error)")
    }
}
