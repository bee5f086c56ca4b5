import Foundation
import Hummingbird

/// Who may see and change what: the rules every route asks, in one place (where an audit trail
/// will hook in). Jobs and collections of another owner are answered as not found, so their ids
/// leak nothing; another owner's package or study is forbidden.
enum Access {
    /// Whose records a listing shows: everyone's for an admin, else the caller's.
    static func listedOwner(_ caller: Caller) -> String? {
        caller.role == .admin ? nil : caller.id
    }

    /// A job its owner (or an admin) may see and cancel.
    static func job(_ id: String, for caller: Caller, _ store: any JobRecords) throws -> ServiceStore.Job {
        guard let job = try store.job(id), caller.role == .admin || job.owner == caller.id else {
            throw HTTPError(.notFound, message: "no job \(id)")
        }
        return job
    }

    /// A study its owner (or an admin) may see, use and remove; never through a share link.
    /// Another owner's study is forbidden (403), as another owner's package is: a study's id is
    /// random, so saying that it exists tells nothing of its contents.
    static func study(_ id: String, for caller: Caller, _ store: any StudyRecords) throws -> ServiceStore.Study {
        guard let study = try store.study(id) else { throw HTTPError(.notFound, message: "no study \(id)") }
        guard caller.role == .admin || study.owner == caller.id else {
            throw HTTPError(.forbidden, message: "study \(id) belongs to someone else")
        }
        return study
    }

    /// Whether the caller owns a package (an admin: whether anyone does).
    static func owns(package id: String, _ caller: Caller, _ store: any PackageRecords) throws -> Bool {
        let owners = try store.packageOwners(id)
        return caller.role == .admin ? !owners.isEmpty : owners.contains(caller.id)
    }

    /// A package its owners (or an admin) may share or remove.
    static func ownPackage(_ id: String, for caller: Caller, _ store: any PackageRecords) throws {
        guard try owns(package: id, caller, store) else { throw HTTPError(.notFound, message: "no package \(id)") }
    }

    /// Reading a package: its owners, an admin, or a share link that opens it (a link to this
    /// package or to a collection holding it), as a bearer token or `?share=`. A valid access
    /// token is asked first, so a share link on the same request never takes away what it allows.
    static func readPackage(_ id: String, _ request: Request, _ store: any TokenRecords & PackageRecords) throws {
        if let token = bearer(request), !token.hasPrefix("vrs_") {
            let caller = try authorize(request, store, roles: [.submitter, .host, .trainer, .admin])
            if try owns(package: id, caller, store) { return }
            if let share = shareToken(request), try store.shareOpens(token: share, package: id) { return }
            guard try !store.packageOwners(id).isEmpty else { throw HTTPError(.notFound, message: "no package \(id)") }
            throw HTTPError(.forbidden, message: "package \(id) belongs to someone else: ask its owner for a share link")
        }
        guard let share = shareToken(request) else {
            throw HTTPError(.unauthorized, message: "no bearer token (Authorization: Bearer …) and no share link")
        }
        guard try store.shareOpens(token: share, package: id) else {
            throw HTTPError(.forbidden, message: "this share link does not open package \(id) (or it expired or was revoked)")
        }
    }

    /// Whether the caller may put a package in a collection: it owns it, or gives a share link
    /// that opens it.
    static func mayCollect(package id: String, share: String?, _ caller: Caller, _ store: any PackageRecords) throws -> Bool {
        try owns(package: id, caller, store) || share.map { try store.shareOpens(token: $0, package: id) } == true
    }

    /// A collection its owner (or an admin) may see whole.
    static func collection(_ id: String, for caller: Caller, _ store: any CollectionRecords) throws -> ServiceStore.Collection {
        guard let collection = try store.collection(id), caller.role == .admin || collection.owner == caller.id else {
            throw HTTPError(.notFound, message: "no collection \(id)")
        }
        return collection
    }

    /// Reading a collection: with its share link (refused once expired or revoked), its items
    /// with links to their packages; with an access token, its owner's (or an admin's) view.
    static func readCollection(_ id: String, _ request: Request, _ store: any TokenRecords & PackageRecords & CollectionRecords) throws
        -> (ServiceStore.Collection, share: String?) {
        if let share = shareToken(request) {
            guard let shared = try store.sharedCollection(token: share), shared.id == id,
                  let collection = try store.collection(id) else {
                throw HTTPError(.forbidden, message: "this share link does not open collection \(id)")
            }
            guard shared.valid else {
                throw HTTPError(.gone, message: "this collection's link expired at \(ISO8601DateFormatter().string(from: shared.expires)) " +
                                "or was revoked: ask the trainer for a new one")
            }
            return (collection, share)
        }
        let caller = try authorize(request, store, roles: [.trainer, .admin])
        return (try Access.collection(id, for: caller, store), nil)
    }
}
