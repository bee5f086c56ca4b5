import Foundation
import Pipeline

/// Reads a study in a child process (`vrprep inspect --json`), never in the service's own: an
/// upload is untrusted, and whatever reading it meets (a trap, a runaway allocation) must end
/// that reading alone. Bounded in time; the answer is the inspection, or why there is none.
struct StudyInspector {
    var executable: URL
    var seconds: Double = 120

    func inspect(_ study: URL) async -> Result<StudyInspection, ServiceFailure> {
        let (executable, seconds) = (self.executable, self.seconds)
        return await offLoop {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["inspect", "--json", "--threads", "2", study.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                return .failure(ServiceFailure("the study could not be read (\(executable.path): \(error.localizedDescription))"))
            }
            let timer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            timer.cancel()
            if process.terminationReason == .uncaughtSignal {
                return .failure(ServiceFailure("reading the study stopped with signal \(process.terminationStatus)"))
            }
            guard let inspection = try? JSONDecoder().decode(StudyInspection.self, from: data) else {
                return .failure(ServiceFailure("the study could not be read (status \(process.terminationStatus))"))
            }
            return .success(inspection)
        }
    }
}
