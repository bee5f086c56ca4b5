import CDCMTK
import Foundation

/// Sends DICOM files to a peer by C-STORE (DCMTK's DcmSCU), as a hospital's modality does: one
/// association, each file's answer kept.
public struct DicomSender: Sendable {
    public var host: String
    public var port: Int
    public var callingAE: String
    public var calledAE: String
    public var connectSeconds = 10, acseSeconds = 30, dimseSeconds = 120
    /// Over DICOM TLS (BCP 195, TLS 1.2 or newer), showing `certificate` and requiring the
    /// receiver's to be signed by `ca` (which must be given); nil: plain TCP.
    public var tls: DicomTLS?

    public init(host: String, port: Int, callingAE: String, calledAE: String) {
        (self.host, self.port, self.callingAE, self.calledAE) = (host, port, callingAE, calledAE)
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Sends the files; returns each file's C-STORE status (0 success, 0xB000… warnings).
    /// Throws when the association cannot be made or breaks, or a file is refused.
    @discardableResult
    public func send(_ files: [URL]) throws(Failure) -> [UInt16] {
        guard !files.isEmpty else { return [] }
        guard (1...65535).contains(port) else { throw Failure(description: "port \(port) is not 1…65535") }
        if let tls, tls.ca == nil { throw Failure(description: "sending over DICOM TLS needs a CA to check the receiver's certificate") }
        var settings = cdcm_store_settings()
        var statuses = [UInt16](repeating: 0xFFFF, count: files.count)
        let paths = files.map { strdup($0.path) }
        defer { paths.forEach { free($0) } }
        let tlsPaths: [UnsafeMutablePointer<CChar>?] = [tls?.certificate.path, tls?.key.path, tls?.ca?.path].map { $0.flatMap { strdup($0) } }
        defer { tlsPaths.forEach { free($0) } }
        (settings.tls_certificate, settings.tls_key, settings.tls_ca) = (UnsafePointer(tlsPaths[0]), UnsafePointer(tlsPaths[1]), UnsafePointer(tlsPaths[2]))
        let status = host.withCString { host in
            callingAE.withCString { calling in
                calledAE.withCString { called in
                    settings.host = host
                    settings.port = UInt16(port)
                    settings.calling_ae = calling
                    settings.called_ae = called
                    settings.connect_seconds = Int32(connectSeconds)
                    settings.acse_seconds = UInt32(acseSeconds)
                    settings.dimse_seconds = UInt32(dimseSeconds)
                    return paths.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
                        cdcm_store_files(&settings, pointers.baseAddress, files.count, &statuses)
                    }
                }
            }
        }
        guard status.code == Int32(CDCM_OK) else {
            throw Failure(description: withUnsafeBytes(of: status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        // Failures (0xA…, 0xC…) are refusals; warnings (0xB…) and success are kept.
        if let refused = zip(files, statuses).first(where: { $0.1 != 0 && $0.1 & 0xF000 != 0xB000 }) {
            throw Failure(description: "\(calledAE) refused \(refused.0.lastPathComponent) (status 0x\(String(refused.1, radix: 16, uppercase: true)))")
        }
        return statuses
    }
}
