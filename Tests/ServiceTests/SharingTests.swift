import Foundation
@testable import Service
import Testing
import TestSupport

/// Who reaches a package: every sender of its study, share links that keep their expiry,
/// collections that write nothing when read, and requests whose numbers and types are checked.
extension ServiceTests {
    @Test func aStudySentByTwoSubmittersIsEachOnesPackageAndLeavesWithItsLastOwner() async throws {
        let service = try await Running()
        let first = try service.store.createToken(role: .submitter, name: "surgeon A")
        let second = try service.store.createToken(role: .submitter, name: "surgeon B")
        do {
            let zip = try Self.sampleZip()
            let jobA = try await service.wait(job: try await upload(service, zip, token: first), token: first)
            let jobB = try await service.wait(job: try await upload(service, zip, token: second), token: second)
            let package = try #require(jobA["packageId"] as? String)
            #expect(jobB["packageId"] as? String == package, "the same study gives the same package")
            for token in [first, second] {
                #expect(try await service.request("GET", "/v1/packages/\(package)/archive", token: token).0 == 200)
                #expect((service.json(try await service.request("GET", "/v1/packages", token: token).1)["packages"] as? [String]) == [package])
            }
            // One sender deletes it: the other keeps it, files included.
            let (deleted, answer, _) = try await service.request("DELETE", "/v1/packages/\(package)", token: first)
            #expect(deleted == 200 && service.json(answer)["removed"] as? Bool == false, "\(service.json(answer))")
            #expect(try await service.request("GET", "/v1/packages/\(package)/archive", token: first).0 == 403)
            #expect(try await service.request("GET", "/v1/packages/\(package)/archive", token: second).0 == 200)
            // The last owner deletes it: records and files go.
            let (gone, last, _) = try await service.request("DELETE", "/v1/packages/\(package)", token: second)
            #expect(gone == 200 && service.json(last)["removed"] as? Bool == true)
            #expect(!FileManager.default.fileExists(atPath: service.store.folders.package(package).path))
            #expect(try await service.request("DELETE", "/v1/packages/\(package)", token: second).0 == 404)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    /// curl with a header or not: the response's own bytes and headers, as a browser gets them.
    static func curl(_ url: String, headers: [String]) throws -> (head: String, body: Data) {
        let folder = try Fixtures.temporaryFolder("curl")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (head, body) = (folder.appendingPathComponent("head"), folder.appendingPathComponent("body"))
        let done = try CommandLineTool.run(["-s", "-D", head.path, "-o", body.path] + headers.flatMap { ["-H", $0] } + [url], program: "curl")
        #expect(done.status == 0, "\(done.standardError)")
        return (try String(contentsOf: head, encoding: .utf8).lowercased(), try Data(contentsOf: body))
    }

    @Test func sceneFilesGoGzippedToClientsThatAcceptItAndRangesStayOfTheFile() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: owner), token: owner)
            let package = try #require(job["packageId"] as? String)
            let (_, shareBody, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: owner)
            let share = try #require(service.json(shareBody)["token"] as? String)
            let url = service.base.absoluteString + "/v1/packages/\(package)/files/scene-preview.glb?share=\(share)"
            let original = try Data(contentsOf: service.store.folders.package(package).appendingPathComponent("scene-preview.glb"))
            // Accepted: gzip, smaller, the same bytes once decoded, its own ETag, Vary.
            let (zippedHead, zipped) = try Self.curl(url, headers: ["Accept-Encoding: gzip, deflate, br"])
            #expect(zippedHead.contains("content-encoding: gzip") && zippedHead.contains("vary: accept-encoding"), "\(zippedHead)")
            #expect(zippedHead.contains("+gzip\""), "\(zippedHead)")
            #expect(zipped.count < original.count * 9 / 10, "\(zipped.count) of \(original.count) bytes")
            let received = try Fixtures.temporaryFolder("gzipped").appendingPathComponent("scene-preview.glb.gz")
            defer { try? FileManager.default.removeItem(at: received.deletingLastPathComponent()) }
            try zipped.write(to: received)
            let same = try CommandLineTool.run(["-c", "import gzip, sys; sys.exit(gzip.decompress(open(sys.argv[1], 'rb').read()) != open(sys.argv[2], 'rb').read())",
                                                received.path, service.store.folders.package(package).appendingPathComponent("scene-preview.glb").path],
                                               program: "python3")
            #expect(same.status == 0, "the gzipped file does not decode to the package's file")
            // Refused (q=0) or not asked: the file itself, with Vary too.
            for headers in [["Accept-Encoding: gzip;q=0"], ["Accept-Encoding: identity"]] {
                let (head, body) = try Self.curl(url, headers: headers)
                #expect(!head.contains("content-encoding") && head.contains("vary: accept-encoding") && body == original, "\(headers): \(head)")
            }
            // A range is of the file itself, whatever is accepted.
            let (rangeHead, part) = try Self.curl(url, headers: ["Accept-Encoding: gzip", "Range: bytes=0-99"])
            #expect(rangeHead.hasPrefix("http/1.1 206") && !rangeHead.contains("content-encoding") && part == original.prefix(100), "\(rangeHead)")
            // PNGs are compressed already: never gzipped.
            let png = service.base.absoluteString + "/v1/packages/\(package)/files/renders/anterior-thumbnail.png?share=\(share)"
            #expect(!(try Self.curl(png, headers: ["Accept-Encoding: gzip"]).head.contains("content-encoding")))
            // The viewer's three.js goes gzipped too: a quarter of its size, the same script decoded.
            let three = URL(fileURLWithPath: "/usr/share/javascript/three/build/three.min.js").resolvingSymlinksInPath()
            let (threeHead, threeZipped) = try Self.curl(service.base.absoluteString + "/static/three/build/three.min.js",
                                                         headers: ["Accept-Encoding: gzip"])
            let threeBytes = try Data(contentsOf: three)
            #expect(threeHead.contains("content-encoding: gzip") && threeZipped.count < threeBytes.count / 3, "\(threeHead)")
            try threeZipped.write(to: received)
            let sameScript = try CommandLineTool.run(["-c", "import gzip, sys; sys.exit(gzip.decompress(open(sys.argv[1], 'rb').read()) != open(sys.argv[2], 'rb').read())",
                                                      received.path, three.path], program: "python3")
            #expect(sameScript.status == 0, "the gzipped three.js does not decode to Debian's file")
            // The gzip copies go with the package.
            #expect(FileManager.default.fileExists(atPath: service.store.folders.compressed(package).path))
            _ = try await service.request("DELETE", "/v1/packages/\(package)", token: owner)
            #expect(!FileManager.default.fileExists(atPath: service.store.folders.compressed(package).path))
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func collectionsKeepTheirOneLinkAndItsExpiryAndReadingThemWritesNothing() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        let trainer = try service.store.createToken(role: .trainer, name: "course")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: submitter), token: submitter)
            let package = try #require(job["packageId"] as? String)
            let (_, shareBody, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: submitter)
            let share = try #require(service.json(shareBody)["token"] as? String)
            let items = (0..<100).map { n in #"{"package": "\#(package)", "share": "\#(share)", "notes": "case \#(n)"}"# }
            let body = Data(#"{"name": "Skull base", "items": [\#(items.joined(separator: ","))]}"#.utf8)
            let (made, madeBody, _) = try await service.request("POST", "/v1/collections", token: trainer, body: body, type: "application/json")
            #expect(made == 201, "\(String(decoding: madeBody, as: UTF8.self))")
            let collection = service.json(madeBody)
            let id = try #require(collection["id"] as? String)
            let link = try #require(collection["url"] as? String)
            let itemURL = try #require((collection["items"] as? [[String: Any]])?.first?["url"] as? String)
            let rows = try (service.store as! ServiceStore).shareCount()
            // Two reads by the trainer and two through the link: no share row is made.
            for _ in 0..<2 {
                #expect(try await service.request("GET", "/v1/collections/\(id)", token: trainer).0 == 200)
                let (status, read, _) = try await service.request("GET", link)
                #expect(status == 200 && (service.json(read)["items"] as? [[String: Any]])?.count == 100)
            }
            #expect(try (service.store as! ServiceStore).shareCount() == rows)
            #expect(try await service.request("GET", itemURL).0 == 200)
            // The package's own link revoked: the collection's link still opens it.
            try service.store.revokeShare(token: share)
            #expect(try await service.request("GET", itemURL).0 == 200)

            // A collection whose link has expired stays refused, and so do its packages.
            let short = try service.store.createCollection(owner: "t", name: "brief", items: [.init(packageID: package, notes: "")], hours: 0.5 / 3600)
            try await Task.sleep(nanoseconds: 1_200_000_000)
            for _ in 0..<2 {
                let (expired, message, _) = try await service.request("GET", "/v1/collections/\(short.id)?share=\(short.token)")
                #expect(expired == 410 && String(decoding: message, as: UTF8.self).contains("expired"))
            }
            #expect(try await service.request("GET", "/v1/packages/\(package)/archive?share=\(short.token)").0 == 403)
            #expect(try await service.request("GET", "/v1/collections/\(id)?share=\(short.token)").0 == 403)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func requestsWithWrongTypesNumbersOrContentTypesAreRefusedByName() async throws {
        let service = try await Running()
        let submitter = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: submitter), token: submitter)
            let package = try #require(job["packageId"] as? String)
            for (body, expected) in [(#"{"expiresInHours": true}"#, "expiresInHours has the wrong type"),
                                     (#"{"expiresInHours": 1e-9}"#, "expiresInHours: 1e-09 is out of range"),
                                     (#"{"expiresInHours": 1e300}"#, "expiresInHours: 1e+300 is out of range"),
                                     (#"{"expiresInHours": "2"}"#, "expiresInHours has the wrong type"),
                                     (#"{"expiresInHours": 2, "x": 1}"#, "unknown key 'x'"),
                                     (#"[2]"#, "must be a JSON object")] {
                let (status, answer, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: submitter,
                                                                    body: Data(body.utf8), type: "application/json")
                #expect(status == 400 && String(decoding: answer, as: UTF8.self).contains(expected), "\(body): \(String(decoding: answer, as: UTF8.self))")
            }
            // A Content-Type that merely begins with application/zip is not a zip.
            let (refused, _, _) = try await service.request("POST", "/v1/studies", token: submitter, body: Data("x".utf8),
                                                            type: "application/zipfoo")
            #expect(refused == 415)
            // A share link for another package does not take away what the owner's token allows.
            #expect(try await service.request("GET", "/v1/packages/\(package)/archive?share=vrs_0000", token: submitter).0 == 200)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }
}

extension ServiceTests {
    @Test func theViewerWritesIdsAndLinksAsSafeJavaScriptStrings() {
        let page = Viewer.page(id: #"a"b\c</script><x>"#, share: #"vrs_1"&\"#)
        #expect(page.contains(#"const base = "/v1/packages/a\"b\\c\u003c/script\u003e\u003cx\u003e";"#), "\(page)")
        #expect(page.contains(#"const query = "?share=vrs_1%22%26%5C";"#))
        #expect(!page.contains("</script><x>"))
        #expect(Viewer.jsString("line\u{2028}\n\u{0}'") == #""line\u2028\u000a\u0000\u0027""#)
    }

    @Test func aPeersHostWithANulByteOrSpacesIsRefused() async throws {
        let service = try await Running()
        let admin = try service.store.createToken(role: .admin, name: "admin")
        for host in ["pacs\u{0}evil", "pacs host", "pacs/x", String(repeating: "a", count: 254)] {
            let body = try JSONSerialization.data(withJSONObject: ["host": host])
            let (status, answer, _) = try await service.request("PUT", "/v1/dicom/peers/PACS", token: admin, body: body, type: "application/json")
            #expect(status == 400 && String(decoding: answer, as: UTF8.self).contains("host must be"), "\(host.debugDescription): \(status)")
        }
        let good = try JSONSerialization.data(withJSONObject: ["host": "fe80::1"])
        #expect(try await service.request("PUT", "/v1/dicom/peers/PACS", token: admin, body: good, type: "application/json").0 == 201)
        await service.stop()
    }
}
