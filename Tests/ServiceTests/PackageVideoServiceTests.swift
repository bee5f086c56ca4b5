import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Service
import Testing
import TestSupport

/// The service's door to the package video: a job whose recipe says "video": true makes a package
/// with renders/turntable.mp4, served as video/mp4, and by ranges, as a player asks.
extension ServiceTests {
    @Test func aJobsRecipeCanAskForATurntableVideo() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let study = try await service.keptSample(token: owner)
            let (made, body, _) = try await service.request("POST", "/v1/studies/\(study)/jobs", token: owner,
                                                            body: Data(#"{"structures": [{"preset": "skin"}], "video": true}"#.utf8),
                                                            type: "application/json")
            #expect(made == 202, "\(String(decoding: body, as: UTF8.self))")
            let job = try await service.wait(job: try #require(service.json(body)["jobId"] as? String), token: owner)
            #expect(job["state"] as? String == "done", "\(job)")
            let package = try #require(job["packageId"] as? String)
            let manifest = service.json(try await service.request("GET", "/v1/packages/\(package)", token: owner).1)
            let renders = manifest["renders"] as? [[String: Any]] ?? []
            #expect(renders.contains { $0["kind"] as? String == "turntable" && $0["frames"] as? Int == 72 }, "\(renders)")
            let (got, film, response) = try await service.request("GET", "/v1/packages/\(package)/files/renders/turntable.mp4", token: owner)
            #expect(got == 200 && response.value(forHTTPHeaderField: "Content-Type") == "video/mp4")
            #expect(film.count > 1000 && film[4..<8] == Data("ftyp".utf8), "an MP4 begins with its ftyp box")
            let (partial, piece, _) = try await service.request("GET", "/v1/packages/\(package)/files/renders/turntable.mp4", token: owner,
                                                                headers: ["Range": "bytes=0-99"])
            #expect(partial == 206 && piece == film.prefix(100))
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }
}
