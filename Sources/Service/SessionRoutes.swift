import Foundation
import Hummingbird
import LiveSessions
import struct VolumeCore.CheckedRange
import Pipeline
import struct ScenePackage.Manifest

/// Live case conferences: a session on a package, its WebSocket (upgraded in `ServiceServer`;
/// this route answers requests that were not upgraded, saying why), its end and its recording.
func addSessionRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ hub: SessionHub) {
    let people = router.group("/v1", for: [.submitter, .host, .trainer, .admin], store)

    people.post("packages/:id/sessions") { request, context -> Response in
        let id = try context.parameters.require("id")
        let caller = try context.requireCaller()
        struct Body: Decodable { var title: String?; var share: String?; var expiresInHours: Double? }
        let body = try await decodeBody(Body.self, request, limit: 4096, keys: ["title", "share", "expiresInHours"],
                                        example: #"{"title": "Case 12: resection planning"}"#, allowEmpty: true)
        // The package's owner (or an admin), or a host or trainer with a link that opens it.
        let owns = try Access.owns(package: id, caller, store)
        if !owns {
            guard caller.role == .host || caller.role == .trainer, let share = body?.share, try store.shareOpens(token: share, package: id) else {
                guard try !store.packageOwners(id).isEmpty else { throw HTTPError(.notFound, message: "no package \(id)") }
                throw HTTPError(.forbidden, message: "package \(id) is not yours: a host or trainer gives a share link that opens it (\"share\")")
            }
        }
        // A session's join links go out of the hospital: never on a package that keeps a face.
        if let refusal = ReadPackage.shareRefusal(store.folders.package(id)) { throw HTTPError(.conflict, message: refusal) }
        let title = body?.title ?? ""
        guard title.count <= 200 else { throw HTTPError(.badRequest, message: "title: at most 200 characters") }
        let hours = try checked(body?.expiresInHours, "expiresInHours", CheckedRange(1.0 / 60, 48, unit: "hours")) ?? 4
        let manifest: Manifest
        do { manifest = try ReadPackage.manifest(store.folders.package(id)) } catch {
            throw HTTPError(.notFound, message: "package \(id) cannot be read: \(error)")
        }
        let link = try store.share(package: id, hours: hours, by: caller.id)
        let sessionId = "ses_" + randomHex(12), hostKey = randomHex(16)
        let session = LiveSession(id: sessionId, structures: manifest.structures.map(\.name))
        try hub.open(SessionHub.Entry(session: session, package: id, owner: caller.id, hostKeyHash: SessionHub.hash(hostKey),
                                      share: link.token, expires: link.expires), id: sessionId, title: title)
        return try encodedJSON(SessionView(sessionId: sessionId, title: title, package: id, joinUrl: "/session/\(sessionId)?share=\(link.token)",
                                           webSocket: "/v1/sessions/\(sessionId)/ws?share=\(link.token)", hostKey: hostKey,
                                           expiresAt: ISO8601DateFormatter().string(from: link.expires)), status: .created)
    }

    /// The session's record, for its creator or an admin.
    @Sendable func owned(_ id: String, _ caller: Caller) throws -> ServiceStore.SessionRecord {
        guard let record = try store.sessionRecord(id) else { throw HTTPError(.notFound, message: "no session \(id)") }
        guard caller.role == .admin || record.owner == caller.id else { throw HTTPError(.forbidden, message: "session \(id) is someone else's") }
        return record
    }

    people.delete("sessions/:id") { _, context -> Response in
        let id = try context.parameters.require("id")
        let record = try owned(id, try context.requireCaller())
        guard hub.end(id, reason: "the host ended the session", code: .host) != nil else {
            throw HTTPError(.gone, message: "session \(id) has ended already (\(record.endReason ?? "ended"))")
        }
        return Response(status: .noContent)
    }

    // The recording: for the session's creator (or an admin), or with the share link of a
    // collection that holds it. It outlives the session (and a restart).
    router.get("/v1/sessions/:id/recording") { request, context -> Response in
        let id = try context.parameters.require("id")
        if let share = shareToken(request) {
            guard let shared = try store.sharedCollection(token: share), shared.valid,
                  try store.collection(shared.id)?.items.contains(where: { $0.recording == id }) == true else {
                throw HTTPError(.forbidden, message: "this share link does not open the recording of session \(id)")
            }
        } else {
            _ = try owned(id, try authorize(request, store, roles: [.submitter, .host, .trainer, .admin]))
        }
        let lines = try hub.recording(id)
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"],
                        body: .init(byteBuffer: ByteBuffer(string: lines.map { $0 + "\n" }.joined())))
    }

    // The session's page: the viewer joined to the session (a name asked for first).
    router.get("/session/:id") { request, context -> Response in
        let id = try context.parameters.require("id")
        let language = Language.of(request)
        var query = queryFields(request)
        let named = !(query["name"] ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        if !named { query["name"] = "?" }
        switch hub.admit(id: id, query: query, store: store) {
        case .refused(let status, let message):
            throw HTTPError(.init(code: status), message: message)
        case .admitted(let entry, let name, _):
            guard named else { return language.htmlResponse(SessionPage.nameForm(query: query, language: language)) }
            return language.htmlResponse(SessionPage.page(session: id, package: entry.package, share: query["share"] ?? "", name: name,
                                                          hostKey: query["hostKey"], language: language))
        }
    }

    // Not upgraded: say why (the upgrade itself is decided in ServiceServer with the same rule).
    router.get("/v1/sessions/:id/ws") { request, context -> Response in
        let id = try context.parameters.require("id")
        let query = queryFields(request)
        switch hub.admit(id: id, query: query, store: store) {
        case .refused(let status, let message):
            throw HTTPError(.init(code: status), message: message)
        case .admitted:
            throw HTTPError(.upgradeRequired, message: "join with a WebSocket (Upgrade: websocket)")
        }
    }
}

struct SessionView: Encodable {
    var sessionId: String
    var title: String
    var package: String
    var joinUrl: String
    var webSocket: String
    var hostKey: String
    var expiresAt: String
}

/// A request's query as names and values (the first of a repeated name).
func queryFields(_ request: Request) -> [String: String] {
    Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { first, _ in first })
}

/// `count` random bytes as hex (the system's generator).
func randomHex(_ count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}
