import Foundation
import Hummingbird
import Pipeline

/// Scene packages: listing, manifest, archive and files (owner, admin or share token), shares, the viewer page and its three.js, removal.
func addPackageRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings, _ fileIO: FileIO) {
    // Listing: the submitter's packages (an admin: everyone's). Sharing and removal: also a
    // trainer's. Reading one (below): its owners, an admin or a share link (`Access.readPackage`).
    let submitters = router.group("/v1/packages", for: [.submitter, .admin], store)
    let owners = router.group("/v1/packages", for: [.submitter, .trainer, .admin], store)

    submitters.get { _, context -> Response in
        try encodedJSON(PackageList(packages: try store.packages(owner: Access.listedOwner(try context.requireCaller()))))
    }

    router.get("/v1/packages/:id") { request, context -> Response in
        let id = try context.parameters.require("id")
        try Access.readPackage(id, request, store)
        return try await file(fileIO, store.folders.package(id).appendingPathComponent("manifest.json"), request, context,
                              type: "application/json", etag: id)
    }

    router.get("/v1/packages/:id/archive") { request, context -> Response in
        let id = try context.parameters.require("id")
        try Access.readPackage(id, request, store)
        var response = try await file(fileIO, store.folders.archive(id), request, context, type: "application/zip", etag: id)
        response.headers[.contentDisposition] = "attachment; filename=\"\(id).zip\""
        return response
    }

    router.get("/v1/packages/:id/files/**") { request, context -> Response in
        let id = try context.parameters.require("id")
        try Access.readPackage(id, request, store)
        let path = context.parameters.getCatchAll().joined(separator: "/")
        guard !path.isEmpty, !path.split(separator: "/").contains(".."), ReadPackage.lists(path, in: store.folders.package(id)) else {
            throw HTTPError(.notFound, message: "package \(id) has no file '\(path)'")
        }
        // model/vnd.usdz+zip: what Safari needs to open a USDZ in AR Quick Look.
        let type = path.hasSuffix(".png") ? "image/png" : path.hasSuffix(".mp4") ? "video/mp4" : path.hasSuffix(".glb") ? "model/gltf-binary"
            : path.hasSuffix(".usdz") ? "model/vnd.usdz+zip" : path.hasSuffix(".json") ? "application/json" : "application/octet-stream"
        let folder = store.folders.package(id)
        guard ReadPackage.compressible(path) else {
            return try await file(fileIO, folder.appendingPathComponent(path), request, context, type: type, etag: "\(id)/\(path)")
        }
        return try await compressibleFile(fileIO, path, in: folder, cache: store.folders.compressed(id), request, context,
                                          type: type, etag: "\(id)/\(path)")
    }

    owners.post(":id/shares") { request, context -> Response in
        let id = try context.parameters.require("id")
        let caller = try context.requireCaller()
        try Access.ownPackage(id, for: caller, store)
        struct Body: Decodable { var expiresInHours: Double? }
        let body = try await decodeBody(Body.self, request, limit: 4096, keys: ["expiresInHours"], example: #"{"expiresInHours": 24}"#,
                                        allowEmpty: true)
        let hours = try checked(body?.expiresInHours, "expiresInHours", shareHours) ?? 24
        if let refusal = ReadPackage.shareRefusal(store.folders.package(id)) { throw HTTPError(.conflict, message: refusal) }
        let share = try store.share(package: id, hours: hours, by: caller.id)
        return try encodedJSON(ShareView(id: share.id, token: share.token, url: "/v1/packages/\(id)/archive?share=\(share.token)",
                                         viewer: "/view/\(id)?share=\(share.token)",
                                         expiresAt: ISO8601DateFormatter().string(from: share.expires)), status: .created)
    }

    // The package's share links, for its owners: never their tokens (not kept), only what each
    // is, how often it was used and whether it still opens the package.
    owners.get(":id/shares") { _, context -> Response in
        let id = try context.parameters.require("id")
        try Access.ownPackage(id, for: try context.requireCaller(), store)
        let now = Date(), time = ISO8601DateFormatter()
        let shares = try store.shares(package: id).map { share in
            ShareInfo(id: share.id, created: share.created.map(time.string), expiresAt: time.string(from: share.expires),
                      state: share.revoked ? "revoked" : share.expires <= now ? "expired" : "active",
                      uses: share.uses, lastUsed: share.lastUsed.map(time.string), session: share.session)
        }
        return try encodedJSON(ShareList(shares: shares))
    }

    // Revoked at once: the next request with the link, to any of the package's URLs, is refused.
    owners.delete(":id/shares/:shareId") { _, context -> Response in
        let id = try context.parameters.require("id"), shareID = try context.parameters.require("shareId")
        try Access.ownPackage(id, for: try context.requireCaller(), store)
        guard try store.revokeShare(package: id, share: shareID) else {
            throw HTTPError(.notFound, message: "package \(id) has no share link \(shareID)")
        }
        return try encodedJSON(["id": shareID, "state": "revoked"])
    }

    // The web viewer: the page (opened with a share link, or a token) and three.js.
    router.get("/view/:id") { request, context -> Response in
        let id = try context.parameters.require("id")
        try Access.readPackage(id, request, store)
        let share = request.uri.queryParameters["share"].map(String.init)
        let language = Language.of(request)
        return language.htmlResponse(Viewer.page(id: id, share: share, language: language))
    }

    router.get("/static/three/**") { request, context -> Response in
        let path = context.parameters.getCatchAll().joined(separator: "/")
        guard Viewer.threeFiles.contains(path) else { throw HTTPError(.notFound, message: "not a viewer file") }
        // Debian links some of these files to /usr/share/nodejs: serve the file, not the link.
        let url = URL(fileURLWithPath: Viewer.threeFolder).appendingPathComponent(path).resolvingSymlinksInPath()
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
            throw HTTPError(.notFound, message: "three.js is not installed (apt-get install libjs-three)")
        }
        // Gzipped too (three.min.js: 851 KB, 172 KB gzipped), the copies keyed by the file's size
        // and date, so that a new libjs-three makes new ones.
        let version = "\((attributes[.size] as? Int) ?? 0)-\(Int((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0))"
        return try await compressibleFile(fileIO, url.lastPathComponent, in: url.deletingLastPathComponent(),
                                          cache: store.folders.staticCache.appendingPathComponent(version), request, context,
                                          type: "text/javascript", etag: "three-\(path)-\(version)")
    }

    // A package taken from its owner (an admin: from everyone); its files go with its last owner.
    owners.delete(":id") { _, context -> Response in
        let id = try context.parameters.require("id")
        let removal = try store.removePackage(id, owner: Access.listedOwner(try context.requireCaller()))
        switch removal {
        case .notFound:
            throw HTTPError(.notFound, message: "no package \(id)")
        case .released:
            return try encodedJSON(PackageRemoval(id: id, removed: false,
                                                  note: "removed from your packages; other senders of the same study still have it"))
        case .removed:
            store.folders.removePackageFiles(id)
            return try encodedJSON(PackageRemoval(id: id, removed: true))
        }
    }
}

/// The packages of `GET /v1/packages` (their ids).
struct PackageList: Encodable {
    var packages: [String]
}

/// A new share link: its id (to revoke it), the token, the archive's and the viewer's URLs with
/// it, and when it ends.
struct ShareView: Encodable {
    var id: String
    var token: String
    var url: String
    var viewer: String
    var expiresAt: String
}

/// A share link as `GET /v1/packages/{id}/shares` lists it.
struct ShareInfo: Encodable {
    var id: String
    var created: String?
    var expiresAt: String
    /// active, expired or revoked.
    var state: String
    var uses: Int
    var lastUsed: String?
    /// The live session whose link it is.
    var session: String?
}

struct ShareList: Encodable {
    var shares: [ShareInfo]
}

/// The answer to removing a package: gone, or only taken from this owner (with why).
struct PackageRemoval: Encodable {
    var id: String
    var removed: Bool
    var note: String?
}

/// Whether an Accept-Encoding header allows gzip (named, or "*", with a q above 0).
/// The file `path` of `folder`, gzipped for a client that accepts it (compressed once, off the
/// event loops, into `cache`, and kept: `ReadPackage.gzipped`), with its own ETag; a range is
/// always of the file itself. `Vary: Accept-Encoding` either way.
func compressibleFile(_ fileIO: FileIO, _ path: String, in folder: URL, cache: URL, _ request: Request, _ context: ServiceContext,
                      type: String, etag: String) async throws -> Response {
    var response: Response
    if request.headers[.range] == nil, acceptsGzip(request.headers[.acceptEncoding]) {
        let gzipped = try await offLoop { Result { try ReadPackage.gzipped(path, in: folder, cache: cache) } }.get()
        response = try await file(fileIO, gzipped, request, context, type: type, etag: etag + "+gzip")
        response.headers[.contentEncoding] = "gzip"
    } else {
        response = try await file(fileIO, folder.appendingPathComponent(path), request, context, type: type, etag: etag)
    }
    response.headers[.vary] = "Accept-Encoding"
    return response
}

func acceptsGzip(_ header: String?) -> Bool {
    guard let header else { return false }
    return header.split(separator: ",").contains { item in
        let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let name = parts.first, name == "gzip" || name == "x-gzip" || name == "*" else { return false }
        let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
        return q > 0
    }
}
