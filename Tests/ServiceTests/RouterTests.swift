import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Service
import Testing
import TestSupport
import VolumeCore

/// The routes' answers and errors in process, through Hummingbird's router test framework (no
/// socket): who may call what, and what a wrong request is told. The end-to-end tests over a
/// real socket stay in ServiceTests.
@Suite struct RouterTests {
    static func withRouter(_ body: @escaping @Sendable (any TestClientProtocol, ServiceStore) async throws -> Void) async throws {
        let data = try Fixtures.temporaryFolder("router")
        defer { try? FileManager.default.removeItem(at: data) }
        let server = try ServiceServer(settings: ServiceServer.Settings(data: data))
        let store = try ServiceStore(data: data)
        let app = Application(router: server.makeRouter())
        try await app.test(.router) { client in try await body(client, store) }
    }

    static func object(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
    }

    @Test func healthAndTheOpenAPIDescriptionNeedNoToken() async throws {
        try await Self.withRouter { client, _ in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok && Self.object(response.body)["status"] as? String == "ok")
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/yaml")
                #expect(String(buffer: response.body).contains("/v1/studies"))
            }
        }
    }

    @Test func tokensDecideWhoMayCallWhat() async throws {
        try await Self.withRouter { client, store in
            let submitter = try store.createToken(role: .submitter, name: "surgeon")
            let admin = try store.createToken(role: .admin, name: "admin")
            try await client.execute(uri: "/v1/jobs", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: [.authorization: "Bearer not-a-token"]) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: [.authorization: "Bearer \(submitter)"]) { response in
                #expect(response.status == .ok && (Self.object(response.body)["jobs"] as? [Any])?.isEmpty == true)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(submitter)"]) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("vrprep_jobs{state=\"queued\"} 0"))
            }
            try await client.execute(uri: "/v1/dicom/peers", method: .get, headers: [.authorization: "Bearer \(submitter)"]) { response in
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test func anotherOwnersRecordsAreNotFoundButAnAdminSeesThem() async throws {
        try await Self.withRouter { client, store in
            let (mine, theirs) = (try store.createToken(role: .submitter, name: "a"), try store.createToken(role: .submitter, name: "b"))
            let admin = try store.createToken(role: .admin, name: "admin")
            let owner = try #require(try store.caller(token: mine)).id
            try store.createJob(id: "job-of-a", owner: owner)
            for (token, expected) in [(mine, HTTPResponse.Status.ok), (theirs, .notFound), (admin, .ok)] {
                try await client.execute(uri: "/v1/jobs/job-of-a", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    #expect(response.status == expected)
                }
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: [.authorization: "Bearer \(theirs)"]) { response in
                #expect((Self.object(response.body)["jobs"] as? [Any])?.isEmpty == true)
            }
            try await client.execute(uri: "/v1/jobs/job-of-a", method: .delete, headers: [.authorization: "Bearer \(theirs)"]) { response in
                #expect(response.status == .notFound)
            }
            #expect(try store.job("job-of-a")?.state == .queued)
            // The job's JSON, byte for byte (with, since the study became a resource, its load notes).
            try await client.execute(uri: "/v1/jobs/job-of-a", method: .get, headers: [.authorization: "Bearer \(mine)"]) { response in
                #expect(String(buffer: response.body) == #"{"id":"job-of-a","percent":0,"profile":"desktop","rejected":[],"source":{"kind":"upload"},"stage":"queued","state":"queued","warnings":[]}"#)
            }
            try await client.execute(uri: "/v1/jobs/job-of-a", method: .delete, headers: [.authorization: "Bearer \(mine)"]) { response in
                #expect(response.status == .ok)
            }
            #expect(try store.job("job-of-a")?.state == .cancelled)
        }
    }

    @Test func aCollectionAnswersWithItsShareLinkOnceAndItsItemsAfter() async throws {
        try await Self.withRouter { client, store in
            let trainer = try store.createToken(role: .trainer, name: "trainer")
            try store.addPackage(id: "pkg-1", owner: try #require(try store.caller(token: trainer)).id, job: "job-1")
            var headers: HTTPFields = [.authorization: "Bearer \(trainer)"]
            headers[.contentType] = "application/json"
            let made = try await client.execute(uri: "/v1/collections", method: .post, headers: headers,
                                                body: ByteBuffer(string: #"{"name": "Course 1", "items": [{"package": "pkg-1", "notes": "skull base"}]}"#)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                return Self.object(response.body)
            }
            #expect(Set(made.keys) == ["id", "name", "expiresAt", "expired", "items", "token", "url"], "\(made)")
            let id = try #require(made["id"] as? String), token = try #require(made["token"] as? String)
            #expect(made["url"] as? String == "/v1/collections/\(id)?share=\(token)" && made["expired"] as? Bool == false)
            try await client.execute(uri: "/v1/collections/\(id)?share=\(token)", method: .get) { response in
                let seen = Self.object(response.body)
                #expect(response.status == .ok && Set(seen.keys) == ["id", "name", "expiresAt", "expired", "items"], "\(seen)")
                #expect(seen["name"] as? String == "Course 1")
                let items = seen["items"] as? [[String: Any]]
                #expect(items?.count == 1 && items?[0]["package"] as? String == "pkg-1" && items?[0]["notes"] as? String == "skull base")
                #expect(items?[0]["url"] as? String == "/v1/packages/pkg-1/archive?share=\(token)")
            }
        }
    }

    @Test func wrongRequestsAreToldWhatIsWrong() async throws {
        try await Self.withRouter { client, store in
            let submitter = try store.createToken(role: .submitter, name: "surgeon")
            let auth: HTTPFields = [.authorization: "Bearer \(submitter)"]
            try await client.execute(uri: "/v1/jobs/nope", method: .get, headers: auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/jobs/nope", method: .delete, headers: auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/packages/nope", method: .get, headers: auth) { response in
                #expect(response.status == .notFound)
            }
            var text = auth
            text[.contentType] = "text/plain"
            try await client.execute(uri: "/v1/studies", method: .post, headers: text, body: ByteBuffer(string: "hello")) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(String(buffer: response.body).contains("zip"))
            }
            var json = auth
            json[.contentType] = "application/json"
            try await client.execute(uri: "/v1/collections", method: .post, headers: json, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .forbidden, "a submitter makes no collections: \(response.status)")
            }
            json[.authorization] = "Bearer \(try store.createToken(role: .trainer, name: "trainer"))"
            try await client.execute(uri: "/v1/collections", method: .post, headers: json, body: ByteBuffer(string: "[1, 2]")) { response in
                #expect(response.status == .badRequest, "\(response.status)")
            }
        }
    }

    @Test func aPeersRecipeComesBackAsTheObjectItWasGivenAndAWrongOneIsRefused() async throws {
        try await Self.withRouter { client, store in
            let admin: HTTPFields = [.authorization: "Bearer \(try store.createToken(role: .admin, name: "admin"))"]
            let recipe = #"{"structures":[{"preset":"bone"},{"lower":150,"preset":"vessels","seedsMM":[[1.5,-2,3]]}]}"#
            let body = #"{"host": "10.0.0.7", "completion": "release", "recipe": \#(recipe)}"#
            try await client.execute(uri: "/v1/dicom/peers/CT_ROOM_1", method: .put, headers: admin, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created)
                #expect(String(buffer: response.body) ==
                        #"{"aeTitle":"CT_ROOM_1","completion":"release","host":"10.0.0.7","recipe":\#(recipe)}"#)
            }
            try await client.execute(uri: "/v1/dicom/peers", method: .get, headers: admin) { response in
                let peers = Self.object(response.body)["peers"] as? [[String: Any]]
                #expect(peers?.count == 1 && peers?.first?["aeTitle"] as? String == "CT_ROOM_1")
                #expect(Self.object(response.body)["receiver"] == nil, "no receiver runs in this server")
            }
            let wrong = #"{"recipe": {"structures": [{"preset": "vessels", "radiusMM": "big"}]}}"#
            try await client.execute(uri: "/v1/dicom/peers/CT_ROOM_2", method: .put, headers: admin, body: ByteBuffer(string: wrong)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("radiusMM"))
            }
            try await client.execute(uri: "/v1/dicom/peers/CT_ROOM_1", method: .delete, headers: admin) { response in
                #expect(response.status == .noContent)
            }
        }
    }

    @Test func anOwnerSharesAndRemovesAPackageAndOthersCannot() async throws {
        try await Self.withRouter { client, store in
            let (mine, theirs) = (try store.createToken(role: .submitter, name: "a"), try store.createToken(role: .trainer, name: "b"))
            try store.addPackage(id: "pkg-a", owner: try #require(try store.caller(token: mine)).id, job: "job-a")
            try await client.execute(uri: "/v1/packages", method: .get, headers: [.authorization: "Bearer \(mine)"]) { response in
                #expect(String(buffer: response.body) == #"{"packages":["pkg-a"]}"#)
            }
            try await client.execute(uri: "/v1/packages/pkg-a/shares", method: .post, headers: [.authorization: "Bearer \(theirs)"]) { response in
                #expect(response.status == .notFound, "a trainer who does not own it learns nothing of it")
            }
            var token = ""
            try await client.execute(uri: "/v1/packages/pkg-a/shares", method: .post, headers: [.authorization: "Bearer \(mine)"],
                                     body: ByteBuffer(string: #"{"expiresInHours": 2}"#)) { response in
                #expect(response.status == .created)
                let answer = Self.object(response.body)
                token = answer["token"] as? String ?? ""
                #expect(token.hasPrefix("vrs_") && answer["url"] as? String == "/v1/packages/pkg-a/archive?share=\(token)")
                #expect(answer["expiresAt"] is String)
            }
            #expect(try store.shareOpens(token: token, package: "pkg-a"))
            try await client.execute(uri: "/v1/packages/pkg-a", method: .delete, headers: [.authorization: "Bearer \(theirs)"]) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/packages/pkg-a", method: .delete, headers: [.authorization: "Bearer \(mine)"]) { response in
                #expect(String(buffer: response.body) == #"{"id":"pkg-a","removed":true}"#)
            }
        }
    }

    @Test func everyCatalogueHasEveryKeyAndTheReaderGetsTheirLanguage() {
        let keys = Set(Language.en.messages.keys)
        for language in Language.allCases {
            #expect(Set(language.messages.keys) == keys, "\(language): \(Set(language.messages.keys).symmetricDifference(keys).sorted())")
            #expect(language.messages.values.allSatisfy { !$0.isEmpty })
            if language != .en {
                // Words that are the same in that language.
                let shared = ["structure.tumor", "structure.vessels", "app.plane.axial", "app.plane.coronal", "app.voxel", "app.voxels"]
                let same = keys.filter { language.messages[$0] == Language.en.messages[$0] && !shared.contains($0) }
                #expect(same.isEmpty, "\(language) leaves words in English: \(same.sorted())")
            }
        }
        // Every note a preset can write, in every language, naming exactly the values it is given.
        for code in Notice.Code.allCases {
            for language in Language.allCases {
                let template = language.messages["notice.\(code.rawValue)"] ?? ""
                let named = template.matches(of: /\{(\w+)\}/).map { String($0.1) }
                #expect(!template.isEmpty && Set(named) == Set(code.parameters), "\(language) notice.\(code.rawValue): \(named)")
            }
        }
        #expect(Language.chosen(query: "ja", acceptLanguage: "es") == .ja)
        #expect(Language.chosen(query: nil, acceptLanguage: "pt-BR,pt;q=0.9,en;q=0.8") == .pt)
        #expect(Language.chosen(query: nil, acceptLanguage: "de-DE, es;q=0.7, en;q=0.5") == .es)
        #expect(Language.chosen(query: nil, acceptLanguage: "en;q=0.2, ja;q=0.8") == .ja)
        #expect(Language.chosen(query: "klingon", acceptLanguage: "fr") == .en)
        #expect(Language.chosen(query: nil, acceptLanguage: nil) == .en)
    }

    @Test func theViewerSpeaksTheReadersLanguage() async throws {
        try await Self.withRouter { client, store in
            let owner = try store.createToken(role: .submitter, name: "a")
            try store.addPackage(id: "pkg-v", owner: try #require(try store.caller(token: owner)).id, job: "job-v")
            let share = try store.share(package: "pkg-v", hours: 1, by: "test").token
            try await client.execute(uri: "/view/pkg-v?share=\(share)&lang=ja", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(response.headers[.contentLanguage] == "ja" && page.contains(#"<html lang="ja">"#) && page.contains("読み込み中…"))
            }
            try await client.execute(uri: "/view/pkg-v?share=\(share)", method: .get, headers: [.acceptLanguage: "es-419,es;q=0.9"]) { response in
                #expect(String(buffer: response.body).contains("Estructuras"))
            }
            try await client.execute(uri: "/view/pkg-v?share=\(share)", method: .get) { response in
                #expect(String(buffer: response.body).contains(#"<html lang="en">"#))
            }
        }
    }
}
