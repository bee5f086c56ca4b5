import Foundation
@testable import Service
import Testing
import TestSupport

/// A certificate authority and the certificates a test needs, made by openssl in a folder.
struct TestCertificates {
    let folder: URL
    var ca: URL { folder.appendingPathComponent("ca.pem") }
    var caKey: URL { folder.appendingPathComponent("ca.key") }
    var certificate: URL { folder.appendingPathComponent("server.pem") }
    var key: URL { folder.appendingPathComponent("server.key") }

    /// A CA, and a server certificate it signs for `addresses` (IP SANs) and localhost.
    init(addresses: [String]) throws {
        folder = try Fixtures.temporaryFolder("tls")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", caKey.path, "-out", ca.path, "-days", "2", "-subj", "/CN=VRPrep test CA",
                                                  "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let request = folder.appendingPathComponent("server.csr"), extensions = folder.appendingPathComponent("server.ext")
        try Self.openssl(["req"] + ec + ["-keyout", key.path, "-out", request.path, "-subj", "/CN=vrprep test service"])
        let names = (addresses.map { "IP:\($0)" } + ["DNS:localhost"]).joined(separator: ",")
        try "subjectAltName=\(names)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n".write(to: extensions, atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", request.path, "-CA", ca.path, "-CAkey", caKey.path, "-CAcreateserial",
                          "-out", certificate.path, "-days", "2", "-extfile", extensions.path])
    }

    /// A certificate this CA signs for `name` (serving and client use), with an RSA key.
    func signed(name: String, rsaBits: Int) throws -> TLSFiles {
        let files = TLSFiles(certificate: folder.appendingPathComponent("\(name).pem"), key: folder.appendingPathComponent("\(name).key"))
        let request = folder.appendingPathComponent("\(name).csr"), extensions = folder.appendingPathComponent("\(name).ext")
        try Self.openssl(["req", "-newkey", "rsa:\(rsaBits)", "-nodes", "-keyout", files.key.path, "-out", request.path, "-subj", "/CN=\(name)"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n"
            .write(to: extensions, atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", request.path, "-CA", ca.path, "-CAkey", caKey.path, "-CAcreateserial",
                          "-out", files.certificate.path, "-days", "2", "-extfile", extensions.path])
        return files
    }

    /// A self-signed certificate with an RSA key of `bits`; its certificate and key.
    func rsa(bits: Int) throws -> TLSFiles {
        let files = TLSFiles(certificate: folder.appendingPathComponent("rsa\(bits).pem"), key: folder.appendingPathComponent("rsa\(bits).key"))
        try Self.openssl(["req", "-x509", "-newkey", "rsa:\(bits)", "-nodes", "-keyout", files.key.path, "-out", files.certificate.path,
                          "-days", "2", "-subj", "/CN=rsa\(bits)"])
        return files
    }

    static func openssl(_ arguments: [String]) throws {
        let run = try CommandLineTool.run(arguments, program: "openssl")
        guard run.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments): \(run.standardError)"]) }
    }
}

/// A network namespace joined to this one by a veth pair: this side `host`, the namespace's side
/// `guest`, on a /24 of their own. Removed by `remove()` (its veth pair goes with it).
struct TestNetwork {
    let name: String
    let host: String
    let guest: String

    init() throws {
        let n = Int.random(in: 1...250), tag = String(UUID().uuidString.prefix(6)).lowercased()
        name = "vrprep-\(tag)"
        (host, guest) = ("10.213.\(n).1", "10.213.\(n).2")
        let (outside, inside) = ("vh\(tag)", "vg\(tag)")
        for command in [["netns", "add", name], ["link", "add", outside, "type", "veth", "peer", "name", inside],
                        ["link", "set", inside, "netns", name], ["addr", "add", "\(host)/24", "dev", outside], ["link", "set", outside, "up"],
                        ["netns", "exec", name, "ip", "addr", "add", "\(guest)/24", "dev", inside],
                        ["netns", "exec", name, "ip", "link", "set", inside, "up"], ["netns", "exec", name, "ip", "link", "set", "lo", "up"]] {
            let run = try CommandLineTool.run(command, program: "ip")
            guard run.status == 0 else {
                remove()
                throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "ip \(command.joined(separator: " ")): \(run.standardError)"])
            }
        }
    }

    /// A command run inside the namespace.
    func run(_ command: [String]) throws -> CommandLineTool.Result {
        try CommandLineTool.run(["netns", "exec", name] + command, program: "ip")
    }

    func remove() {
        _ = try? CommandLineTool.run(["netns", "delete", name], program: "ip")
    }
}

extension ServiceTests {
    /// HTTPS with a certificate made here: the service answers on it, not in plain HTTP; from
    /// another host (a network namespace, an address that is not localhost) chromium, trusting the
    /// test's CA, opens the viewer as a secure context where WebXR is available.
    @Test func theServiceServedOverTLSOpensTheViewerAsASecureContextFromAnotherHost() async throws {
        let network = try TestNetwork()
        defer { network.remove() }
        let certificates = try TestCertificates(addresses: [network.host, "127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: certificates.folder) }
        let service = try await Running {
            $0.host = "0.0.0.0"
            $0.tls = TLSFiles(certificate: certificates.certificate, key: certificates.key)
        }
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        do {
            let port = try #require(service.base.port)
            let https = "https://127.0.0.1:\(port)"
            func curl(_ arguments: [String]) throws -> CommandLineTool.Result {
                try CommandLineTool.run(["-sS", "--cacert", certificates.ca.path] + arguments, program: "curl")
            }
            // HTTPS, with the CA; the browser is told to keep to it.
            let health = try curl(["-D", "-", "\(https)/healthz"])
            #expect(health.status == 0 && health.standardOutput.hasPrefix("HTTP/1.1 200"), "\(health.standardError)")
            #expect(health.standardOutput.lowercased().contains("strict-transport-security: max-age="))
            // Old protocols and suites without forward secrecy or AEAD are refused.
            #expect(try curl(["--tlsv1.0", "--tls-max", "1.1", "\(https)/healthz"]).status != 0, "TLS 1.0/1.1 accepted")
            #expect(try curl(["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA", "\(https)/healthz"]).status != 0, "a CBC suite accepted")
            #expect(try curl(["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", "\(https)/healthz"]).status == 0)
            // Without the CA the certificate is not trusted; plain HTTP is not served on the port.
            #expect(try CommandLineTool.run(["-sS", "\(https)/healthz"], program: "curl").status != 0)
            let plain = try CommandLineTool.run(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                                 "http://127.0.0.1:\(port)/healthz"], program: "curl")
            #expect(plain.standardOutput != "200", "plain HTTP answered: \(plain.standardOutput)")

            // A package, uploaded and shared over HTTPS.
            let folder = try Fixtures.temporaryFolder("tls-upload")
            defer { try? FileManager.default.removeItem(at: folder) }
            let zip = folder.appendingPathComponent("study.zip")
            try Self.sampleZip().write(to: zip)
            let uploaded = try curl(["-H", "Authorization: Bearer \(owner)", "-H", "Content-Type: application/zip",
                                     "--data-binary", "@\(zip.path)", "\(https)/v1/studies"])
            let job = try #require(service.json(Data(uploaded.standardOutput.utf8))["jobId"] as? String, "\(uploaded.standardOutput)")
            var package: String?
            for _ in 0..<240 where package == nil {
                try await Task.sleep(nanoseconds: 500_000_000)
                let state = service.json(Data(try curl(["-H", "Authorization: Bearer \(owner)", "\(https)/v1/jobs/\(job)"]).standardOutput.utf8))
                #expect(state["state"] as? String != "failed", "\(state)")
                package = state["packageId"] as? String
            }
            let packageID = try #require(package, "the job did not end")
            let shared = try curl(["-X", "POST", "-H", "Authorization: Bearer \(owner)", "\(https)/v1/packages/\(packageID)/shares"])
            let viewer = try #require(service.json(Data(shared.standardOutput.utf8))["viewer"] as? String, "\(shared.standardOutput)")

            // The headset's browser on another host of the network, trusting the hospital's CA.
            let home = folder.appendingPathComponent("home"), nss = folder.appendingPathComponent("home/.pki/nssdb")
            try FileManager.default.createDirectory(at: nss, withIntermediateDirectories: true)
            for command in [["-d", "sql:\(nss.path)", "-N", "--empty-password"],
                            ["-d", "sql:\(nss.path)", "-A", "-t", "C,,", "-n", "vrprep-test-ca", "-i", certificates.ca.path]] {
                let run = try CommandLineTool.run(command, program: "certutil")
                #expect(run.status == 0, "certutil \(command): \(run.standardError)")
            }
            let shot = Fixtures.root.appendingPathComponent(".build/test-artefacts/tls/viewer-over-https.png")
            try FileManager.default.createDirectory(at: shot.deletingLastPathComponent(), withIntermediateDirectories: true)
            let url = "https://\(network.host):\(port)\(viewer)"
            let run = try network.run(["env", "HOME=\(home.path)", "python3", Fixtures.root.appendingPathComponent("Tests/Browser/secure_viewer.py").path,
                                       "--url", url, "--screenshot", shot.path])
            #expect(run.status == 0, "the browser on the other host: \(run.standardError.suffix(2000))")
            let page = service.json(Data(run.standardOutput.utf8))
            #expect(page["origin"] as? String == "https://\(network.host):\(port)", "\(page)")
            #expect(page["httpStatus"] as? Int == 200 && page["status"] as? String == "ready", "\(page)")
            #expect(page["secureContext"] as? Bool == true && page["xr"] as? Bool == true, "WebXR needs a secure context: \(page)")
            #expect((page["console"] as? [String])?.isEmpty == true, "\(page["console"] ?? "")")
            #expect(((page["securityHeaders"] as? [String: String])?["strict-transport-security"] ?? "").hasPrefix("max-age="))
            // The same page over plain HTTP from that host: refused by the TLS port.
            let insecure = try network.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                            "http://\(network.host):\(port)\(viewer)"])
            #expect(insecure.standardOutput != "200")
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    /// Weak or broken settings are refused before anything listens, saying what is wrong.
    @Test func weakOrBrokenTLSSettingsAreRefusedSayingWhy() throws {
        let certificates = try TestCertificates(addresses: ["127.0.0.1"])
        defer { try? FileManager.default.removeItem(at: certificates.folder) }
        let good = TLSFiles(certificate: certificates.certificate, key: certificates.key)
        #expect(try ServiceTLS.check(good).summary.hasPrefix("TLS 1.2/1.3, certificate valid until "))
        func refusal(_ files: TLSFiles, now: Date = Date()) -> String {
            do {
                _ = try ServiceTLS.check(files, now: now)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(try certificates.rsa(bits: 1024)).contains("its RSA key has 1024 bits: at least 2048 are needed"))
        #expect(try ServiceTLS.check(try certificates.rsa(bits: 2048)).summary.hasPrefix("TLS 1.2/1.3"))
        #expect(refusal(good, now: Date().addingTimeInterval(4 * 86400)).contains("the certificate expired on"))
        #expect(refusal(TLSFiles(certificate: certificates.certificate, key: certificates.caKey)).contains("is not the private key of --tls-cert"))
        #expect(refusal(TLSFiles(certificate: certificates.key, key: certificates.key)).contains("not a PEM certificate"))
        #expect(refusal(TLSFiles(certificate: certificates.certificate, key: certificates.folder.appendingPathComponent("none.key")))
            .contains("--tls-key"))
    }
}
