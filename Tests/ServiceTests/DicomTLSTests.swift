import DICOM
import Foundation
@testable import Service
import Testing
import TestSupport

extension DicomServiceTests {
    /// DICOM over TLS (DICOM's secure transport connection profile): Debian's `storescu +tls`,
    /// with a certificate the service's CA signed, sends the sample and the job ends done; a
    /// plain peer, a TLS peer without a certificate, and one whose certificate another CA
    /// signed, are refused on the TLS port. The audit trail holds the import by that peer.
    @Test func storescuSendsTheSampleOverTLSAndPlainOrUnknownPeersAreRefused() async throws {
        let certificates = try TestCertificates(addresses: ["127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: certificates.folder) }
        // RSA: DICOM's BCP 195 profile has RSA suites only.
        let server = try certificates.signed(name: "dicom-server", rsaBits: 2048)
        let client = try certificates.signed(name: "surgery-modality", rsaBits: 2048)
        let stranger = try TestCertificates(addresses: ["127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: stranger.folder) }
        let foreign = try stranger.signed(name: "elsewhere", rsaBits: 2048)

        var settings = Self.settings(allowed: ["SURGERY"])
        settings.tls = DicomTLS(certificate: server.certificate, key: server.key, ca: certificates.ca)
        try await Self.with(settings) { service in
            let admin = try service.store.createToken(role: .admin, name: "officer")
            let port = String(service.dicomPort)
            let trustServer = ["+cf", certificates.ca.path]
            func echo(_ tls: [String]) throws -> Int32 {
                try DcmtkTool.run("echoscu", tls + ["-to", "5", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port]).status
            }
            #expect(try echo([]) != 0, "a plain association on the TLS port")
            #expect(try echo(["+tla"] + trustServer) != 0, "a TLS peer without a certificate")
            #expect(try echo(["+tls", foreign.key.path, foreign.certificate.path] + trustServer) != 0, "another CA's certificate")
            #expect(try echo(["+tls", client.key.path, client.certificate.path] + trustServer) == 0)

            let sent = try DcmtkTool.run("storescu", ["+tls", client.key.path, client.certificate.path] + trustServer
                                         + ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port] + Fixtures.sampleCTFiles.map(\.path))
            #expect(sent.status == 0, "\(sent.output.suffix(1000))")
            let job = try #require(try await Self.jobs(service, admin: admin, count: 1, within: 30)?.first)
            #expect(job["instances"] as? Int == 108)
            let done = try await service.wait(job: try #require(job["id"] as? String), token: admin)
            #expect(done["state"] as? String == "done", "\(done)")
            let events = service.json(try await service.request("GET", "/v1/audit", token: admin).1)["events"] as? [[String: Any]] ?? []
            let imported = events.first { $0["action"] as? String == "study.import" }
            #expect((imported?["actor"] as? [String: Any])?["id"] as? String == "SURGERY" && imported?["method"] as? String == "C-STORE",
                    "\(events)")
        }
    }

    /// Results go back over DICOM TLS to a PACS that takes TLS only (Debian's `storescp +tls`,
    /// requiring a certificate its CA signed): the service shows its own and checks the PACS's.
    @Test func resultsGoBackOverTLSToAPacsThatTakesTLSOnly() async throws {
        let certificates = try TestCertificates(addresses: ["127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: certificates.folder) }
        let service = try certificates.signed(name: "vrprep", rsaBits: 2048)
        let pacs = try certificates.signed(name: "pacs", rsaBits: 2048)
        let received = certificates.folder.appendingPathComponent("pacs-received")
        try FileManager.default.createDirectory(at: received, withIntermediateDirectories: true)
        let pacsPort = Ports.free()
        let storescp = Process()
        storescp.executableURL = URL(fileURLWithPath: "/usr/bin/storescp")
        storescp.arguments = ["+tls", pacs.key.path, pacs.certificate.path, "+cf", certificates.ca.path, "--require-peer-cert",
                              "-aet", "PACS", "-od", received.path, String(pacsPort)]
        storescp.standardOutput = FileHandle.nullDevice
        storescp.standardError = FileHandle.nullDevice
        try storescp.run()
        // storescp ignores SIGTERM while it waits for associations.
        defer { kill(storescp.processIdentifier, SIGKILL); storescp.waitUntilExit() }

        var settings = Self.settings(allowed: ["SURGERY"], idle: 1)
        settings.tls = DicomTLS(certificate: service.certificate, key: service.key, ca: certificates.ca)
        try await Self.with(settings) { running in
            let admin = try running.store.createToken(role: .admin, name: "admin")
            let peer = #"{"returnTo": {"ae": "PACS", "host": "127.0.0.1", "port": \#(pacsPort), "tls": true}}"#
            let (put, putBody, _) = try await running.request("PUT", "/v1/dicom/peers/SURGERY", token: admin, body: Data(peer.utf8), type: "application/json")
            #expect(put == 201, "\(String(decoding: putBody, as: UTF8.self))")
            let client = try certificates.signed(name: "modality", rsaBits: 2048)
            let sent = try DcmtkTool.run("storescu", ["+tls", client.key.path, client.certificate.path, "+cf", certificates.ca.path,
                                                      "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", String(running.dicomPort)]
                                         + Fixtures.sampleCTFiles.map(\.path))
            #expect(sent.status == 0, "\(sent.output.suffix(600))")
            let job = try #require(try await Self.jobs(running, admin: admin, count: 1, within: 60)?.first)
            let id = try #require(job["id"] as? String)
            #expect(try await running.wait(job: id, token: admin)["state"] as? String == "done")
            let returned = try await Self.returned(running, job: id, admin: admin) { ["done", "failed"].contains($0["state"] as? String ?? "") }
            #expect(returned["state"] as? String == "done", "\(returned)")
            let files = try FileManager.default.contentsOfDirectory(atPath: received.path)
            #expect(files.contains { $0.hasPrefix("SG") } && files.count == (returned["instances"] as? Int ?? -1), "\(files) \(returned)")
        }
    }

    /// A certificate the DICOM profile cannot use, or a key that is not the certificate's, is
    /// refused at start, naming the file.
    @Test func dicomTLSSettingsItCannotUseAreRefusedAtStart() async throws {
        let certificates = try TestCertificates(addresses: ["127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: certificates.folder) }
        let server = try certificates.signed(name: "dicom-server", rsaBits: 2048)
        for (tls, expected) in [
            (DicomTLS(certificate: certificates.certificate, key: certificates.key), "needs an RSA certificate"),
            (DicomTLS(certificate: server.certificate, key: certificates.caKey), "is not the private key of --dicom-tls-cert"),
        ] {
            var settings = Self.settings(allowed: ["SURGERY"])
            settings.tls = tls
            do {
                let service = try await Running(dicom: settings)
                await service.stop()
                Issue.record("started with \(tls)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }
}
