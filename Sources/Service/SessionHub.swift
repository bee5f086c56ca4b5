import Crypto
import Foundation
import HummingbirdWebSocket
import LiveSessions
import Logging
import NIOCore
import NIOWebSocket

/// The live sessions of this service, in its memory (issue "Live case conferences"): each with
/// its package, its creator, its host key (kept as a hash), its share link and its end. Each is
/// also in the records, with its events written as it goes (`tick`), so that its recording
/// outlives it and a restart ends it saying so.
final class SessionHub: @unchecked Sendable {
    struct Entry {
        let session: LiveSession
        let package: String
        let owner: String
        let hostKeyHash: String
        let share: String
        let expires: Date
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    let records: any SessionRecords
    private let logger = Logger(label: "vrprep.sessions")

    init(records: any SessionRecords) {
        self.records = records
    }

    func open(_ entry: Entry, id: String, title: String) throws {
        try records.openSession(ServiceStore.SessionRecord(id: id, packageID: entry.package, owner: entry.owner, title: title,
                                                           created: Date(), expires: entry.expires, shareHash: ServiceStore.hash(entry.share)))
        lock.withLock { entries[id] = entry }
    }

    func entry(_ id: String) -> Entry? {
        lock.withLock { entries[id] }
    }

    /// Ends a session: its clients are told, its events and its end written to the records, its
    /// share link revoked.
    @discardableResult
    func end(_ id: String, reason: String, code: LiveSession.EndCode) -> Entry? {
        saving.withLock {
            guard let entry = entry(id) else { return nil }
            entry.session.end(reason, code: code)
            write(id, entry.session, ended: reason)
            return lock.withLock { entries.removeValue(forKey: id) }
        }
    }

    /// Ends every session (the service stops): clients are told, never left waiting.
    func endAll(reason: String) {
        for id in lock.withLock({ Array(entries.keys) }) { end(id, reason: reason, code: .stopping) }
    }

    /// Called every second or so: writes each session's new events to the records and ends the
    /// sessions whose time is up (their clients are told).
    func tick(now: Date = Date()) {
        for (id, entry) in lock.withLock({ entries }) {
            if entry.expires <= now {
                end(id, reason: "the session's time is up", code: .expired)
            } else {
                saving.withLock { write(id, entry.session, ended: nil) }
            }
        }
    }

    /// The recording's lines: those in the records and, while the session runs, those not yet
    /// written.
    func recording(_ id: String) throws -> [String] {
        try saving.withLock {
            try records.sessionEvents(id) + (entry(id)?.session.recording.map(\.line) ?? [])
        }
    }

    /// Held while events move from a live session to the records (and while a recording is
    /// read), so that a recording read meanwhile misses none and holds none twice.
    private let saving = NSLock()

    /// (With `saving` held.)
    private func write(_ id: String, _ session: LiveSession, ended reason: String?) {
        do {
            try records.appendSessionEvents(id: id, lines: session.takeUnsaved().map(\.line))
            if let reason { try records.endSession(id: id, reason: reason, at: Date()) }
        } catch {
            logger.error("session \(id): its events could not be written to the records: \(error)")
        }
    }

    static func hash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Who may join, from the upgrade request's path and query: the session, and whether as host.
    /// `nil` with the reason and status an HTTP answer gives instead.
    enum Admission {
        case admitted(Entry, name: String, host: Bool)
        case refused(status: Int, message: String)
    }

    func admit(id: String, query: [String: String], store: any PackageRecords) -> Admission {
        guard let entry = entry(id) else {
            // An ended session says why, so its participants know to ask for a new link.
            if let record = try? records.sessionRecord(id), let reason = record.endReason {
                return .refused(status: 410, message: "session \(id) has ended (\(reason)): ask its host for a new link")
            }
            return .refused(status: 404, message: "no live session \(id)")
        }
        guard entry.expires > Date() else { return .refused(status: 410, message: "session \(id) has expired") }
        guard let share = query["share"], !share.isEmpty else {
            return .refused(status: 401, message: "a session is joined with its share link (?share=)")
        }
        guard share == entry.share || ((try? store.shareOpens(token: share, package: entry.package)) ?? false) else {
            return .refused(status: 403, message: "this share link does not open session \(id)'s package")
        }
        let name = (query["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count) else { return .refused(status: 400, message: "name must hold 1…64 characters") }
        let host = query["hostKey"].map { Self.hash($0) == entry.hostKeyHash } ?? false
        if query["hostKey"] != nil && !host { return .refused(status: 403, message: "wrong host key for session \(id)") }
        return .admitted(entry, name: name, host: host)
    }

    /// One client's connection: its frames into the session, the session's frames out to it,
    /// until either side ends it.
    static func serve(_ session: LiveSession, name: String, host: Bool, inbound: WebSocketInboundStream,
                      outbound: WebSocketOutboundWriter, logger: Logger) async {
        let (wakes, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let client = session.join(name: name, host: host, wake: { waker.yield() })
        await withTaskGroup(of: Void.self) { group in
            // Out: whatever is queued for this client, as text frames.
            group.addTask {
                for await _ in wakes {
                    guard let frames = session.drain(client) else {
                        try? await outbound.close(.policyViolation, reason: "too slow: frames waited beyond the queue's limit")
                        return
                    }
                    for frame in frames {
                        do { try await outbound.write(.text(String(decoding: frame, as: UTF8.self))) } catch { return }
                    }
                    // Once the session has ended, its last frames (the "ended" one among them,
                    // queued as it ended) go out and the connection closes.
                    if session.ended != nil {
                        for frame in session.drain(client) ?? [] {
                            do { try await outbound.write(.text(String(decoding: frame, as: UTF8.self))) } catch { return }
                        }
                        try? await outbound.close(.normalClosure, reason: "the session ended")
                        return
                    }
                }
            }
            // In: each message, checked by the session.
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        let data: Data
                        switch message {
                        case .text(let text): data = Data(text.utf8)
                        case .binary(let buffer): data = Data(buffer.readableBytesView)
                        }
                        if case .close(let why) = session.receive(data, from: client) {
                            try? await outbound.close(.policyViolation, reason: String(why.prefix(100)))
                            break
                        }
                    }
                } catch {
                    logger.debug("session connection: \(error)")
                }
                waker.finish()
            }
            await group.next()
            group.cancelAll()
            waker.finish()
        }
        session.leave(client)
    }
}
