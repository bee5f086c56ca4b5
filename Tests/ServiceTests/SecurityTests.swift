import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Service
import Testing
import TestSupport

/// What a hospital's security officer asks of the service on its network: headers on every
/// answer, HEAD wherever GET, CORS closed, failed sign-ins slowed down, share links its owner can
/// list and revoke, and an audit trail of who reached what.
extension ServiceTests {
    /// Every route of the router (its path parameters filled with names that exist nowhere),
    /// without a token and with an admin's: each answer carries the security headers; identified
    /// data is never to be stored; HEAD answers as GET does, without a body.
    @Test func everyRouteAnswersWithTheSecurityHeadersAndHeadMirrorsGet() async throws {
        // Dozens of requests without a token: not to be slowed down here.
        let service = try await Running { $0.authFailureLimit = 100_000 }
        let admin = try service.store.createToken(role: .admin, name: "officer")
        do {
            let routes = try ServiceServer(settings: ServiceServer.Settings(data: service.data)).routeList().sorted()
            #expect(routes.count >= 30)
            #expect(Set(Audit.actions.keys).subtracting(routes).isEmpty, "audited routes that do not exist: \(Set(Audit.actions.keys).subtracting(routes))")
            var checked = 0
            for route in routes + ["GET /no/such/path"] {
                let parts = route.split(separator: " ")
                let (method, template) = (String(parts[0]), String(parts[1]))
                let path = template.replacingOccurrences(of: "{path}", with: "scene.glb")
                    .replacingOccurrences(of: #"\{[a-zA-Z]+\}"#, with: "x1", options: .regularExpression)
                // The WebSocket's route answers a plain GET through the router too.
                for token in [nil, admin] {
                    let (status, body, response) = try await service.request(method, path, token: token, body: method == "GET" ? nil : Data("{}".utf8),
                                                                             type: method == "GET" ? nil : "application/json")
                    let header = { (name: String) in response.value(forHTTPHeaderField: name) ?? "" }
                    #expect(header("X-Content-Type-Options") == "nosniff", "\(route): \(status)")
                    #expect(header("Referrer-Policy") == "no-referrer", "\(route): \(status)")
                    let policy = header("Content-Security-Policy")
                    #expect(policy.contains("frame-ancestors 'none'") && policy.hasPrefix("default-src 'none'") && !policy.contains("unsafe-inline"),
                            "\(route): \(policy)")
                    if ResponsePolicy.identified(path) { #expect(header("Cache-Control") == "no-store", "\(route): \(status)") }
                    #expect(header("Access-Control-Allow-Origin").isEmpty, "CORS is closed: \(route)")
                    #expect(status != 500, "\(route): \(String(decoding: body, as: UTF8.self))")
                    if method == "GET" {
                        let (headStatus, headBody, headResponse) = try await service.request("HEAD", path, token: token)
                        #expect(headStatus == status && headBody.isEmpty, "HEAD \(path): \(headStatus) (GET \(status))")
                        #expect(headResponse.value(forHTTPHeaderField: "X-Content-Type-Options") == "nosniff")
                    }
                    checked += 1
                }
            }
            #expect(checked == 2 * (routes.count + 1))
            // The pages allow their own inline code by hash, and nothing else inline.
            for page in ["/app", "/app?lang=ja"] {
                let (status, body, response) = try await service.request("GET", page)
                let html = String(decoding: body, as: UTF8.self)
                let policy = response.value(forHTTPHeaderField: "Content-Security-Policy") ?? ""
                #expect(status == 200 && policy.contains("script-src 'self' 'sha256-") && policy.contains("connect-src 'self'"), "\(policy)")
                #expect(policy == ResponsePolicy.htmlPolicy(for: html))
                #expect(ResponsePolicy.inlineBlocks("script", in: html).count >= 1 && ResponsePolicy.inlineBlocks("style", in: html).count == 1)
            }
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func corsIsClosedByDefaultAndOpenOnlyToTheNamedOrigins() async throws {
        let allowed = "https://planning.example.org"
        let service = try await Running { $0.corsOrigins = [allowed] }
        do {
            let (_, _, fromAllowed) = try await service.request("GET", "/healthz", headers: ["Origin": allowed])
            #expect(fromAllowed.value(forHTTPHeaderField: "Access-Control-Allow-Origin") == allowed)
            #expect(fromAllowed.value(forHTTPHeaderField: "Vary")?.contains("Origin") == true)
            let (_, _, fromOther) = try await service.request("GET", "/healthz", headers: ["Origin": "https://elsewhere.example"])
            #expect(fromOther.value(forHTTPHeaderField: "Access-Control-Allow-Origin") == nil)
            // A preflight: answered for the named origin only.
            let preflight = ["Origin": allowed, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"]
            let (status, _, answer) = try await service.request("OPTIONS", "/v1/packages/x1", headers: preflight)
            #expect(status == 204 && answer.value(forHTTPHeaderField: "Access-Control-Allow-Methods")?.contains("DELETE") == true)
            #expect(answer.value(forHTTPHeaderField: "Access-Control-Allow-Headers")?.contains("Authorization") == true)
            var foreign = preflight
            foreign["Origin"] = "https://elsewhere.example"
            let (refused, _, refusal) = try await service.request("OPTIONS", "/v1/packages/x1", headers: foreign)
            #expect(refused == 405 && refusal.value(forHTTPHeaderField: "Access-Control-Allow-Origin") == nil)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func anAddressThatFailsToSignInTooOftenIsAnswered429UntilTheWindowPasses() async throws {
        let service = try await Running {
            $0.authFailureLimit = 5
            $0.authFailureWindowSeconds = 3
        }
        let admin = try service.store.createToken(role: .admin, name: "officer")
        do {
            for _ in 0..<5 {
                #expect(try await service.request("GET", "/v1/packages", token: "vrp_guessed").0 == 401)
            }
            let (status, body, response) = try await service.request("GET", "/v1/packages", token: "vrp_guessed")
            #expect(status == 429, "\(String(decoding: body, as: UTF8.self))")
            let wait = Int(response.value(forHTTPHeaderField: "Retry-After") ?? "") ?? 0
            #expect((1...3).contains(wait), "Retry-After \(wait)")
            #expect(String(decoding: body, as: UTF8.self).contains("too many failed sign-ins"))
            // The address waits, whatever it sends; then it may go on.
            #expect(try await service.request("GET", "/v1/packages", token: admin).0 == 429)
            try await Task.sleep(nanoseconds: UInt64(wait) * 1_000_000_000 + 300_000_000)
            #expect(try await service.request("GET", "/v1/packages", token: admin).0 == 200)
            // Each refusal is in the audit trail, as a failed authentication from this address.
            let failures = service.json(try await service.request("GET", "/v1/audit", token: admin).1)["events"] as? [[String: Any]] ?? []
            #expect(failures.count == 5 && failures.allSatisfy { $0["action"] as? String == "auth.failure" && $0["status"] as? Int == 401 })
            #expect((failures.first?["actor"] as? [String: Any])?["address"] as? String == "127.0.0.1")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    /// The owner lists its package's links (never their tokens) and revokes one: from the next
    /// request on, that link opens neither the archive, nor the files, nor the manifest, nor the
    /// viewer; the other link still does.
    @Test func aShareLinkIsListedWithItsUsesAndRevokedAtOnceEverywhere() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        let other = try service.store.createToken(role: .submitter, name: "another surgeon")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: owner), token: owner)
            let package = try #require(job["packageId"] as? String)
            var links: [(id: String, token: String)] = []
            for _ in 0..<2 {
                let (created, body, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: owner)
                let share = service.json(body)
                #expect(created == 201 && (share["viewer"] as? String)?.hasPrefix("/view/\(package)?share=vrs_") == true, "\(share)")
                links.append((try #require(share["id"] as? String), try #require(share["token"] as? String)))
            }
            let urls = { (token: String) in
                ["/v1/packages/\(package)/archive?share=\(token)", "/v1/packages/\(package)/files/manifest.json?share=\(token)",
                 "/v1/packages/\(package)?share=\(token)", "/view/\(package)?share=\(token)"]
            }
            for url in urls(links[0].token) { #expect(try await service.request("GET", url).0 == 200, "\(url)") }
            // HEAD: the archive's size, no body.
            let (headStatus, headBody, head) = try await service.request("HEAD", "/v1/packages/\(package)/archive?share=\(links[0].token)")
            #expect(headStatus == 200 && headBody.isEmpty && Int(head.value(forHTTPHeaderField: "Content-Length") ?? "") ?? 0 > 10_000)
            // Listed: uses count the archive, the manifest and the viewer (HEAD included), not the file.
            let (listed, listBody, _) = try await service.request("GET", "/v1/packages/\(package)/shares", token: owner)
            #expect(listed == 200 && !String(decoding: listBody, as: UTF8.self).contains("vrs_"), "no token is ever listed")
            let shares = service.json(listBody)["shares"] as? [[String: Any]] ?? []
            #expect(Set(shares.compactMap { $0["id"] as? String }) == Set(links.map(\.id)))
            let first = shares.first { $0["id"] as? String == links[0].id } ?? [:]
            #expect(first["uses"] as? Int == 4 && first["state"] as? String == "active" && first["lastUsed"] is String, "\(first)")
            let second = shares.first { $0["id"] as? String == links[1].id } ?? [:]
            #expect(second["uses"] as? Int == 0 && second["lastUsed"] == nil && second["created"] is String, "\(second)")
            // Someone else can neither list nor revoke them.
            #expect(try await service.request("GET", "/v1/packages/\(package)/shares", token: other).0 == 404)
            #expect(try await service.request("DELETE", "/v1/packages/\(package)/shares/\(links[0].id)", token: other).0 == 404)
            // Revoked: every URL refuses the link at once; the other link still opens them.
            let (revoked, revokedBody, _) = try await service.request("DELETE", "/v1/packages/\(package)/shares/\(links[0].id)", token: owner)
            #expect(revoked == 200 && service.json(revokedBody)["state"] as? String == "revoked")
            for url in urls(links[0].token) { #expect(try await service.request("GET", url).0 == 403, "\(url) after revocation") }
            for url in urls(links[1].token) { #expect(try await service.request("GET", url).0 == 200, "\(url)") }
            #expect(try await service.request("DELETE", "/v1/packages/\(package)/shares/sh_0000000000000000", token: owner).0 == 404)
            let after = service.json(try await service.request("GET", "/v1/packages/\(package)/shares", token: owner).1)["shares"] as? [[String: Any]]
            #expect(after?.first { $0["id"] as? String == links[0].id }?["state"] as? String == "revoked")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    /// A scenario as an officer would replay it: upload, a slice viewed, the package downloaded,
    /// a link made, opened and revoked. The trail holds exactly those events, in order, with their
    /// actors; a submitter may not read it; it exports as JSON lines and as DICOM audit messages;
    /// and the database refuses to change or remove an event.
    @Test func theAuditTrailHoldsExactlyWhoReachedWhatAndCannotBeRewritten() async throws {
        let service = try await Running()
        let admin = try service.store.createToken(role: .admin, name: "security officer")
        let surgeon = try service.store.createToken(role: .submitter, name: "Dr Tanaka")
        do {
            let (uploaded, uploadBody, _) = try await service.request("POST", "/v1/studies", token: surgeon, body: try Self.sampleZip(),
                                                                      type: "application/zip")
            #expect(uploaded == 202)
            let study = try #require(service.json(uploadBody)["studyId"] as? String)
            let job = try await service.wait(job: try #require(service.json(uploadBody)["jobId"] as? String), token: surgeon)
            let package = try #require(job["packageId"] as? String)
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/20", token: surgeon).0 == 200)
            #expect(try await service.request("GET", "/v1/packages/\(package)/archive", token: surgeon).0 == 200)
            let share = service.json(try await service.request("POST", "/v1/packages/\(package)/shares", token: surgeon).1)
            let (shareID, shareToken) = (try #require(share["id"] as? String), try #require(share["token"] as? String))
            #expect(try await service.request("GET", "/view/\(package)?share=\(shareToken)").0 == 200)
            #expect(try await service.request("DELETE", "/v1/packages/\(package)/shares/\(shareID)", token: surgeon).0 == 200)
            #expect(try await service.request("GET", "/v1/audit", token: surgeon).0 == 403)

            let (status, body, response) = try await service.request("GET", "/v1/audit", token: admin)
            #expect(status == 200 && response.value(forHTTPHeaderField: "Cache-Control") == "no-store")
            let events = service.json(body)["events"] as? [[String: Any]] ?? []
            let summary = events.map { event -> String in
                let actor = event["actor"] as? [String: Any] ?? [:]
                return "\(event["action"] ?? "") \(actor["kind"] ?? "") \(actor["name"] ?? actor["id"] ?? "") \(event["status"] ?? "")"
            }
            #expect(summary == [
                "study.import token Dr Tanaka 202",
                "study.slice token Dr Tanaka 200",
                "package.archive token Dr Tanaka 200",
                "share.create token Dr Tanaka 201",
                "package.view share \(shareID) 200",
                "share.revoke token Dr Tanaka 200",
                "audit.read token Dr Tanaka 403",
            ], "\(summary)")
            #expect(events.allSatisfy { ($0["actor"] as? [String: Any])?["address"] as? String == "127.0.0.1" })
            #expect(events.prefix(2).allSatisfy { $0["study"] as? String == study } && events[2...5].allSatisfy { $0["package"] as? String == package })
            #expect(events[4]["share"] as? String == shareID && events[5]["share"] as? String == shareID)
            #expect(!String(decoding: body, as: UTF8.self).contains(shareToken) && !String(decoding: body, as: UTF8.self).contains(surgeon),
                    "no token is written in the trail")
            let slice = events[1]["dicom"] as? [String: Any] ?? [:]
            #expect((slice["eventID"] as? [String: Any])?["code"] as? String == "110103" && slice["eventActionCode"] as? String == "R")
            #expect((events[6]["dicom"] as? [String: Any])?["eventOutcomeIndicator"] as? Int == 4)

            // Filters, the officer's own reading recorded, and the two exports.
            let forStudy = service.json(try await service.request("GET", "/v1/audit?study=\(study)", token: admin).1)["events"] as? [[String: Any]]
            #expect(forStudy?.map { $0["action"] as? String ?? "" } == ["study.import", "study.slice"])
            let forPackage = service.json(try await service.request("GET", "/v1/audit?package=\(package)&limit=2", token: admin).1)
            #expect((forPackage["events"] as? [[String: Any]])?.count == 2 && forPackage["next"] is Int)
            let future = service.json(try await service.request("GET", "/v1/audit?since=2999-01-01T00:00:00Z", token: admin).1)
            #expect((future["events"] as? [Any])?.isEmpty == true)
            #expect(try await service.request("GET", "/v1/audit?since=yesterday", token: admin).0 == 400)
            #expect(try await service.request("GET", "/v1/audit?who=me", token: admin).0 == 400)
            let (_, lines, linesResponse) = try await service.request("GET", "/v1/audit?format=jsonl", token: admin)
            let jsonLines = String(decoding: lines, as: UTF8.self).split(separator: "\n")
            #expect(linesResponse.value(forHTTPHeaderField: "Content-Type") == "application/x-ndjson")
            #expect(jsonLines.count == events.count + 6 && jsonLines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
            let (_, messages, _) = try await service.request("GET", "/v1/audit?format=dicom", token: admin)
            let folder = try Fixtures.temporaryFolder("audit")
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = folder.appendingPathComponent("messages.xml")
            try messages.write(to: file)
            // Each line one DICOM audit message: well-formed, with its event, participants and source.
            let check = try CommandLineTool.run(["-c", """
                import sys, xml.etree.ElementTree as ET
                for line in open(sys.argv[1]):
                    m = ET.fromstring(line)
                    e = m.find('EventIdentification')
                    assert m.tag == 'AuditMessage' and e.get('EventOutcomeIndicator') in ('0', '4', '8'), line
                    assert e.find('EventID').get('codeSystemName') == 'DCM' and len(m.findall('ActiveParticipant')) == 2, line
                    assert m.find('AuditSourceIdentification').get('AuditSourceID').startswith('vrprep@'), line
                    print(e.find('EventID').get('csd-code'))
                """, file.path], program: "python3")
            #expect(check.status == 0, "\(check.standardError)")
            #expect(check.standardOutput.split(separator: "\n").prefix(7) == ["110107", "110103", "110106", "110113", "110106", "110113", "110101"])

            // Append-only: the records refuse to change or remove what was written.
            let store = try #require(service.store as? ServiceStore)
            for sql in ["UPDATE audit SET status = 200", "DELETE FROM audit"] {
                #expect(throws: (any Error).self, "\(sql)") { try store.tamperWithAudit(sql: sql) }
            }
            let kept = try store.auditEvents(since: nil, study: nil, package: nil, after: nil, limit: 100)
            #expect(kept.count == events.count + 8 && kept[6].status == 403)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }
}

extension ServiceTests {
    /// A request head the HTTP decoder refuses (a NUL byte in a header) closes its connection at
    /// once; it used to be held open, unanswered, for ever. A good request on a new connection is
    /// answered.
    @Test func aHeadTheDecoderRefusesClosesItsConnectionAtOnce() async throws {
        let service = try await Running()
        do {
            let port = try #require(service.base.port)
            let probe = try CommandLineTool.run(["-c", """
                import socket, sys, time
                def ask(payload):
                    s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(10)
                    start = time.time(); s.sendall(payload)
                    try: data = s.recv(100)
                    except socket.timeout: data = None
                    return data, time.time() - start
                bad, seconds = ask(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nX-Probe: a\\x00b\\r\\n\\r\\n")
                good, _ = ask(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                print(bad == b"" and seconds < 2, good is not None and good.startswith(b"HTTP/1.1 200"))
                """, String(port)], program: "python3")
            #expect(probe.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "True True", "\(probe.standardOutput) \(probe.standardError)")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    /// The API against its own description: schemathesis (PyPI) with an admin's and a submitter's
    /// token, a bounded run (`Tests/API/schemathesis_check.py`; its full run, every role with the
    /// sample's real ids, is run by hand): no server error, every answer as described, 405 for
    /// undeclared methods, 401 without a credential.
    @Test func theServiceAnswersAsItsOpenAPIDescriptionSays() throws {
        let run = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/API/schemathesis_check.py").path,
                                           "--vrprep", CommandLineTool.executable.path, "--examples", "2", "--roles", "admin,submitter",
                                           "--no-data", "--phases", "examples,coverage,fuzzing"], program: "python3")
        #expect(run.status == 0, "\(run.standardOutput)\n\(run.standardError.suffix(4000))")
        let rows = run.standardOutput.split(separator: "\n").filter { $0.hasPrefix("admin") || $0.hasPrefix("submitter") }
        #expect(rows.count == 4 && rows.allSatisfy { $0.contains("  none") }, "\(run.standardOutput)")
    }
}
