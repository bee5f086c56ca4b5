import Foundation
import Hummingbird

/// Who called: the owner of an access token and its role.
struct Caller {
    var id: String
    var role: ServiceStore.Role
}

/// The context of every request. `caller` is set by `Authenticated`, the middleware of the route
/// groups that need an access token; routes that a share link also opens ask `Access` instead.
struct ServiceContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var caller: Caller?
    /// The peer's IP address (the audit trail's and the failed sign-ins' key).
    let remoteAddress: String?

    init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The caller that the group's `Authenticated` middleware checked.
    func requireCaller() throws -> Caller {
        guard let caller else { throw HTTPError(.internalServerError, message: "this route was registered without authentication") }
        return caller
    }
}

/// A route group's authentication: the request's bearer token must belong to one of `roles`
/// (401 without a valid token, 403 for another role); the caller goes into the context.
struct Authenticated: RouterMiddleware {
    typealias Context = ServiceContext
    let roles: Set<ServiceStore.Role>
    let store: any TokenRecords

    init(_ roles: Set<ServiceStore.Role>, _ store: any TokenRecords) {
        (self.roles, self.store) = (roles, store)
    }

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        var context = context
        context.caller = try authorize(request, store, roles: roles)
        return try await next(request, context)
    }
}

extension RouterMethods where Context == ServiceContext {
    /// The routes under `path` open to callers with one of `roles`.
    func group(_ path: RouterPath = "", for roles: Set<ServiceStore.Role>, _ store: any TokenRecords) -> RouterGroup<ServiceContext> {
        group(path).add(middleware: Authenticated(roles, store))
    }
}

func bearer(_ request: Request) -> String? {
    guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
    return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
}

/// The caller of an access token with one of `roles`: 401 without a valid token, 403 for another role.
func authorize(_ request: Request, _ store: any TokenRecords, roles: Set<ServiceStore.Role>) throws -> Caller {
    guard let token = bearer(request) else { throw HTTPError(.unauthorized, message: "no bearer token (Authorization: Bearer …)") }
    guard let caller = try store.caller(token: token) else { throw HTTPError(.unauthorized, message: "unknown or revoked token") }
    guard roles.contains(caller.role) else {
        throw HTTPError(.forbidden, message: "a \(caller.role.rawValue) token cannot do this (needs \(roles.map(\.rawValue).sorted().joined(separator: " or ")))")
    }
    return Caller(id: caller.id, role: caller.role)
}

/// A share token given with the request: `?share=` or a bearer token that is a share link.
func shareToken(_ request: Request) -> String? {
    // An empty ?share= is no share link (the request then has no credential: 401).
    if let share = request.uri.queryParameters["share"].map(String.init), !share.isEmpty { return share }
    if let token = bearer(request), token.hasPrefix("vrs_") { return token }
    return nil
}
