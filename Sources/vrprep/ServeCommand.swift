import ArgumentParser
import Foundation
import Pipeline
import Service

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service: upload studies, follow jobs, fetch and share scene packages.",
        discussion: """
            API v1 (bearer tokens from `vrprep token create`): POST /v1/studies (application/zip) → 202 {jobId}; \\
            GET|DELETE /v1/jobs/{id}; GET /v1/packages, /v1/packages/{id} (manifest), /v1/packages/{id}/archive \\
            (ETag, Range), /v1/packages/{id}/files/{path}; POST /v1/packages/{id}/shares {expiresInHours} → \\
            {token, url, expiresAt}; GET /healthz. Records in DATA/vrprep.sqlite, blobs under DATA. Jobs \\
            interrupted by a stop or a crash run again at the next start.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed).")
    var port = 8080

    @Option(help: "Folder of the database and the blobs.")
    var data: String

    @Option(help: "Jobs run at once.")
    var workers = 1

    @Option(name: .customLong("max-upload-mb"), help: "Largest upload accepted (MiB).")
    var maxUploadMB = 2048

    @Option(help: "Folder of the GLSL files (default: $VRPREP_SHADERS or Shaders/ near the executable).")
    var shaders: String?

    @Option(name: .customLong("dicom-port"), help: "Also take studies by DICOM C-STORE on this port.")
    var dicomPort: Int?

    @Option(name: .customLong("ae-title"), help: "The service's DICOM AE title.")
    var aeTitle = "VRPREP"

    @Option(name: .customLong("allow-ae"), help: "A calling AE title allowed to send studies (repeatable).")
    var allowedAEs: [String] = []

    @Option(name: .customLong("dicom-idle-seconds"), help: "A study received by DICOM is complete after this many seconds without an instance.")
    var dicomIdleSeconds = 10.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1…64") }
        guard maxUploadMB > 0 else { throw ValidationError("--max-upload-mb must be more than 0") }
        if let dicomPort {
            guard (1...65535).contains(dicomPort) else { throw ValidationError("--dicom-port must be 1…65535") }
            guard !allowedAEs.isEmpty else { throw ValidationError("--dicom-port needs at least one --allow-ae (the PACS or modality that sends)") }
        }
        guard (1...16).contains(aeTitle.count) else { throw ValidationError("--ae-title must be 1…16 characters") }
        guard dicomIdleSeconds > 0 else { throw ValidationError("--dicom-idle-seconds must be more than 0") }
    }

    func run() async throws {
        var settings = ServiceServer.Settings(data: URL(fileURLWithPath: data))
        settings.host = host
        settings.port = port
        settings.workers = workers
        settings.maxUploadBytes = Int64(maxUploadMB) << 20
        settings.pipeline.shaders = shaders.map { URL(fileURLWithPath: $0) }
        settings.pipeline.softwareVersion = VRPrep.version
        if let dicomPort {
            var dicom = DicomIntake.Settings(port: dicomPort)
            dicom.aeTitle = aeTitle
            dicom.allowedCallingAEs = allowedAEs
            dicom.idleSeconds = dicomIdleSeconds
            settings.dicom = dicom
        }
        let server: ServiceServer
        do {
            server = try ServiceServer(settings: settings)
        } catch {
            fail("\(data): cannot open the service's data: \(error)")
        }
        try await server.run { port in
            FileHandle.standardOutput.write(Data("vrprep service listening on http://\(host):\(port) (data \(data))\n".utf8))
        }
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

        @Option(help: "Folder of the service's data.")
        var data: String

        func validate() throws {
            guard ServiceStore.Role(rawValue: role) != nil else {
                throw ValidationError("--role must be one of \(ServiceStore.Role.allCases.map(\.rawValue).joined(separator: ", ")), not '\(role)'")
            }
        }

        func run() throws {
            do {
                let store = try ServiceStore(data: URL(fileURLWithPath: data))
                let token = try store.createToken(role: ServiceStore.Role(rawValue: role)!, name: name)
                print("Created a \(role) token for \(name). Keep it secret; it is not shown again:")
                print("token \(token)")
            } catch {
                fail("\(data): \(error)")
            }
        }
    }
}
