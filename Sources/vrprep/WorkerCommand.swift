import ArgumentParser
import Dispatch
import Foundation
import Pipeline
import Service

/// Runs jobs only, beside API nodes (`vrprep serve --database … --workers 0`) on other machines.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run the service's jobs on this machine, from the queue that several machines share (no HTTP).",
        discussion: """
            Claims queued jobs from PostgreSQL (--database, --storage: the same as the API nodes'), each leased \
            to this worker and renewed while it runs; a worker that dies loses its leases and another takes its \
            jobs after --lease-seconds. SIGTERM or SIGINT: the jobs under way go back to the queue (that try not \
            counted) and the worker exits 0. Retention is left to the API nodes.
            """
    )

    @OptionGroup var records: RecordsOptions

    @Option(help: "Jobs run at once.")
    var workers = 1

    @Option(name: .customLong("lease-seconds"), help: "How long a job stays this worker's without a renewal (renewed a third of that apart).")
    var leaseSeconds = 30.0

    @Option(name: .customLong("job-memory-mb"), help: "Resident memory one job may use (MiB; default: 75 % of the machine).")
    var jobMemoryMB: Int?

    @Option(name: .customLong("job-timeout-minutes"), help: "Time one job may run before it is stopped (minutes).")
    var jobTimeoutMinutes = 30.0

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1…64") }
        guard leaseSeconds.isFinite, (1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be 1…3600") }
        if let jobMemoryMB, !(64...(1 << 30)).contains(jobMemoryMB) {
            throw ValidationError("--job-memory-mb must be 64…\(1 << 30) MiB, not \(jobMemoryMB)")
        }
        guard jobTimeoutMinutes.isFinite, jobTimeoutMinutes >= 0.1, jobTimeoutMinutes <= 7 * 24 * 60 else {
            throw ValidationError("--job-timeout-minutes must be 0.1…10080 minutes, not \(jobTimeoutMinutes)")
        }
    }

    func run() throws {
        let store: ServiceStore
        do {
            store = try records.open(leaseSeconds: leaseSeconds)
            _ = try store.requeueInterrupted()
        } catch {
            fail("\(records.location): \(error)")
        }
        var options = Pipeline.Options()
        options.shaders = shaders.map { URL(fileURLWithPath: $0) }
        options.softwareVersion = VRPrep.version
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let runner = JobRunner(store: store, options: options, workers: workers, executable: executable,
                               limits: JobLimits(memoryBytes: jobMemoryMB.map { $0 << 20 }, seconds: jobTimeoutMinutes * 60),
                               retention: Retention(keepStudiesDays: nil, retainDays: nil))
        // Stopped by SIGTERM or SIGINT, after the jobs under way have gone back to the queue.
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        runner.start()
        FileHandle.standardOutput.write(Data("vrprep worker \(store.node): \(workers) job(s) at once from \(records.location); lease \(leaseSeconds) s\n".utf8))
        stop.wait()
        runner.stop()
        FileHandle.standardOutput.write(Data("vrprep worker \(store.node): stopped; jobs under way went back to the queue\n".utf8))
        withExtendedLifetime(sources) {}
    }
}
