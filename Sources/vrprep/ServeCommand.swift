import ArgumentParser
import Foundation
import DICOM
import Pipeline
import Service

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service: upload studies (or receive them by DICOM), follow jobs, fetch and share scene packages.",
        discussion: """
            API v1 (bearer tokens from `vrprep token create`): POST /v1/studies (application/zip) → 202 {jobId}; \
            GET|DELETE /v1/jobs/{id}; GET /v1/packages, /v1/packages/{id} (manifest), /v1/packages/{id}/archive \
            (ETag, Range), /v1/packages/{id}/files/{path}; POST /v1/packages/{id}/shares {expiresInHours} → \
            {token, url, expiresAt}; GET /healthz; GET /openapi.yaml (every route). Records in \
            DATA/vrprep.sqlite, blobs under DATA. Jobs interrupted by a stop or a crash run again at the next start.

            Several machines: --database postgres://… --storage DIR on every API node (--workers 0: no jobs \
            there) and `vrprep worker` with the same two on the machines that run jobs; a job is leased to the \
            node running it and goes to another when that node stops renewing the lease.

            DICOM: with --dicom-port, studies arrive by C-STORE from the calling AEs allowed by --allow-ae or \
            stored with PUT /v1/dicom/peers/{ae} (admin: {host, completion, recipe}); a study is complete when \
            idle for --dicom-idle-seconds, or when its association is released (completion "release"), and \
            becomes a job owned by dicom:<AE>.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed).")
    var port = 8080

    @OptionGroup var records: RecordsOptions

    @Option(help: "Jobs run at once (0, with --database: none, an API node whose jobs `vrprep worker` runs).")
    var workers = 1

    @Option(name: .customLong("max-upload-mb"), help: "Largest upload accepted (MiB).")
    var maxUploadMB = 2048

    @Option(name: .customLong("job-memory-mb"),
            help: "Memory one job may use (MiB) before it is stopped (default: 75 % of this machine's memory).")
    var jobMemoryMB: Int?

    @Option(name: .customLong("job-timeout-minutes"), help: "Time one job may run before it is stopped (minutes).")
    var jobTimeoutMinutes = 30.0

    @Option(name: .customLong("keep-studies-days"), help: "Remove each study (its files, received or uploaded) this many days after it came, unless a job is working on it (default: 30).")
    var keepStudiesDays: Double = 30

    @Flag(name: .customLong("keep-studies"), help: "Keep studies until they are deleted (DELETE /v1/studies/{id}); replaces --keep-studies-days.")
    var keepStudies = false

    @Option(name: .customLong("retain-days"), help: "Remove packages (with their shares) this many days after they were published (default: keep).")
    var retainDays: Double?

    @Option(name: .customLong("min-free-mb"), help: "Refuse uploads (507) while the data folder's disk has less free space (MiB).")
    var minFreeMB = 512

    @Option(name: .customLong("http-idle-seconds"),
            help: "Close an HTTP connection that sends nothing (no header, body or new request) for this long.")
    var httpIdleSeconds = 30

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    @Option(name: .customLong("dicom-port"), help: "Also take studies by DICOM C-STORE on this port.")
    var dicomPort: Int?

    @Option(name: .customLong("ae-title"), help: "The service's DICOM AE title.")
    var aeTitle = "VRPREP"

    @Option(name: .customLong("allow-ae"),
            help: "A calling AE allowed to send studies, NAME or NAME@HOST (repeatable; more in the database: PUT /v1/dicom/peers/{ae}).")
    var allowedAEs: [String] = []

    @Option(name: .customLong("dicom-idle-seconds"), help: "A study received by DICOM is complete after this many seconds without an instance.")
    var dicomIdleSeconds = 10.0

    @Option(name: .customLong("dicom-complete-on"),
            help: "For the --allow-ae peers: idle (the idle time) or release (as soon as the sending association is released).")
    var dicomCompleteOn = "idle"

    @Option(name: .customLong("dicom-max-associations"), help: "DICOM associations served at once.")
    var dicomMaxAssociations = 8

    @Option(name: .customLong("dicom-acse-seconds"),
            help: "A DICOM connection must send its whole association request within this many seconds, or it is closed.")
    var dicomACSESeconds = 10

    @Option(name: .customLong("dicom-dimse-seconds"), help: "An association silent for this many seconds is dropped.")
    var dicomDIMSESeconds = 60

    @Option(name: .customLong("dicom-max-pending-per-address"),
            help: "Connections from one address that may wait to associate at once; beyond, they are closed.")
    var dicomMaxPendingPerAddress = 16

    @Option(name: .customLong("dicom-max-study-mb"),
            help: "The most one study received by DICOM may take on disk (MB); beyond, instances are refused and the study fails.")
    var dicomMaxStudyMB = 16384

    @Option(name: .customLong("dicom-tls-cert"),
            help: "Take DICOM only over TLS on --dicom-port, with this certificate (PEM, RSA of 2048 bits or more); with --dicom-tls-key.")
    var dicomTLSCert: String?

    @Option(name: .customLong("dicom-tls-key"), help: "The DICOM certificate's private key (PEM, without a passphrase).")
    var dicomTLSKey: String?

    @Option(name: .customLong("dicom-tls-ca"),
            help: "Require DICOM peers to show a certificate signed by this CA (PEM); without it, any TLS peer whose AE title is allowed is taken.")
    var dicomTLSCA: String?

    @Option(name: .customLong("tls-cert"),
            help: "Serve HTTPS (and WebSocket over TLS) with this certificate (PEM, the chain after it); with --tls-key.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "The certificate's private key (PEM, without a passphrase).")
    var tlsKey: String?

    @Option(name: .customLong("cors-origin"),
            help: "An origin (scheme://host[:port]) whose pages may call the API from a browser (repeatable; none by default: CORS closed).")
    var corsOrigins: [String] = []

    @Option(name: .customLong("max-failed-sign-ins"),
            help: "Failed authentications one address may make in a minute; beyond, it is answered 429 with Retry-After.")
    var maxFailedSignIns = 20

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (dicomTLSCert == nil) == (dicomTLSKey == nil) else { throw ValidationError("--dicom-tls-cert and --dicom-tls-key go together") }
        if dicomTLSCert != nil || dicomTLSCA != nil, dicomPort == nil {
            throw ValidationError("--dicom-tls-cert, --dicom-tls-key and --dicom-tls-ca need --dicom-port")
        }
        guard dicomTLSCA == nil || dicomTLSCert != nil else { throw ValidationError("--dicom-tls-ca needs --dicom-tls-cert and --dicom-tls-key") }
        for origin in corsOrigins {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                  url.path.isEmpty, url.query == nil, !origin.hasSuffix("/") else {
                throw ValidationError("--cors-origin '\(origin)' is not an origin such as https://planning.example.org (scheme, host, optional port; no path)")
            }
        }
        guard (1...100_000).contains(maxFailedSignIns) else { throw ValidationError("--max-failed-sign-ins must be 1…100000") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard (records.shared ? 0...64 : 1...64).contains(workers) else {
            throw ValidationError(records.shared ? "--workers must be 0…64" : "--workers must be 1…64 (0 only with --database)")
        }
        guard maxUploadMB > 0 else { throw ValidationError("--max-upload-mb must be more than 0") }
        if let jobMemoryMB, !(64...(1 << 30)).contains(jobMemoryMB) {
            throw ValidationError("--job-memory-mb must be 64…\(1 << 30) MiB, not \(jobMemoryMB)")
        }
        guard jobTimeoutMinutes.isFinite, jobTimeoutMinutes >= 0.1, jobTimeoutMinutes <= 7 * 24 * 60 else {
            throw ValidationError("--job-timeout-minutes must be 0.1…10080 minutes, not \(jobTimeoutMinutes)")
        }
        if !(keepStudiesDays.isFinite && keepStudiesDays >= 0.01 && keepStudiesDays <= 36500) {
            throw ValidationError("--keep-studies-days must be 0.01…36500 days, not \(keepStudiesDays)")
        }
        if let retainDays, !(retainDays.isFinite && retainDays >= 0.01 && retainDays <= 36500) {
            throw ValidationError("--retain-days must be 0.01…36500 days, not \(retainDays)")
        }
        guard (0...(1 << 30)).contains(minFreeMB) else { throw ValidationError("--min-free-mb must be 0…\(1 << 30) MiB") }
        guard (1...3600).contains(httpIdleSeconds) else { throw ValidationError("--http-idle-seconds must be 1…3600 seconds") }
        if let dicomPort {
            guard (1...65535).contains(dicomPort) else { throw ValidationError("--dicom-port must be 1…65535") }
        }
        guard DicomReceiver.isValidAETitle(aeTitle) else {
            throw ValidationError("--ae-title must be 1…16 printable ASCII characters without a backslash, not '\(aeTitle)'")
        }
        for ae in allowedAEs where DicomIntake.AllowedPeer(parsing: ae) == nil {
            throw ValidationError("--allow-ae '\(ae)' is not NAME or NAME@HOST with an AE title of 1…16 printable ASCII characters")
        }
        guard dicomIdleSeconds > 0 else { throw ValidationError("--dicom-idle-seconds must be more than 0") }
        guard ServiceStore.Completion(rawValue: dicomCompleteOn) != nil else {
            throw ValidationError("--dicom-complete-on must be idle or release, not '\(dicomCompleteOn)'")
        }
        guard (1...64).contains(dicomMaxAssociations) else { throw ValidationError("--dicom-max-associations must be 1…64") }
        guard dicomMaxStudyMB > 0 else { throw ValidationError("--dicom-max-study-mb must be more than 0") }
        guard (1...3600).contains(dicomACSESeconds) else { throw ValidationError("--dicom-acse-seconds must be 1…3600") }
        guard (1...86400).contains(dicomDIMSESeconds) else { throw ValidationError("--dicom-dimse-seconds must be 1…86400") }
        guard (1...1024).contains(dicomMaxPendingPerAddress) else { throw ValidationError("--dicom-max-pending-per-address must be 1…1024") }
    }

    func run() async throws {
        var settings = ServiceServer.Settings(data: records.folder)
        let data = records.location
        settings.host = host
        settings.port = port
        settings.workers = workers
        settings.maxUploadBytes = Int64(maxUploadMB) << 20
        settings.jobLimits = JobLimits(memoryBytes: jobMemoryMB.map { $0 << 20 }, seconds: jobTimeoutMinutes * 60)
        settings.retention = Retention(keepStudiesDays: keepStudies ? nil : keepStudiesDays, retainDays: retainDays)
        settings.minFreeBytes = Int64(minFreeMB) << 20
        settings.idleTimeoutSeconds = Int64(httpIdleSeconds)
        settings.corsOrigins = corsOrigins
        if let tlsCert, let tlsKey {
            settings.tls = TLSFiles(certificate: URL(fileURLWithPath: tlsCert), key: URL(fileURLWithPath: tlsKey))
        }
        settings.authFailureLimit = maxFailedSignIns
        settings.pipeline.shaders = shaders.map { URL(fileURLWithPath: $0) }
        settings.pipeline.softwareVersion = VRPrep.version
        if let dicomPort {
            var dicom = DicomIntake.Settings(port: dicomPort)
            dicom.aeTitle = aeTitle
            dicom.allowed = allowedAEs.compactMap(DicomIntake.AllowedPeer.init(parsing:))
            dicom.idleSeconds = dicomIdleSeconds
            dicom.completion = ServiceStore.Completion(rawValue: dicomCompleteOn) ?? .idle
            dicom.maxAssociations = dicomMaxAssociations
            dicom.maxStudyBytes = Int64(dicomMaxStudyMB) << 20
            dicom.acseTimeoutSeconds = dicomACSESeconds
            dicom.dimseTimeoutSeconds = dicomDIMSESeconds
            dicom.maxPendingPerAddress = dicomMaxPendingPerAddress
            if let dicomTLSCert, let dicomTLSKey {
                dicom.tls = DicomTLS(certificate: URL(fileURLWithPath: dicomTLSCert), key: URL(fileURLWithPath: dicomTLSKey),
                                              ca: dicomTLSCA.map { URL(fileURLWithPath: $0) })
            }
            settings.dicom = dicom
        }
        let server: ServiceServer
        do {
            server = ServiceServer(settings: settings, store: try records.open())
        } catch {
            fail("\(data): cannot open the service's data: \(error)")
        }
        let dicomSettings = settings.dicom, tls = settings.tls != nil
        do {
            try await server.run { port in
                // Which ports are encrypted, said at once.
                var line = tls ? "vrprep service listening on https://\(host):\(port) (encrypted: TLS 1.2/1.3; data \(data))\n"
                    : "vrprep service listening on http://\(host):\(port) (not encrypted: --tls-cert and --tls-key serve HTTPS; data \(data))\n"
                if let dicom = dicomSettings {
                    let peers = (try? server.store.dicomPeers().count) ?? 0
                    let security = dicom.tls == nil ? "not encrypted: --dicom-tls-cert and --dicom-tls-key take TLS only"
                        : dicom.tls?.ca == nil ? "encrypted: TLS only" : "encrypted: TLS only, peers' certificates checked against --dicom-tls-ca"
                    line += "DICOM C-STORE: AE title \(dicom.aeTitle) on port \(dicom.port) (\(security)); calling AEs allowed: "
                        + (dicom.allowed.map(\.description) + (peers > 0 ? ["\(peers) in the database"] : [])).joined(separator: ", ")
                    line += dicom.allowed.isEmpty && peers == 0 ? "none yet (--allow-ae NAME, or PUT /v1/dicom/peers/{ae})\n" : "\n"
                }
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        } catch let error as DicomReceiver.Failure {
            fail(error.description)
        }
    }
}

/// One job of the service, in a process of its own (started by `vrprep serve`, not by people):
/// reads the job's description on standard input, prints its progress as JSON lines.
struct StudyWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study-worker", abstract: "Keep one study open for the service's workstation (started by vrprep serve).",
        shouldDisplay: false)

    @Option(help: "The study's files (a zip or a folder).")
    var study: String

    @Option(help: "Worker threads.")
    var threads: Int?

    func run() throws {
        let status = StudyWorkerChild.run(study: study, threads: threads)
        if status != 0 { throw ExitCode(status) }
    }
}

struct RunJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-job", abstract: "Run one job of the service (started by vrprep serve).", shouldDisplay: false)

    @Option(help: "The job's id (shown in process lists).")
    var job: String

    func run() throws {
        let status = JobChild.run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage the service's access tokens.",
        subcommands: [Create.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an access token (only its hash is stored); prints it as the last word of the last line.")

        @Option(help: "submitter, host, trainer or admin.")
        var role: String

        @Option(help: "Who the token is for (a note).")
        var name = "user"

        @OptionGroup var records: RecordsOptions

        func validate() throws {
            guard ServiceStore.Role(rawValue: role) != nil else {
                throw ValidationError("--role must be one of \(ServiceStore.Role.allCases.map(\.rawValue).joined(separator: ", ")), not '\(role)'")
            }
        }

        func run() throws {
            do {
                let store = try records.open()
                let token = try store.createToken(role: ServiceStore.Role(rawValue: role)!, name: name)
                print("Created a \(role) token for \(name). Keep it secret; it is not shown again:")
                print("token \(token)")
            } catch {
                fail("\(records.location): \(error)")
            }
        }
    }
}
