import DICOM
import Foundation
import Hummingbird
import Pipeline

/// The DICOM peers stored in the database (admin): who may send studies by C-STORE, from where,
/// with which recipe, and how the end of a study is found. Changes apply to the next association.
func addDicomPeerRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    let admins = router.group("/v1/dicom/peers", for: [.admin], store)

    admins.get { _, _ -> Response in
        let receiver = settings.dicom.map { dicom in
            PeerList.Receiver(aeTitle: dicom.aeTitle, port: dicom.port, idleSeconds: dicom.idleSeconds,
                              commandLine: dicom.allowed.map(\.description), completion: dicom.completion.rawValue)
        }
        return try encodedJSON(PeerList(peers: try store.dicomPeers().map(PeerView.init), receiver: receiver))
    }

    admins.put(":ae") { request, context -> Response in
        let ae = try peerTitle(context)
        let data = Data(try await request.body.collect(upTo: 1 << 20).readableBytesView)
        let object: [String: Any]
        if data.isEmpty {
            object = [:]
        } else {
            guard let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw HTTPError(.badRequest, message: "the body must be a JSON object {\"host\", \"completion\", \"recipe\", \"returnTo\"} (each optional)")
            }
            object = parsed
        }
        if let unknown = object.keys.sorted().first(where: { !["host", "completion", "recipe", "returnTo", "stow"].contains($0) }) {
            throw HTTPError(.badRequest, message: "unknown key '\(unknown)' (host, completion, recipe, returnTo, stow)")
        }
        var peer = ServiceStore.DicomPeer(aeTitle: ae)
        if let host = object["host"], !(host is NSNull) {
            // Host names, IPv4 and IPv6 addresses: letters, digits, '.', '-', ':' and nothing else (no NUL, no spaces).
            guard let host = host as? String, isHostName(host) else {
                throw HTTPError(.badRequest, message: "host must be a host name or an address (letters, digits, '.', '-', ':')")
            }
            peer.host = host
        }
        if let completion = object["completion"] {
            guard let text = completion as? String, let rule = ServiceStore.Completion(rawValue: text) else {
                throw HTTPError(.badRequest, message: "completion must be \"idle\" or \"release\"")
            }
            peer.completion = rule
        }
        if let recipe = object["recipe"], !(recipe is NSNull) {
            guard JSONSerialization.isValidJSONObject(recipe),
                  let recipeData = try? JSONSerialization.data(withJSONObject: recipe, options: [.sortedKeys]) else {
                throw HTTPError(.badRequest, message: "recipe must be a JSON object (a vrprep recipe)")
            }
            do {
                _ = try Pipeline.recipe(parsing: recipeData)
            } catch {
                throw HTTPError(.badRequest, message: "\(error)")
            }
            peer.recipe = String(decoding: recipeData, as: UTF8.self)
        }
        if let target = object["returnTo"], !(target is NSNull) {
            // Where this peer's results go: a Storage SCP (its AE title, host and port).
            guard let fields = target as? [String: Any], Set(fields.keys).isSubset(of: ["ae", "host", "port", "tls"]),
                  let title = fields["ae"] as? String, DicomReceiver.isValidAETitle(title),
                  let host = fields["host"] as? String, isHostName(host),
                  let port = fields["port"] as? Int, (1...65535).contains(port),
                  fields["tls"] == nil || fields["tls"] is Bool else {
                throw HTTPError(.badRequest, message: "returnTo must be {\"ae\": AE title, \"host\": a host name or address, \"port\": 1…65535, \"tls\": true or false (optional)}")
            }
            let tls = fields["tls"] as? Bool ?? false
            // Over TLS the service shows its DICOM certificate and checks the peer's against its CA.
            if tls, settings.dicom?.tls?.ca == nil {
                throw HTTPError(.badRequest, message: "returnTo.tls needs the service started with --dicom-tls-cert, --dicom-tls-key and --dicom-tls-ca")
            }
            peer.returnTo = ServiceStore.ReturnTarget(ae: title, host: host, port: port, tls: tls ? true : nil)
        }
        if let stow = object["stow"], !(stow is NSNull) {
            // A DICOMweb service's base URL (its /studies takes STOW-RS).
            guard let text = stow as? String, text.count <= 2048, let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""),
                  url.host != nil else {
                throw HTTPError(.badRequest, message: "stow must be the http(s) URL of a DICOMweb service (e.g. http://pacs:8042/dicom-web)")
            }
            var target = peer.returnTo ?? ServiceStore.ReturnTarget()
            target.stow = text
            peer.returnTo = target
        }
        let existed = try store.dicomPeer(ae) != nil
        try store.saveDicomPeer(peer)
        return try encodedJSON(PeerView(peer), status: existed ? .ok : .created)
    }

    admins.delete(":ae") { _, context -> Response in
        let ae = try peerTitle(context)
        guard try store.removeDicomPeer(ae) else { throw HTTPError(.notFound, message: "no DICOM peer '\(ae)' in the database") }
        return Response(status: .noContent)
    }
}

/// A host name, IPv4 or IPv6 address: letters, digits, '.', '-', ':' and nothing else (no NUL, no spaces).
private func isHostName(_ host: String) -> Bool {
    let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
    return !host.isEmpty && host.utf8.count <= 253 && host.unicodeScalars.allSatisfy(allowed.contains)
}

/// The AE title in the path (percent-decoded), checked.
private func peerTitle(_ context: ServiceContext) throws -> String {
    let raw = try context.parameters.require("ae")
    let ae = raw.removingPercentEncoding ?? raw
    guard DicomReceiver.isValidAETitle(ae) else {
        throw HTTPError(.badRequest, message: "'\(ae)' is not an AE title (1…16 printable ASCII characters, no backslash)")
    }
    return ae
}

/// A DICOM peer as the API shows it: its recipe as the object it was given.
struct PeerView: Encodable {
    var aeTitle: String
    var completion: ServiceStore.Completion.RawValue
    var host: String?
    var recipe: Recipe?
    var returnTo: ServiceStore.ReturnTarget?

    init(_ peer: ServiceStore.DicomPeer) {
        (aeTitle, completion, host, returnTo) = (peer.aeTitle, peer.completion.rawValue, peer.host, peer.returnTo)
        // Checked when it was stored: a recipe that no longer reads is shown as none.
        recipe = peer.recipe.flatMap { try? Recipe.parse(Data($0.utf8), source: "recipe") }
    }
}

/// `GET /v1/dicom/peers`: the peers, and the receiver's settings when it runs.
struct PeerList: Encodable {
    struct Receiver: Encodable {
        var aeTitle: String
        var port: Int
        var idleSeconds: Double
        var commandLine: [String]
        var completion: String
    }

    var peers: [PeerView]
    var receiver: Receiver?
}
