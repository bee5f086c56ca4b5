import _CryptoExtras
import Crypto
import Foundation
import NIOSSL

/// The certificate and private key (PEM files) that the service serves HTTPS (and WebSocket over
/// TLS) with.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: URL
    public var key: URL

    public init(certificate: URL, key: URL) {
        (self.certificate, self.key) = (certificate, key)
    }
}

/// HTTPS as a hospital's network expects it, checked before the port opens: TLS 1.2 or 1.3 only,
/// forward-secret AEAD cipher suites only (ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3's
/// suites are all of that kind), and a certificate that is valid now, whose key is RSA of 2,048
/// bits or more or an elliptic curve of 256 bits or more, and that matches the private key. A
/// weaker setting is refused with what is wrong, never served.
enum ServiceTLS {
    static let cipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    struct Checked {
        var configuration: TLSConfiguration
        /// What the start-up line says of it: the protocol versions and the certificate's end.
        var summary: String
    }

    static func check(_ files: TLSFiles, now: Date = Date()) throws -> Checked {
        let (certificates, notAfter) = try certificate(files.certificate, flag: "--tls-cert", now: now)
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key.path, format: .pem)
        } catch {
            throw ServiceFailure("--tls-key \(files.key.path): not a PEM private key without a passphrase (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = cipherSuites
        // BoringSSL checks that the key is the certificate's when the context is made.
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServiceFailure("--tls-key \(files.key.path) is not the private key of --tls-cert \(files.certificate.path) (\(error))")
        }
        return Checked(configuration: configuration, summary: "TLS 1.2/1.3, certificate valid until \(day(notAfter))")
    }

    /// The DICOM port's certificate: valid now and strong as the HTTPS one, and RSA, since DICOM's
    /// non-downgrading BCP 195 profile (which the receiver offers) has RSA suites only. DCMTK checks
    /// the key against it. Returns the day it ends.
    static func checkDicom(certificate url: URL, now: Date = Date()) throws -> Date {
        let (certificates, notAfter) = try certificate(url, flag: "--dicom-tls-cert", now: now)
        let spki = try certificates[0].extractPublicKey().toSPKIBytes()
        guard (try? _RSA.Signing.PublicKey(derRepresentation: spki)) != nil else {
            throw ServiceFailure("--dicom-tls-cert \(url.path): DICOM TLS (BCP 195 profile) needs an RSA certificate of 2048 bits or more")
        }
        return notAfter
    }

    /// The certificate chain of a PEM file, its leaf valid at `now` with a strong key; and when it ends.
    private static func certificate(_ url: URL, flag: String, now: Date) throws -> ([NIOSSLCertificate], Date) {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(url.path)
        } catch {
            throw ServiceFailure("\(flag) \(url.path): not a PEM certificate (\(error))")
        }
        guard let leaf = certificates.first else { throw ServiceFailure("\(flag) \(url.path): no certificate in it") }
        let notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        guard notAfter > now else { throw ServiceFailure("\(flag) \(url.path): the certificate expired on \(day(notAfter))") }
        guard notBefore <= now else { throw ServiceFailure("\(flag) \(url.path): the certificate is not valid before \(day(notBefore))") }
        if let weakness = try weakness(of: leaf.extractPublicKey().toSPKIBytes()) {
            throw ServiceFailure("\(flag) \(url.path): \(weakness)")
        }
        return (certificates, notAfter)
    }

    static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }

    /// Why a certificate's public key (SubjectPublicKeyInfo, DER) is too weak, nil when it is not.
    static func weakness(of spki: [UInt8]) -> String? {
        if (try? P256.Signing.PublicKey(derRepresentation: spki)) != nil || (try? P384.Signing.PublicKey(derRepresentation: spki)) != nil
            || (try? P521.Signing.PublicKey(derRepresentation: spki)) != nil { return nil }
        if (try? _RSA.Signing.PublicKey(derRepresentation: spki)) != nil { return nil }
        if let rsa = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: spki) {
            return "its RSA key has \(rsa.keySizeInBits) bits: at least 2048 are needed"
        }
        // Ed25519 (OID 1.3.101.112) is strong; anything else is not known to be.
        let ed25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
        if spki.count > ed25519.count, (0...(spki.count - ed25519.count)).contains(where: { Array(spki[$0..<($0 + ed25519.count)]) == ed25519 }) {
            return nil
        }
        return "its key is neither RSA of 2048 bits or more, nor an elliptic curve key of 256 bits or more (P-256, P-384, P-521, Ed25519)"
    }
}
