import Foundation
import Hummingbird
import Pipeline

/// Collections of packages for a course or a conference.
func addCollectionRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    let trainers = router.group("/v1/collections", for: [.trainer, .admin], store)

    // Collections: a trainer gathers packages it can read (its own, or through a share link
    // it was given) with notes, for a course; each item comes back with a fresh share link.
    trainers.post { request, context -> Response in
        let caller = try context.requireCaller()
        struct Item: Decodable { var package: String; var share: String?; var notes: String?; var recording: String? }
        struct Body: Decodable { var name: String; var items: [Item]; var expiresInHours: Double? }
        let example = #"{"name": "…", "items": [{"package": "…", "share": "…", "notes": "…", "recording": "ses_…"}], "expiresInHours": 720}"#
        guard let body = try await decodeBody(Body.self, request, limit: 1 << 20, keys: ["name", "items", "expiresInHours"],
                                              itemKeys: ["package", "share", "notes", "recording"], example: example) else {
            throw HTTPError(.badRequest, message: "the body must be a JSON object \(example)")
        }
        guard !body.name.trimmingCharacters(in: .whitespaces).isEmpty, body.name.count <= 200 else {
            throw HTTPError(.badRequest, message: "name must be a text of 1…200 characters")
        }
        guard (1...500).contains(body.items.count) else {
            throw HTTPError(.badRequest, message: "items must be a list of 1…500 objects {package, share, notes}")
        }
        let hours = try checked(body.expiresInHours, "expiresInHours", shareHours) ?? 24 * 30
        var items: [ServiceStore.CollectionItem] = []
        for (n, item) in body.items.enumerated() {
            let notes = item.notes ?? ""
            guard notes.count <= 10_000 else { throw HTTPError(.badRequest, message: "item \(n + 1): notes longer than 10,000 characters") }
            guard try Access.mayCollect(package: item.package, share: item.share, caller, store) else {
                throw HTTPError(.forbidden, message: "item \(n + 1): package \(item.package) is not yours and no valid share link for it was given")
            }
            // Each item goes out with a share link: never a package that keeps a face.
            if let refusal = ReadPackage.shareRefusal(store.folders.package(item.package)) {
                throw HTTPError(.conflict, message: "item \(n + 1): \(refusal)")
            }
            // A recording of a session the trainer held (or an admin's) on this same package.
            if let recording = item.recording {
                guard let session = try store.sessionRecord(recording), caller.role == .admin || session.owner == caller.id else {
                    throw HTTPError(.forbidden, message: "item \(n + 1): no session \(recording) of yours to take the recording of")
                }
                guard session.packageID == item.package else {
                    throw HTTPError(.badRequest, message: "item \(n + 1): session \(recording) was held on package \(session.packageID), not \(item.package)")
                }
            }
            items.append(.init(packageID: item.package, notes: notes, recording: item.recording))
        }
        let made = try store.createCollection(owner: caller.id, name: body.name, items: items, hours: hours)
        guard let collection = try store.collection(made.id) else { throw HTTPError(.internalServerError, message: "the collection was not kept") }
        var answer = CollectionView(collection, share: made.token)
        (answer.token, answer.url) = (made.token, "/v1/collections/\(made.id)?share=\(made.token)")
        return try encodedJSON(answer, status: .created)
    }

    trainers.get { _, context -> Response in
        let owner = Access.listedOwner(try context.requireCaller())
        return try encodedJSON(CollectionList(collections: try store.collections(owner: owner)))
    }

    // One collection: for its owner (or an admin), its items; with its share link, its items
    // each with a link to the package. Reading writes nothing; an expired link stays refused.
    router.get("/v1/collections/:id") { request, context -> Response in
        let id = try context.parameters.require("id")
        let (collection, share) = try Access.readCollection(id, request, store)
        return try encodedJSON(CollectionView(collection, share: share))
    }
}

/// A collection as the API shows it; with a share link, each item's archive URL opens with it.
struct CollectionView: Encodable {
    struct Item: Encodable {
        var package, notes: String
        var url: String?
        /// A live session's recording on this package (its session id), and with a share link, its URL.
        var recording, recordingUrl: String?
    }

    var id, name: String
    /// When its share link ends (ISO 8601), and whether it has.
    var expiresAt: String
    var expired: Bool
    /// The packages in the trainer's order, with their notes.
    var items: [Item]
    /// When it was just made: its share link, and the collection's URL with it.
    var token, url: String?

    init(_ collection: ServiceStore.Collection, share: String?) {
        (id, name, expired) = (collection.id, collection.name, collection.expires <= Date())
        expiresAt = ISO8601DateFormatter().string(from: collection.expires)
        items = collection.items.map { item in
            Item(package: item.packageID, notes: item.notes, url: share.map { "/v1/packages/\(item.packageID)/archive?share=\($0)" },
                 recording: item.recording,
                 recordingUrl: item.recording.flatMap { id in share.map { "/v1/sessions/\(id)/recording?share=\($0)" } })
        }
    }
}

/// The collections of `GET /v1/collections` (their ids).
struct CollectionList: Encodable {
    var collections: [String]
}
