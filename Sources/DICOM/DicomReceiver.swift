import CDCMTK
import Foundation

/// A DICOM Storage SCP (DCMTK's dcmnet): answers C-ECHO and takes C-STORE of CT and MR images
/// (classic and enhanced, the common transfer syntaxes) from the calling AE titles allowed,
/// refusing other storage classes with status 0x0122 (not stored) and unknown callers at
/// association. Each instance is filed as `folder/<SOPInstanceUID>.dcm` and reported.
public final class DicomReceiver: @unchecked Sendable {
    public struct Instance: Sendable, Equatable {
        public var path: String
        public var callingAE: String
        public var peer: String
        public var sopClassUID: String
        public var sopInstanceUID: String
    }

    /// What went wrong starting or running the receiver.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private final class Callback {
        let body: @Sendable (Instance) -> Void
        init(_ body: @escaping @Sendable (Instance) -> Void) { self.body = body }
    }

    private let scp: OpaquePointer
    public let port: Int
    public let aeTitle: String
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var callback: Unmanaged<Callback>?
    private let lock = NSLock()
    private var failure: String?

    public init(port: Int, aeTitle: String, folder: URL, allowedCallingAEs: [String]) throws(Failure) {
        guard (1...65535).contains(port) else { throw Failure(description: "DICOM port \(port) is not 1…65535") }
        guard !aeTitle.isEmpty, aeTitle.count <= 16, aeTitle.allSatisfy({ $0.isASCII && $0 != "\\" }) else {
            throw Failure(description: "AE title '\(aeTitle)' must be 1…16 ASCII characters")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(folder.path): cannot create the folder for received instances")
        }
        var handle: OpaquePointer?
        let status = cdcm_scp_create(UInt16(port), aeTitle, folder.path, &handle)
        guard status.code == CDCM_OK, let handle else {
            throw Failure(description: "cannot set up the DICOM receiver: \(Self.message(status))")
        }
        scp = handle
        self.port = port
        self.aeTitle = aeTitle
        for ae in allowedCallingAEs { cdcm_scp_allow_calling_ae(scp, ae) }
    }

    deinit {
        stop()
        cdcm_scp_free(scp)
        callback?.release()
    }

    /// Allows another calling AE title.
    public func allow(callingAE: String) { cdcm_scp_allow_calling_ae(scp, callingAE) }

    /// Listens on a thread of its own; `onInstance` is called (on that thread) for each instance stored.
    public func start(onInstance: @escaping @Sendable (Instance) -> Void) {
        let box = Unmanaged.passRetained(Callback(onInstance))
        callback = box
        let handles = UncheckedHandles(scp: scp, context: box.toOpaque())
        let thread = Thread { [self] in
            let status = cdcm_scp_listen(handles.scp, { context, path, ae, peer, sopClass, sopInstance in
                guard let context else { return }
                let callback = Unmanaged<Callback>.fromOpaque(context).takeUnretainedValue()
                func text(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
                callback.body(Instance(path: text(path), callingAE: text(ae).trimmingCharacters(in: .whitespaces), peer: text(peer),
                                       sopClassUID: text(sopClass), sopInstanceUID: text(sopInstance)))
            }, handles.context)
            if status.code != CDCM_OK {
                lock.lock()
                failure = Self.message(status)
                lock.unlock()
            }
            finished.signal()
        }
        thread.name = "vrprep.dicom-receiver"
        self.thread = thread
        thread.start()
    }

    /// Why listening ended, if it failed (a port in use, say).
    public var error: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Stops listening (within about a second) and waits for the listening thread.
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

/// The C handles the listening thread uses (owned by the receiver, which outlives the thread).
private struct UncheckedHandles: @unchecked Sendable {
    let scp: OpaquePointer
    let context: UnsafeMutableRawPointer
}
