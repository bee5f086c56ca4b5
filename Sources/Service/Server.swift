import DICOM
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import LiveSessions
import Logging
import Pipeline
import ScenePackage
import ServiceLifecycle
import UnixSignals
import VolumeCore

/// The HTTP API (DESIGN.md, API v1) on Hummingbird: uploads, jobs, packages, shares.
public struct ServiceServer: Sendable {
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var data: URL
        public var workers = 1
        public var maxUploadBytes: Int64 = 2 << 30
        public var maxUncompressedBytes: Int64 = 8 << 30
        /// An archive may inflate to at most this many times its size (beyond 64 MiB).
        public var maxExpansionRatio = 100.0
        /// A form upload may hold at most this many parts.
        public var maxFormParts = 10_000
        /// Uploads are refused (507) while the data folder's disk has less free space than this.
        public var minFreeBytes: Int64 = 512 << 20
        /// A connection that sends nothing (no header, no body part, no new request) for this
        /// long is closed: slow or silent senders cannot hold connections for ever.
        public var idleTimeoutSeconds: Int64 = 30
        public var pipeline = Pipeline.Options()
        /// A DICOM Storage SCP taking studies by C-STORE, when set.
        public var dicom: DicomIntake.Settings?
        /// The `vrprep` binary whose `run-job` command runs each job in a process of its own
        /// (default: this process's own executable), and the limits on that process.
        public var jobExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        public var jobLimits = JobLimits()
        public var retention = Retention()
        /// Origins (scheme://host[:port]) whose pages may call the API from a browser (CORS);
        /// none by default.
        public var corsOrigins: [String] = []
        /// Failed authentications an address may make in `authFailureWindowSeconds` before it is
        /// answered 429 until the oldest leaves the window.
        public var authFailureLimit = 20
        public var authFailureWindowSeconds = 60.0
        /// HTTPS (and WebSocket over TLS) on `port` instead of plain HTTP, when set.
        public var tls: TLSFiles?

        public init(data: URL) {
            self.data = data
        }
    }

    public let settings: Settings
    public let store: any ServiceRecords
    /// The studies open for the workstation, each in a process of its own.
    let studyWorkers: StudyWorkers
    /// Live sessions, in memory (ended, with their clients told, when the service stops).
    let sessions: SessionHub
    /// Failed sign-ins by address, across requests.
    let failures: FailedAuthentications

    public init(settings: Settings) throws {
        self.init(settings: settings, store: try ServiceStore(data: settings.data))
    }

    /// A server over other records (another database) with the same blob folders.
    public init(settings: Settings, store: any ServiceRecords) {
        self.settings = settings
        self.store = store
        sessions = SessionHub(records: store)
        failures = FailedAuthentications(limit: settings.authFailureLimit, window: settings.authFailureWindowSeconds)
        studyWorkers = StudyWorkers(executable: settings.jobExecutable)
    }

    /// Stops a running server gracefully (open requests finish, workers end their jobs).
    public actor Stopper {
        private var group: ServiceGroup?
        private var stopped = false

        public init() {}

        func attach(_ group: ServiceGroup) async {
            self.group = group
            if stopped { await group.triggerGracefulShutdown() }
        }

        public func stop() async {
            stopped = true
            await group?.triggerGracefulShutdown()
        }
    }

    /// Runs until SIGTERM/SIGINT or `stopper.stop()`: requeues interrupted jobs, starts the
    /// workers, serves. `onRunning(port)` is called once the server listens.
    public func run(stopper: Stopper? = nil, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // Checked before anything starts: a weak or broken TLS setting is refused, never served.
        let tls = try settings.tls.map { try ServiceTLS.check($0) }
        _ = try store.requeueInterrupted()
        // Sessions are in memory: those a stop or a crash interrupted have ended, and say so.
        _ = try store.endInterruptedSessions(reason: "the service restarted")
        guard FileManager.default.isExecutableFile(atPath: settings.jobExecutable.path) else {
            throw ServiceFailure("cannot run jobs: \(settings.jobExecutable.path) is not an executable")
        }
        let runner = JobRunner(store: store, options: settings.pipeline, workers: settings.workers,
                               executable: settings.jobExecutable, limits: settings.jobLimits, retention: settings.retention)
        // (No workers: an API node of several, whose jobs other nodes, `vrprep worker`, run.)
        runner.start()
        defer { runner.stop() }
        // Results going back to the hospitals' PACS (peers with a returnTo), as the service's AE title.
        let returner = PacsReturner(store: store, callingAE: settings.dicom?.aeTitle ?? "VRPREP",
                                    softwareVersion: settings.pipeline.softwareVersion, tls: settings.dicom?.tls)
        returner.start()
        defer { returner.stop() }
        defer { studyWorkers.closeAll() }
        defer { sessions.endAll(reason: "the service is stopping: join a new session once it is back") }
        // Sessions' events go to the records as they come, and sessions end when their time is up.
        let ticker = Task { [sessions] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                sessions.tick()
            }
        }
        defer { ticker.cancel() }
        let intake = try settings.dicom.map { try DicomIntake(store: store, settings: $0) }
        intake?.start()
        defer { intake?.stop() }
        // The receiver has bound its port, or failed to, once started.
        if let intake, let error = intake.error {
            throw DicomReceiver.Failure(description: "cannot take DICOM on port \(intake.settings.port): \(error)")
        }
        let http = HTTPServerBuilder { [sessions, store, settings] responder in
            GuardedUpgradeChannel(inner: HTTP1WebSocketUpgradeChannel(
                responder: responder,
                configuration: .init(http1: .init(idleTimeout: .seconds(settings.idleTimeoutSeconds)), ws: .init(maxFrameSize: 1 << 20))) { request, _, logger in
            // A live session's WebSocket, when its share link (and host key) admit it; anything
            // else goes on to the router, whose route for the same path says why not.
            guard let path = request.path, path.hasPrefix("/v1/sessions/"), let parts = URLComponents(string: path),
                  case let pieces = parts.path.split(separator: "/"), pieces.count == 4, pieces[3] == "ws" else { return .dontUpgrade }
            let query = Dictionary((parts.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
            guard case .admitted(let entry, let name, let host) = sessions.admit(
                id: String(pieces[2]), query: query, store: store) else {
                return .dontUpgrade
            }
            return .upgrade([:]) { inbound, outbound, _ in
                await SessionHub.serve(entry.session, name: name, host: host, inbound: inbound, outbound: outbound, logger: logger)
            }
            }, firstHead: .seconds(settings.idleTimeoutSeconds))
        }
        let app = Application(
            router: makeRouter(),
            server: try tls.map { try .tls(http, tlsConfiguration: $0.configuration) } ?? http,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "vrprep"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: {
                var logger = Logger(label: "vrprep.service")
                logger.logLevel = .warning
                return logger
            }()
        )
        // Services stop in reverse order: the live sessions end first (their clients told while
        // their connections are still open), then the HTTP server.
        let group = ServiceGroup(configuration: .init(services: [app, SessionsEnder(sessions: sessions)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
        await stopper?.attach(group)
        try await group.run()
    }

    // MARK: Routes

    /// Every route as "METHOD /path", paths written as OpenAPI writes them ({id}, {path}).
    func routeList() -> Set<String> {
        Set(makeRouter().routes.map { "\($0.method) \(Audit.openAPIPath($0.path.description))" })
    }

    func makeRouter() -> Router<ServiceContext> {
        // HEAD is answered wherever GET is (the same headers, no body).
        let router = Router(context: ServiceContext.self, options: .autoGenerateHeadEndpoints)
        let store = self.store, settings = self.settings
        let fileIO = FileIO()
        // Before every route (a middleware applies to the routes added after it): headers and
        // throttling outermost, then the audit trail.
        let table = RouteTable()
        router.add(middleware: ResponsePolicy(corsOrigins: Set(settings.corsOrigins), failures: failures, strictTransport: settings.tls != nil,
                                              routes: table, unknownShare: { (try? store.shareID(token: $0)) == nil }))
        router.add(middleware: AuditTrail(store: store))
        addSystemRoutes(router, store, settings)
        addStudyRoutes(router, store, settings, studyWorkers)
        addJobRoutes(router, store, settings)
        addPackageRoutes(router, store, settings, fileIO)
        addCollectionRoutes(router, store, settings)
        addDicomPeerRoutes(router, store, settings)
        addSessionRoutes(router, store, sessions)
        addAuditRoutes(router, store, settings)
        table.set(router.routes.map { ($0.method.rawValue, Audit.openAPIPath($0.path.description)) })
        return router
    }
}

/// A Codable answer, encoded as every JSON answer is (sorted keys, slashes as they are).
func encodedJSON<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// Share links last at least a minute and at most a year.
let shareHours = CheckedRange(1.0 / 60, 24 * 365, unit: "hours")

/// A number of a request checked against its range: 400 naming the key and the range.
func checked(_ value: Double?, _ key: String, _ range: CheckedRange) throws -> Double? {
    guard let value else { return nil }
    if let problem = range.problem(value) { throw HTTPError(.badRequest, message: "\(key): \(problem)") }
    return value
}

/// Runs blocking work (unpacking, checking an upload) on a global queue, not on an event loop.
func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// The media type of a Content-Type header, lower case, without parameters.
func mediaType(_ contentType: String) -> String {
    String(contentType.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
}

/// A JSON object body decoded as `T`. Malformed JSON, a key other than `keys` (and, in the objects
/// of an "items" list, other than `itemKeys`), a wrong type or a missing key is a 400 that names
/// it. An empty body is nil when `allowEmpty`.
func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int, keys: Set<String>, itemKeys: Set<String> = [],
                              example: String, allowEmpty: Bool = false) async throws -> T? {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: limit)
    } catch {
        throw HTTPError(.contentTooLarge, message: "the body is larger than \(limit) bytes")
    }
    if buffer.readableBytes == 0 && allowEmpty { return nil }
    let data = Data(buffer.readableBytesView)
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw HTTPError(.badRequest, message: "the body must be a JSON object such as \(example)")
    }
    if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
        throw HTTPError(.badRequest, message: "unknown key '\(unknown)' (known: \(keys.sorted().joined(separator: ", ")))")
    }
    for (n, item) in ((object["items"] as? [Any]) ?? []).enumerated() {
        if let item = item as? [String: Any], let unknown = item.keys.sorted().first(where: { !itemKeys.contains($0) }) {
            throw HTTPError(.badRequest, message: "item \(n + 1): unknown key '\(unknown)' (known: \(itemKeys.sorted().joined(separator: ", ")))")
        }
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        let key = context.codingPath.map(\.stringValue).joined(separator: ".")
        throw HTTPError(.badRequest, message: "\(key.isEmpty ? "the body" : key) has the wrong type; example: \(example)")
    } catch let DecodingError.keyNotFound(key, context) {
        let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
        throw HTTPError(.badRequest, message: "\(path) is missing; example: \(example)")
    } catch {
        throw HTTPError(.badRequest, message: "the body cannot be read; example: \(example)")
    }
}

// MARK: Helpers

/// A file with an ETag (If-None-Match → 304) and byte ranges (Range: bytes=a-b → 206).
func file(_ fileIO: FileIO, _ url: URL, _ request: Request, _ context: ServiceContext, type: String,
          etag: String) async throws -> Response {
    guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int else {
        throw HTTPError(.notFound, message: "not found")
    }
    let tag = "\"\(etag)\""
    var headers: HTTPFields = [.contentType: type, .eTag: tag, .acceptRanges: "bytes"]
    if request.headers[.ifNoneMatch] == tag { return Response(status: .notModified, headers: headers) }
    if let range = request.headers[.range] {
        guard let (start, end) = parseRange(range, size: size) else {
            headers[.contentRange] = "bytes */\(size)"
            throw HTTPError(.rangeNotSatisfiable, headers: headers, message: "range '\(range)' is not within the \(size) bytes")
        }
        headers[.contentRange] = "bytes \(start)-\(end)/\(size)"
        headers[.contentLength] = String(end - start + 1)
        let body = try await fileIO.loadFile(path: url.path, range: start...end, context: context)
        return Response(status: .partialContent, headers: headers, body: body)
    }
    headers[.contentLength] = String(size)
    return Response(status: .ok, headers: headers, body: try await fileIO.loadFile(path: url.path, context: context))
}

/// Resident memory (bytes) from /proc/self/statm; 0 where there is none.
func residentBytes() -> Int {
    JobProcess.residentBytes(of: "self") ?? 0
}

/// One range of "bytes=a-b", "bytes=a-" or "bytes=-n" within `size`.
func parseRange(_ header: String, size: Int) -> (Int, Int)? {
    guard header.hasPrefix("bytes="), size > 0 else { return nil }
    let spec = header.dropFirst(6)
    guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
    let (a, b) = (spec[..<dash].trimmingCharacters(in: .whitespaces), spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces))
    if a.isEmpty {
        guard let n = Int(b), n > 0 else { return nil }
        return (max(0, size - n), size - 1)
    }
    guard let start = Int(a), start < size else { return nil }
    let end = b.isEmpty ? size - 1 : min(Int(b) ?? -1, size - 1)
    return end >= start ? (start, end) : nil
}

/// Ends every live session as the service begins to stop, so that their clients are told why
/// before the server closes their connections.
struct SessionsEnder: Service {
    let sessions: SessionHub

    func run() async throws {
        try? await gracefulShutdown()
        sessions.endAll(reason: "the service is stopping: join a new session once it is back")
    }
}
