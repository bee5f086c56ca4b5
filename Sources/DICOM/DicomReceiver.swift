import CDCMTK
import Foundation

/// DICOM TLS (DCMTK's dcmtls over OpenSSL; PEM files): the certificate and key this end shows,
/// and the CA whose certificates it requires of the other end (a receiver without one takes any
/// TLS peer; a sender always checks the receiver against it).
public struct DicomTLS: Sendable, Equatable {
    public var certificate: URL
    public var key: URL
    public var ca: URL?

    public init(certificate: URL, key: URL, ca: URL? = nil) {
        (self.certificate, self.key, self.ca) = (certificate, key, ca)
    }
}

/// A DICOM Storage SCP (DCMTK's dcmnet, one thread per association, up to `maxAssociations` at
/// once): answers C-ECHO and takes C-STORE of CT and MR images (classic and enhanced, the common
/// transfer syntaxes) and of segmentations made of them (SEG, Label Map SEG, RT Structure Set:
/// `Instance.isSegmentation`) from the calling AE titles `accept` allows, refusing other storage classes
/// with status 0x0122 (not stored) and unknown callers at association. Each instance is written
/// to a fresh file in `folder` and handed to `stored`, which owns the file from then on.
///
/// Nothing a sender does holds up the others: each connection waits for its association request
/// on its own (closed after `acseTimeout` seconds without a whole one, or at once beyond
/// `maxPendingPerAddress` such connections from its address), and an association silent for
/// `dimseTimeout` seconds while a command or data is awaited is dropped.
public final class DicomReceiver: @unchecked Sendable {
    public struct Instance: Sendable, Equatable {
        /// Where the instance was written (a fresh name in the receiver's folder).
        public var path: String
        /// Which association brought it (unique in this process).
        public var association: UInt64
        public var callingAE: String
        public var peer: String
        public var sopClassUID: String
        public var sopInstanceUID: String
        public var studyInstanceUID: String

        /// SOP classes of segmentations: Segmentation Storage (binary, fractional), Label Map
        /// Segmentation Storage, RT Structure Set Storage.
        public static let segmentationClasses: Set<String> = [
            "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7", "1.2.840.10008.5.1.4.1.1.481.3",
        ]

        /// Whether this is a segmentation of a study (a SEG or an RT Structure Set), not an image.
        public var isSegmentation: Bool { Self.segmentationClasses.contains(sopClassUID) }
    }

    /// What the receiver asks and tells. Called on the association threads, at the same time for
    /// different associations.
    public struct Handlers: Sendable {
        /// May this calling AE title associate from this peer address?
        public var accept: @Sendable (_ callingAE: String, _ peerIP: String) -> Bool
        /// Takes the instance's file over (moves or deletes it); false: it could not be kept, the peer is told so.
        public var stored: @Sendable (Instance) -> Bool
        /// An accepted association ended; `released` is false when it was aborted or broken.
        public var ended: @Sendable (_ association: UInt64, _ callingAE: String, _ released: Bool) -> Void

        public init(accept: @escaping @Sendable (String, String) -> Bool, stored: @escaping @Sendable (Instance) -> Bool,
                    ended: @escaping @Sendable (UInt64, String, Bool) -> Void = { _, _, _ in }) {
            self.accept = accept
            self.stored = stored
            self.ended = ended
        }
    }

    /// What went wrong starting or running the receiver.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    private final class Box {
        let handlers: Handlers
        /// Signalled once the port is bound, or once listening has ended (a port in use).
        let ready = DispatchSemaphore(value: 0)
        init(_ handlers: Handlers) { self.handlers = handlers }
    }

    private let scp: OpaquePointer
    public let port: Int
    public let aeTitle: String
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var box: Unmanaged<Box>?
    private let lock = NSLock()
    private var failure: String?

    public init(port: Int, aeTitle: String, folder: URL, maxAssociations: Int = 8, acseTimeout: Int = 10,
                dimseTimeout: Int = 60, maxPendingPerAddress: Int = 16, tls: DicomTLS? = nil) throws(Failure) {
        guard (1...65535).contains(port) else { throw Failure(description: "DICOM port \(port) is not 1…65535") }
        guard Self.isValidAETitle(aeTitle) else {
            throw Failure(description: "AE title '\(aeTitle)' must be 1…16 printable ASCII characters, without a backslash")
        }
        guard (1...64).contains(maxAssociations) else {
            throw Failure(description: "at most 1…64 associations at once (asked for \(maxAssociations))")
        }
        guard (1...3600).contains(acseTimeout) else {
            throw Failure(description: "the DICOM ACSE timeout must be 1…3600 seconds (asked for \(acseTimeout))")
        }
        guard (1...86400).contains(dimseTimeout) else {
            throw Failure(description: "the DICOM DIMSE timeout must be 1…86400 seconds (asked for \(dimseTimeout))")
        }
        guard (1...1024).contains(maxPendingPerAddress) else {
            throw Failure(description: "connections waiting to associate per address must be 1…1024 (asked for \(maxPendingPerAddress))")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(folder.path): cannot create the folder for received instances")
        }
        var handle: OpaquePointer?
        // C strings that live as long as the call (nil stays NULL).
        let strings: [UnsafeMutablePointer<CChar>?] = [aeTitle, folder.path, tls?.certificate.path, tls?.key.path, tls?.ca?.path]
            .map { $0.flatMap { strdup($0) } }
        defer { strings.forEach { free($0) } }
        var settings = cdcm_scp_settings(port: UInt16(port), ae_title: UnsafePointer(strings[0]), output_directory: UnsafePointer(strings[1]),
                                         max_associations: UInt16(maxAssociations),
                                         acse_timeout_seconds: UInt32(acseTimeout), dimse_timeout_seconds: UInt32(dimseTimeout),
                                         max_pending_per_address: UInt32(maxPendingPerAddress),
                                         tls_certificate: UnsafePointer(strings[2]), tls_key: UnsafePointer(strings[3]), tls_ca: UnsafePointer(strings[4]))
        let status = cdcm_scp_create(&settings, &handle)
        guard status.code == CDCM_OK, let handle else {
            throw Failure(description: "cannot set up the DICOM receiver: \(Self.message(status))")
        }
        scp = handle
        self.port = port
        self.aeTitle = aeTitle
    }

    deinit {
        stop()
        cdcm_scp_free(scp)
        box?.release()
    }

    /// An AE title as DICOM allows it: 1…16 characters of printable ASCII, no backslash, not only spaces.
    public static func isValidAETitle(_ title: String) -> Bool {
        !title.isEmpty && title.count <= 16 && title.allSatisfy { $0.isASCII && ($0 == " " || $0.isPunctuation || $0.isSymbol || $0.isLetter || $0.isNumber) && $0 != "\\" }
            && !title.allSatisfy { $0 == " " }
    }

    /// Listens on a thread of its own. Returns once the port is bound and connections are taken,
    /// or once listening has failed (then `error` says why), so that a peer may connect at once.
    public func start(_ handlers: Handlers) {
        let box = Unmanaged.passRetained(Box(handlers))
        self.box = box
        var callbacks = cdcm_scp_callbacks()
        callbacks.context = box.toOpaque()
        callbacks.accept = { context, ae, peer in
            guard let context else { return 0 }
            let handlers = Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().handlers
            return handlers.accept(text(ae), text(peer)) ? 1 : 0
        }
        callbacks.stored = { context, association, path, ae, peer, sopClass, sopInstance, study in
            guard let context else { return 0 }
            let handlers = Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().handlers
            let instance = Instance(path: text(path), association: association, callingAE: text(ae), peer: text(peer),
                                    sopClassUID: text(sopClass), sopInstanceUID: text(sopInstance), studyInstanceUID: text(study))
            return handlers.stored(instance) ? 1 : 0
        }
        callbacks.ended = { context, association, ae, released in
            guard let context else { return }
            let handlers = Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().handlers
            handlers.ended(association, text(ae), released != 0)
        }
        callbacks.listening = { context in
            guard let context else { return }
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().ready.signal()
        }
        let handles = UncheckedHandles(scp: scp, callbacks: callbacks)
        let ready = box.takeUnretainedValue().ready
        let thread = Thread { [self] in
            let status = cdcm_scp_listen(handles.scp, handles.callbacks)
            if status.code != CDCM_OK {
                lock.lock()
                failure = Self.message(status)
                lock.unlock()
            }
            ready.signal()
            finished.signal()
        }
        thread.name = "vrprep.dicom-receiver"
        self.thread = thread
        thread.start()
        ready.wait()
    }

    /// Why listening ended, if it failed (a port in use, say).
    public var error: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Stops listening (within a fraction of a second), lets the associations running end, and waits.
    public func stop() {
        guard thread != nil else { return }
        cdcm_scp_stop(scp)
        finished.wait()
        thread = nil
    }

    private static func message(_ status: cdcm_status) -> String {
        withUnsafeBytes(of: status.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

private func text(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }

/// The C handles the listening thread uses (owned by the receiver, which outlives the thread).
private struct UncheckedHandles: @unchecked Sendable {
    let scp: OpaquePointer
    let callbacks: cdcm_scp_callbacks
}
