import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// The audit trail's vocabulary: which routes reach identified data, packages or share links, and
/// what each is in the terms of DICOM's audit messages (PS3.15 Annex A.5, after RFC 3881), so that
/// a hospital's audit record repository can take the events as they are.
enum Audit {
    /// A DICOM coded value (code, scheme, meaning).
    struct Code: Sendable, Equatable {
        var code: String
        var scheme = "DCM"
        var meaning: String
    }

    /// An audited action: its name in the trail, its DICOM event (and event type), its action
    /// code (C create, R read, U update, D delete, E execute), and whether a share link that
    /// admits it is used once more (opening the viewer, the archive, the manifest; a file of a
    /// package opened already is not a new use).
    struct Action: Sendable {
        var name: String
        var event: Code
        var type: Code?
        var code: String
        var countsShareUse = false
    }

    static let importEvent = Code(code: "110107", meaning: "Import")
    static let accessed = Code(code: "110103", meaning: "DICOM Instances Accessed")
    static let deleted = Code(code: "110105", meaning: "DICOM Study Deleted")
    static let export = Code(code: "110106", meaning: "Export")
    static let transferred = Code(code: "110104", meaning: "DICOM Instances Transferred")
    static let auditLogUsed = Code(code: "110101", meaning: "Audit Log Used")
    static let securityAlert = Code(code: "110113", meaning: "Security Alert")
    static let objectSecurity = Code(code: "110135", meaning: "Object Security Attributes Changed")
    static let authentication = Code(code: "110114", meaning: "User Authentication")
    static let login = Code(code: "110122", meaning: "Login")

    /// The audited routes, as "METHOD /path" with OpenAPI's {parameters} (a test checks that each
    /// is a route of the router). A HEAD is audited as the GET it mirrors.
    static let actions: [String: Action] = [
        "POST /v1/studies": Action(name: "study.import", event: importEvent, code: "C"),
        "GET /v1/studies/{id}": Action(name: "study.read", event: accessed, code: "R"),
        "DELETE /v1/studies/{id}": Action(name: "study.delete", event: deleted, code: "D"),
        "POST /v1/studies/{id}/jobs": Action(name: "study.process", event: accessed, code: "E"),
        "POST /v1/studies/{id}/deidentified": Action(name: "study.deidentify", event: export, code: "E"),
        "GET /v1/studies/{id}/slices/{orientation}/{index}": Action(name: "study.slice", event: accessed, code: "R"),
        "GET /v1/studies/{id}/slices/{orientation}/{index}/values": Action(name: "study.values", event: accessed, code: "R"),
        "GET /v1/studies/{id}/voxel": Action(name: "study.voxel", event: accessed, code: "R"),
        "POST /v1/studies/{id}/previews": Action(name: "study.preview", event: accessed, code: "E"),
        "GET /v1/studies/{id}/previews/{preview}/labels.nii.gz": Action(name: "study.preview-labels", event: export, code: "R"),
        "GET /v1/jobs/{id}/dicom": Action(name: "job.dicom", event: export, code: "R"),
        "POST /v1/jobs/{id}/return": Action(name: "job.return", event: transferred, code: "E"),
        "GET /v1/packages/{id}": Action(name: "package.manifest", event: export, code: "R", countsShareUse: true),
        "GET /v1/packages/{id}/archive": Action(name: "package.archive", event: export, code: "R", countsShareUse: true),
        "GET /v1/packages/{id}/files/{path}": Action(name: "package.file", event: export, code: "R"),
        "GET /view/{id}": Action(name: "package.view", event: export, code: "R", countsShareUse: true),
        "POST /v1/packages/{id}/shares": Action(name: "share.create", event: securityAlert, type: objectSecurity, code: "C"),
        "DELETE /v1/packages/{id}/shares/{shareId}": Action(name: "share.revoke", event: securityAlert, type: objectSecurity, code: "D"),
        "POST /v1/packages/{id}/sessions": Action(name: "session.create", event: securityAlert, type: objectSecurity, code: "C"),
        "GET /session/{id}": Action(name: "session.open", event: export, code: "R", countsShareUse: true),
        "GET /v1/sessions/{id}/recording": Action(name: "session.recording", event: export, code: "R"),
        "GET /v1/collections/{id}": Action(name: "collection.open", event: export, code: "R", countsShareUse: true),
        "GET /v1/audit": Action(name: "audit.read", event: auditLogUsed, code: "R"),
    ]

    /// A request refused for want of a valid credential, on any route.
    static let failedAuthentication = Action(name: "auth.failure", event: authentication, type: login, code: "E")
    /// A study received from a DICOM peer by C-STORE; its results sent back to a PACS.
    static let dicomImport = Action(name: "study.import", event: importEvent, code: "C")
    static let dicomReturn = Action(name: "job.return", event: transferred, code: "R")

    static func action(named name: String) -> Action? {
        ([failedAuthentication, dicomImport, dicomReturn] + actions.values).first { $0.name == name }
    }

    /// A router's endpoint path ("/v1/studies/:id/…", "/v1/packages/:id/files/**") as OpenAPI writes it.
    static func openAPIPath(_ endpoint: String) -> String {
        "/" + endpoint.split(separator: "/").map { part -> String in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : part == "**" ? "{path}" : String(part)
        }.joined(separator: "/")
    }

    /// The path and query of a request with the credentials a URL may carry taken out.
    static func redactedPath(_ uri: URI) -> String {
        let secret: Set<String> = ["share", "hostKey", "key", "token"]
        let kept = uri.queryParameters.filter { !secret.contains(String($0.key)) }
            .map { "\($0.key)=\($0.value)" }.sorted()
        return uri.path + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
    }

    /// DICOM's EventOutcomeIndicator for an HTTP status: 0 success, 4 minor failure (the
    /// request was refused), 8 serious failure (the service failed).
    static func outcome(_ status: Int) -> Int {
        status < 400 ? 0 : status < 500 ? 4 : 8
    }

    /// Foundation's formatters are safe to share between threads once set up.
    nonisolated(unsafe) static let isoTime: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    /// An event as the API and the JSON lines export write it.
    struct View: Encodable {
        struct Actor: Encodable {
            var kind: String
            var id: String?
            var name: String?
            var role: String?
            var address: String?
        }
        struct Dicom: Encodable {
            struct Coded: Encodable {
                var code: String
                var codeSystemName: String
                var displayName: String
            }
            var eventID: Coded
            var eventTypeCode: Coded?
            var eventActionCode: String
            var eventOutcomeIndicator: Int
        }
        var seq: Int64
        var time: String
        var actor: Actor
        var action: String
        var method: String
        var path: String
        var study: String?
        var package: String?
        var share: String?
        var status: Int
        var outcome: String
        var detail: String?
        var dicom: Dicom?

        init(_ event: ServiceStore.AuditEvent) {
            seq = event.seq
            time = Audit.isoTime.string(from: event.time)
            actor = Actor(kind: event.actorKind.rawValue, id: event.actorID, name: event.actorName, role: event.role, address: event.address)
            (action, method, path, study, package, share, status, detail) =
                (event.action, event.method, event.path, event.study, event.package, event.share, event.status, event.detail)
            let indicator = Audit.outcome(event.status)
            outcome = ["success", "minor failure", "serious failure"][indicator / 4]
            let coded = { (code: Code) in Dicom.Coded(code: code.code, codeSystemName: code.scheme, displayName: code.meaning) }
            dicom = Audit.action(named: event.action).map {
                Dicom(eventID: coded($0.event), eventTypeCode: $0.type.map(coded), eventActionCode: $0.code, eventOutcomeIndicator: indicator)
            }
        }
    }

    /// The event as a DICOM audit message (PS3.15 A.5.1, one XML document on one line): the event,
    /// the requestor and the service as active participants, the service as audit source, the
    /// study, package and share link as participant objects.
    static func dicomMessage(_ event: ServiceStore.AuditEvent, source: String) -> String {
        guard let action = action(named: event.action) else { return "" }
        func attribute(_ value: String) -> String {
            value.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func coded(_ element: String, _ code: Code) -> String {
            "<\(element) csd-code=\"\(code.code)\" codeSystemName=\"\(code.scheme)\" originalText=\"\(attribute(code.meaning))\"/>"
        }
        var xml = "<AuditMessage><EventIdentification EventActionCode=\"\(action.code)\" EventDateTime=\"\(isoTime.string(from: event.time))\" "
            + "EventOutcomeIndicator=\"\(outcome(event.status))\">" + coded("EventID", action.event)
        if let type = action.type { xml += coded("EventTypeCode", type) }
        xml += "</EventIdentification>"
        let user = [event.actorKind.rawValue, event.actorID].compactMap { $0 }.joined(separator: ":")
        xml += "<ActiveParticipant UserID=\"\(attribute(user))\""
        if let name = event.actorName { xml += " AlternativeUserID=\"\(attribute(name))\"" }
        xml += " UserIsRequestor=\"true\""
        if let address = event.address { xml += " NetworkAccessPointID=\"\(attribute(address))\" NetworkAccessPointTypeCode=\"2\"" }
        xml += ">"
        if let role = event.role { xml += "<RoleIDCode csd-code=\"\(attribute(role))\" codeSystemName=\"VRPrep\" originalText=\"\(attribute(role))\"/>" }
        xml += "</ActiveParticipant>"
        xml += "<ActiveParticipant UserID=\"\(attribute(source))\" UserIsRequestor=\"false\"/>"
        xml += "<AuditSourceIdentification AuditSourceID=\"\(attribute(source))\"><AuditSourceTypeCode csd-code=\"4\" "
            + "codeSystemName=\"DCM\" originalText=\"Application Server\"/></AuditSourceIdentification>"
        let objects: [(String?, String)] = [(event.study, "study"), (event.package, "scene package"), (event.share, "share link")]
        for case let (id?, kind) in objects {
            // Type 2 (system object); role 3 (report) for a study, 13 (security resource) for a link.
            xml += "<ParticipantObjectIdentification ParticipantObjectID=\"\(attribute(id))\" ParticipantObjectTypeCode=\"2\" "
                + "ParticipantObjectTypeCodeRole=\"\(kind == "share link" ? 13 : 3)\"><ParticipantObjectIDTypeCode csd-code=\"vrprep-\(kind.replacingOccurrences(of: " ", with: "-"))\" "
                + "codeSystemName=\"VRPrep\" originalText=\"\(kind)\"/>"
                + "<ParticipantObjectDetail type=\"path\" value=\"\(Data(event.path.utf8).base64EncodedString())\"/></ParticipantObjectIdentification>"
        }
        return xml + "</AuditMessage>"
    }
}

/// Records each audited request (`Audit.actions`) and each refusal for want of a credential in
/// the audit trail, after it is answered: who (the token or share link the request carried,
/// resolved here, so that no route can forget it), what, when, and the answer's status. A share
/// link that admitted a request is marked used.
struct AuditTrail: RouterMiddleware {
    typealias Context = ServiceContext
    let store: any ServiceRecords

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = Int((error as? any HTTPResponseError)?.status.code ?? 500)
            await offLoop { record(request, context, status: status, location: nil) }
            throw error
        }
        // Written before the answer goes (the trail keeps the requests' order), off the event
        // loop: a write waits for the database's lock and its sync to disk.
        let (status, location) = (Int(response.status.code), response.headers[.location])
        await offLoop { record(request, context, status: status, location: location) }
        return response
    }

    /// `location`: where a created resource is (a new study's id is read there).
    private func record(_ request: Request, _ context: ServiceContext, status: Int, location: String?) {
        let method = request.method == .head ? "GET" : request.method.rawValue
        let route = context.endpointPath.map { "\(method) \(Audit.openAPIPath($0))" }
        guard let action = route.flatMap({ Audit.actions[$0] }) ?? (status == 401 ? Audit.failedAuthentication : nil) else { return }
        do {
            var event = ServiceStore.AuditEvent(actorKind: .anonymous, address: context.remoteAddress, action: action.name,
                                                method: request.method.rawValue, path: Audit.redactedPath(request.uri), status: status)
            let token = bearer(request)
            if let token, !token.hasPrefix("vrs_"), let caller = try store.caller(token: token) {
                event.actorKind = .token
                event.actorID = String(caller.id.prefix(16))
                event.actorName = try store.tokenName(id: caller.id)
                event.role = caller.role.rawValue
            } else if let share = shareToken(request) {
                if let id = try store.shareID(token: share) {
                    event.actorKind = .share
                    event.actorID = id
                    event.share = id
                    if status < 400 { try store.recordShareUse(token: share, counted: action.countsShareUse) }
                } else {
                    event.detail = "an unknown share link"
                }
            }
            let id = context.parameters.get("id")
            switch action.name.split(separator: ".").first {
            case "study": event.study = id ?? location.flatMap { $0.hasPrefix("/v1/studies/") ? String($0.dropFirst(12)) : nil }
            case "package", "share": event.package = id
            case "session":
                event.detail = "session \(id ?? "")"
                if action.name == "session.create" { event.package = id } else { event.package = try id.flatMap { try store.sessionRecord($0)?.packageID } }
            case "collection": event.detail = "collection \(id ?? "")"
            case "job":
                event.detail = "job \(id ?? "")"
                event.study = try id.flatMap { try store.job($0)?.studyID }
            default: break
            }
            if action.name == "share.revoke" { event.share = context.parameters.get("shareId") }
            try store.appendAudit(event)
        } catch {
            context.logger.error("the audit trail could not record \(action.name): \(error)")
        }
    }
}

/// `GET /v1/audit` (admins): the trail as JSON (`{"events", "next"}`), JSON lines
/// (`format=jsonl`) or DICOM audit messages, one a line (`format=dicom`); filtered by `since`
/// (ISO 8601), `study` and `package`, paged by `after` (the last `seq` read) and `limit`.
func addAuditRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    router.group("/v1/audit", for: [.admin], store).get { request, _ -> Response in
        let query = request.uri.queryParameters
        if let unknown = query.map({ String($0.key) }).sorted().first(where: { !["since", "study", "package", "after", "limit", "format"].contains($0) }) {
            throw HTTPError(.badRequest, message: "unknown parameter '\(unknown)' (known: after, format, limit, package, since, study)")
        }
        var since: Date?
        if let text = query["since"].map(String.init) {
            guard let date = Audit.isoTime.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
                throw HTTPError(.badRequest, message: "since: '\(text)' is not an ISO 8601 time such as 2026-12-07T15:00:00Z")
            }
            since = date
        }
        let after = try query["after"].map { text -> Int64 in
            guard let value = Int64(text), value >= 0 else { throw HTTPError(.badRequest, message: "after: a seq, 0 or more") }
            return value
        }
        var limit = 1000
        if let text = query["limit"] {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw HTTPError(.badRequest, message: "limit: a whole number from 1 to 10000, not '\(text)'")
            }
            limit = value
        }
        let format = query["format"].map(String.init) ?? "json"
        let events = try store.auditEvents(since: since, study: query["study"].map(String.init), package: query["package"].map(String.init),
                                           after: after, limit: limit)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch format {
        case "json":
            struct Page: Encodable { var events: [Audit.View]; var next: Int64? }
            return try encodedJSON(Page(events: events.map(Audit.View.init), next: events.count == limit ? events.last?.seq : nil))
        case "jsonl":
            let lines = try events.map { String(decoding: try encoder.encode(Audit.View($0)), as: UTF8.self) + "\n" }.joined()
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: ByteBuffer(string: lines)))
        case "dicom":
            let source = "vrprep@\(ProcessInfo.processInfo.hostName)"
            let lines = events.map { Audit.dicomMessage($0, source: source) + "\n" }.joined()
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: lines)))
        default:
            throw HTTPError(.badRequest, message: "format: json, jsonl or dicom, not '\(format)'")
        }
    }
}
