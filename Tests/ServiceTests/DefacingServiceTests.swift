import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Service
import Testing
import TestSupport

/// Packages leave the hospital through share links only defaced (issue "Privacy of shared head
/// scans"): a job's recipe may keep the face ("deface": "off"), and that package cannot be shared.
extension ServiceTests {
    @Test func aPackageThatKeepsTheFaceCannotBeShared() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let study = try await service.keptSample(token: owner)
            let bad = try await service.request("POST", "/v1/studies/\(study)/jobs", token: owner,
                                                body: Data(#"{"structures": [{"preset": "skin"}], "deface": "maybe"}"#.utf8), type: "application/json")
            #expect(bad.0 == 400 && String(decoding: bad.1, as: UTF8.self).contains("deface must be"), "\(String(decoding: bad.1, as: UTF8.self))")
            var packages: [String: String] = [:]
            for mode in ["off", "auto"] {
                let (made, body, _) = try await service.request("POST", "/v1/studies/\(study)/jobs", token: owner,
                                                                body: Data(#"{"structures": [{"preset": "skin"}], "deface": "\#(mode)"}"#.utf8),
                                                                type: "application/json")
                #expect(made == 202, "\(String(decoding: body, as: UTF8.self))")
                let job = try await service.wait(job: try #require(service.json(body)["jobId"] as? String), token: owner)
                #expect(job["state"] as? String == "done", "\(job)")
                packages[mode] = try #require(job["packageId"] as? String)
            }
            let kept = service.json(try await service.request("GET", "/v1/packages/\(packages["off"]!)", token: owner).1)
            let removed = service.json(try await service.request("GET", "/v1/packages/\(packages["auto"]!)", token: owner).1)
            #expect((kept["defacing"] as? [String: Any])?["face_found"] as? Bool == true && (kept["defacing"] as? [String: Any])?["removed"] as? Bool == false)
            #expect((removed["defacing"] as? [String: Any])?["removed"] as? Bool == true, "\(removed["defacing"] ?? "none")")
            let refused = try await service.request("POST", "/v1/packages/\(packages["off"]!)/shares", token: owner)
            #expect(refused.0 == 409 && String(decoding: refused.1, as: UTF8.self).contains("keeps the study's face"),
                    "\(refused.0) \(String(decoding: refused.1, as: UTF8.self))")
            #expect(try await service.request("POST", "/v1/packages/\(packages["auto"]!)/shares", token: owner).0 == 201)
            // Nor through a live session's join links, nor a course collection's.
            let session = try await service.request("POST", "/v1/packages/\(packages["off"]!)/sessions", token: owner)
            #expect(session.0 == 409, "\(session.0) \(String(decoding: session.1, as: UTF8.self))")
            let admin = try service.store.createToken(role: .admin, name: "admin")
            let collection = try await service.request("POST", "/v1/collections", token: admin,
                                                       body: Data(#"{"name": "course", "items": [{"package": "\#(packages["off"]!)"}]}"#.utf8),
                                                       type: "application/json")
            #expect(collection.0 == 409 && String(decoding: collection.1, as: UTF8.self).contains("item 1"),
                    "\(collection.0) \(String(decoding: collection.1, as: UTF8.self))")
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }
}
