import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers

/// What every answer of the service carries, and who is slowed down, in one place (the router's
/// outermost middleware, so that errors and unknown paths get it too):
/// - security headers: a Content-Security-Policy (`ResponsePolicy.htmlPolicy` for pages: only
///   the service's own scripts and the page's own inline blocks, by hash; nothing at all for
///   other answers), `nosniff`, no referrer (share tokens live in URLs), no framing;
/// - `Cache-Control: no-store` on identified data (studies, jobs, DICOM, the audit trail);
/// - CORS: closed unless origins are named (`Settings.corsOrigins`);
/// - an address that failed authentication too often is answered 429 with `Retry-After`.
struct ResponsePolicy: RouterMiddleware {
    typealias Context = ServiceContext
    let corsOrigins: Set<String>
    let failures: FailedAuthentications
    /// Set when the port is served with TLS: browsers are told to keep to HTTPS.
    let strictTransport: Bool
    /// The router's routes, for 405 and Allow on a path that exists with other methods.
    let routes: RouteTable
    /// Whether a share token is none the service ever made.
    let unknownShare: @Sendable (String) -> Bool

    /// The policy of answers that are not pages (JSON, images, models, archives): they load nothing.
    static let dataPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    /// A page's policy: scripts from the service itself and the page's inline scripts and styles
    /// by their SHA-256 (no 'unsafe-inline'), images, models and textures from the service or
    /// made in the page (blob:, data:), connections (fetch, WebSocket) to the service only.
    static func htmlPolicy(for html: String) -> String {
        func hashes(_ element: String) -> String {
            inlineBlocks(element, in: html).map { "'sha256-\(Data(SHA256.hash(data: Data($0.utf8))).base64EncodedString())'" }
                .joined(separator: " ")
        }
        return "default-src 'none'; script-src 'self' \(hashes("script")); style-src \(hashes("style")); "
            + "img-src 'self' blob: data:; connect-src 'self' blob: data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    /// The contents of the `<element>` blocks of a page that have no `src` (inline code).
    static func inlineBlocks(_ element: String, in html: String) -> [String] {
        var blocks: [String] = [], rest = html[...]
        while let open = rest.range(of: "<\(element)") {
            guard let close = rest[open.upperBound...].range(of: ">"),
                  let end = rest[close.upperBound...].range(of: "</\(element)>") else { break }
            if !rest[open.upperBound..<close.lowerBound].contains("src=") { blocks.append(String(rest[close.upperBound..<end.lowerBound])) }
            rest = rest[end.upperBound...]
        }
        return blocks
    }

    /// Paths whose answers carry identified data, never to be kept by a browser or a proxy.
    static func identified(_ path: String) -> Bool {
        ["/v1/studies", "/v1/jobs", "/v1/audit", "/v1/dicom", "/app"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin].flatMap { corsOrigins.contains($0) ? $0 : nil }
        var response: Response
        if let wait = failures.retryAfter(context.remoteAddress) {
            response = try HTTPError(.tooManyRequests, message: "too many failed sign-ins from \(context.remoteAddress ?? "this address"): "
                                     + "try again in \(wait) s").response(from: request, context: context)
            response.headers[.retryAfter] = String(wait)
        } else if request.method == .options, origin != nil, request.headers[.accessControlRequestMethod] != nil {
            // A browser's preflight for an allowed origin.
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, HEAD, POST, PUT, DELETE"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Range, If-None-Match, Accept-Language"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError {
                response = try error.response(from: request, context: context)
            } catch {
                context.logger.error("\(request.method) \(Audit.redactedPath(request.uri)): \(error)")
                response = try HTTPError(.internalServerError, message: "the service failed on this request").response(from: request, context: context)
            }
            // A path that exists, asked with a method it does not take: 405, saying which it takes.
            if response.status == .notFound, case let allowed = routes.methods(for: request.uri.path), !allowed.isEmpty,
               !allowed.contains(request.method.rawValue) {
                response = try HTTPError(.methodNotAllowed, message: "\(request.uri.path) takes \(allowed.sorted().joined(separator: ", "))")
                    .response(from: request, context: context)
                response.headers[.allow] = allowed.sorted().joined(separator: ", ")
            }
            // Authentication failed: no or a wrong token, or a share link that is no link at all (a
            // guess). A real link refused (revoked, expired, not for this package, a participant's
            // link asking for the host's part) is not: everyone behind a hospital's NAT shares
            // one address, and a live session's ended link is still asked for by its pages.
            if response.status == .unauthorized
                || ([.forbidden, .gone].contains(response.status) && shareToken(request).map(unknownShare) == true) {
                failures.record(context.remoteAddress)
            }
        }
        let isPage = response.headers[.contentType]?.hasPrefix("text/html") == true
        // A page sets its own policy (`Language.htmlResponse`); anything else loads nothing.
        if !isPage || response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.dataPolicy }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.crossOriginOpenerPolicy] = "same-origin"
        if strictTransport { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        if Self.identified(request.uri.path) { response.headers[.cacheControl] = "no-store" }
        if let origin {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlExposeHeaders] = "ETag, Content-Range, Content-Disposition, Retry-After"
        }
        if !corsOrigins.isEmpty { response.headers[values: .vary].append("Origin") }
        return response
    }
}

/// The router's routes as (method, OpenAPI path), set once the router is made: which methods a
/// request's path takes (HEAD wherever GET).
final class RouteTable: Sendable {
    private let routes = NIOLockedValueBox([(method: String, pieces: [Substring])]())

    func set(_ list: [(method: String, path: String)]) {
        routes.withLockedValue { $0 = list.map { ($0.method, $0.path.split(separator: "/")) } }
    }

    func methods(for path: String) -> Set<String> {
        let parts = path.split(separator: "/")
        var methods = Set<String>()
        for route in routes.withLockedValue({ $0 }) where Self.matches(route.pieces, parts) {
            methods.insert(route.method)
            if route.method == "GET" { methods.insert("HEAD") }
        }
        return methods
    }

    /// A template's pieces ("{id}" any one piece, a last "{path}" one or more) against a path's.
    static func matches(_ template: [Substring], _ parts: [Substring]) -> Bool {
        if template.last == "{path}" {
            guard parts.count >= template.count else { return false }
        } else if parts.count != template.count {
            return false
        }
        return zip(template, parts).allSatisfy { piece, part in piece.hasPrefix("{") || piece == part }
    }
}

/// Failed authentications by address, over a sliding window: beyond `limit` in `window` seconds,
/// the address waits until the oldest of them leaves the window.
final class FailedAuthentications: Sendable {
    let limit: Int
    let window: TimeInterval
    private let times = NIOLockedValueBox([String: [Date]]())

    init(limit: Int, window: TimeInterval) {
        (self.limit, self.window) = (limit, window)
    }

    func record(_ address: String?, now: Date = Date()) {
        guard let address else { return }
        times.withLockedValue { times in
            times[address, default: []].append(now)
            // Forget addresses whose failures are all old (bounded memory under a scan).
            if times.count > 10_000 { times = times.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false } }
        }
    }

    /// Seconds the address must wait, nil when it may go on.
    func retryAfter(_ address: String?, now: Date = Date()) -> Int? {
        guard let address else { return nil }
        return times.withLockedValue { times in
            let recent = (times[address] ?? []).filter { now.timeIntervalSince($0) < window }
            times[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
}
