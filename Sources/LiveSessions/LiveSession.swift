import Foundation

/// One live case conference: its shared state, its participants and what each has yet to
/// receive (issue "Live case conferences"). Transport-free: a WebSocket route feeds it frames and
/// sends each client the frames `drain` gives. Thread-safe.
public final class LiveSession: @unchecked Sendable {
    public let id: String
    /// The package's structures (the only names a `structure` message may use).
    public let structureNames: Set<String>
    private let lock = NSLock()
    private var state: SessionState
    private var seq = 0
    private var clients: [String: Client] = [:]
    private var nextClient = 1
    /// The accepted events not yet taken by `takeUnsaved` (all of them, if nobody takes them).
    private var events: [RecordedEvent] = []
    private let started: Date
    private var endedBecause: String?

    /// Frames a client may have waiting before it counts as too slow (updates that only the
    /// latest of counts are replaced, not queued).
    public static let queueLimit = 512
    /// Messages a second a client may send, and the burst it may save up.
    public static let ratePerSecond = 60.0, burst = 120.0

    public init(id: String, structures: [String], now: Date = Date()) {
        self.id = id
        structureNames = Set(structures)
        started = now
        state = SessionState(structures: Dictionary(uniqueKeysWithValues: structures.map { ($0, StructureView(visible: true, opacity: 1)) }))
    }

    /// What happened to a message.
    public enum Outcome: Equatable, Sendable {
        /// Accepted, stamped with this sequence number and sent to the others.
        case relayed(seq: Int)
        /// Refused: the error frame was queued for its sender alone.
        case refused(String)
        /// The sender sends too much, or reads too little: close it (the others go on).
        case close(String)
    }

    /// A new participant: its id; its first frame, the snapshot, is queued for it. `wake` is
    /// called whenever a frame is queued for it (its connection then drains).
    public func join(name: String, host: Bool, now: Date = Date(), wake: (@Sendable () -> Void)? = nil) -> String {
        lock.withLock {
            let clientId = "c\(nextClient)"
            nextClient += 1
            let role = host ? "host" : "participant"
            clients[clientId] = Client(name: String(name.prefix(64)), role: role, tokens: Self.burst, refilled: now, wake: wake)
            state.participants.append(Participant(id: clientId, name: String(name.prefix(64)), role: role))
            if host && state.presenter == nil { state.presenter = clientId }
            record(.join(id: clientId, name: String(name.prefix(64)), role: role), now: now)
            broadcast(["type": "join", "id": clientId, "name": String(name.prefix(64)), "role": role], except: clientId)
            queue(frame(["type": "snapshot", "seq": seq, "you": clientId, "state": state.json]), to: clientId, supersedes: nil)
            return clientId
        }
    }

    /// A participant leaves (or is closed); the others are told.
    public func leave(_ clientId: String, now: Date = Date()) {
        lock.withLock {
            guard clients.removeValue(forKey: clientId) != nil else { return }
            state.participants.removeAll { $0.id == clientId }
            if state.presenter == clientId { state.presenter = state.participants.first { $0.role == "host" }?.id }
            // (Once the session has ended, its recording is closed: those who leave then are not in it.)
            if endedBecause == nil { record(.leave(id: clientId), now: now) }
            broadcast(["type": "leave", "id": clientId, "presenter": state.presenter ?? NSNull()], except: nil)
        }
    }

    /// Why a session ends, as a code a page puts in its reader's language.
    public enum EndCode: String, Sendable {
        /// Its host (or an admin) ended it.
        case host
        /// Its time was up.
        case expired
        /// The service stopped (or restarted).
        case stopping
    }

    /// Ends the session: everyone is told (`{"type": "ended", "code", "reason"}`), and nothing
    /// more is taken.
    public func end(_ reason: String, code: EndCode) {
        lock.withLock {
            guard endedBecause == nil else { return }
            endedBecause = reason
            broadcast(["type": "ended", "code": code.rawValue, "reason": reason], except: nil)
        }
    }

    /// Why the session ended, if it did.
    public var ended: String? { lock.withLock { endedBecause } }

    /// Takes one frame from a client.
    public func receive(_ data: Data, from clientId: String, now: Date = Date()) -> Outcome {
        lock.withLock {
            if let endedBecause { return .close("the session ended: \(endedBecause)") }
            guard var client = clients[clientId] else { return .close("not in this session") }
            // A bucket of tokens: one per message, refilled at the allowed rate.
            client.tokens = min(Self.burst, client.tokens + now.timeIntervalSince(client.refilled) * Self.ratePerSecond)
            client.refilled = now
            client.tokens -= 1
            clients[clientId] = client
            if client.tokens < -Self.burst { return .close("more than \(Int(Self.ratePerSecond)) messages a second") }
            if client.tokens < 0 { return refuse("too many messages: at most \(Int(Self.ratePerSecond)) a second", code: .rate, to: clientId) }
            let message: ClientMessage
            do throws(MessageError) {
                message = try ClientMessage.parse(data)
            } catch {
                return refuse(error.description, code: .invalid, to: clientId)
            }
            if message.presenterOnly && state.presenter != clientId {
                return refuse("only the presenter moves the scene for everyone", code: .presenterOnly, to: clientId)
            }
            switch message {
            case .structure(let name, _, _) where !structureNames.contains(name):
                return refuse("no structure '\(name)' in this scene (\(structureNames.sorted().joined(separator: ", ")))", code: .invalid, to: clientId)
            case .presenter(let id):
                guard client.role == "host" else { return refuse("only the host passes the presenter role", code: .hostOnly, to: clientId) }
                guard clients[id] != nil else { return refuse("no participant '\(id)' in this session", code: .invalid, to: clientId) }
            case .annotationRemove(let id) where !state.annotations.contains(where: { $0.id == id }):
                return refuse("no annotation '\(id)'", code: .invalid, to: clientId)
            case .annotationAdd(let annotation) where state.annotations.contains(where: { $0.id == annotation.id }):
                return refuse("an annotation '\(annotation.id)' exists already", code: .invalid, to: clientId)
            case .annotationAdd where state.annotations.count >= 500:
                return refuse("at most 500 annotations in a session", code: .limit, to: clientId)
            default:
                break
            }
            seq += 1
            state.apply(message, from: clientId)
            if message.recorded { record(.message(message, from: clientId, seq: seq), now: now) }
            var fields = message.json
            fields["seq"] = seq
            fields["from"] = clientId
            let out = frame(fields)
            // The sender sees its own annotations and role changes come back (with their seq); its
            // camera and pointer it knows already.
            for other in clients.keys where other != clientId || !message.supersedable {
                queue(out, to: other, supersedes: message.supersedable ? "\(fields["type"]!)|\(clientId)" : nil)
            }
            return .relayed(seq: seq)
        }
    }

    /// The frames waiting for a client, oldest first (and forgets them). `nil` when the client
    /// fell too far behind and should be closed.
    public func drain(_ clientId: String) -> [Data]? {
        lock.withLock {
            guard var client = clients[clientId] else { return [] }
            if client.overflowed { return nil }
            let frames = client.queue.map(\.data)
            client.queue.removeAll(keepingCapacity: true)
            clients[clientId] = client
            return frames
        }
    }

    /// The shared state now (what a late joiner's snapshot holds).
    public var snapshot: SessionState { lock.withLock { state } }

    /// The accepted events, with their times (for replay): every one since the session began,
    /// or since the last `takeUnsaved`.
    public var recording: [RecordedEvent] { lock.withLock { events } }

    /// Takes the events not yet taken, for the caller to keep (the service writes them to its
    /// records as the session goes), so that a long session's memory stays bounded.
    public func takeUnsaved() -> [RecordedEvent] {
        lock.withLock {
            defer { events.removeAll() }
            return events
        }
    }

    /// The session's recording as JSON lines (one event a line, with its time in seconds).
    public func recordingLines() -> Data {
        Data(recording.map { $0.line + "\n" }.joined().utf8)
    }

    /// The state a recording leads to (the same reducer as the live session).
    public static func replay(_ events: [RecordedEvent], structures: [String]) -> SessionState {
        var state = SessionState(structures: Dictionary(uniqueKeysWithValues: structures.map { ($0, StructureView(visible: true, opacity: 1)) }))
        for event in events {
            switch event.kind {
            case .join(let id, let name, let role):
                state.participants.append(Participant(id: id, name: name, role: role))
                if role == "host" && state.presenter == nil { state.presenter = id }
            case .leave(let id):
                state.participants.removeAll { $0.id == id }
                if state.presenter == id { state.presenter = state.participants.first { $0.role == "host" }?.id }
            case .message(let message, let from, _):
                state.apply(message, from: from)
            }
        }
        return state
    }

    // MARK: Inside (called with the lock held)

    private struct Queued {
        var data: Data
        /// For an update only the latest of counts: its type and sender.
        var key: String?
    }

    private struct Client {
        var name: String
        var role: String
        var tokens: Double
        var refilled: Date
        var wake: (@Sendable () -> Void)?
        var queue: [Queued] = []
        var overflowed = false
    }

    /// Why a message was refused, as a code a page puts in its reader's language (the message
    /// itself says it in English, with the details).
    public enum RefusalCode: String, Sendable {
        case presenterOnly, hostOnly, rate, limit, invalid
    }

    private func refuse(_ message: String, code: RefusalCode, to clientId: String) -> Outcome {
        queue(frame(["type": "error", "code": code.rawValue, "message": message]), to: clientId, supersedes: nil)
        return .refused(message)
    }

    /// Queues a frame; an update with a key replaces the one still waiting with that key. Returns
    /// whether the client overflowed (it is then closed at its next drain).
    @discardableResult
    private func queue(_ data: Data, to clientId: String, supersedes key: String?) -> Bool? {
        guard var client = clients[clientId] else { return nil }
        if let key, let waiting = client.queue.firstIndex(where: { $0.key == key }) {
            client.queue.remove(at: waiting)
        }
        client.queue.append(Queued(data: data, key: key))
        if client.queue.count > Self.queueLimit { client.overflowed = true }
        clients[clientId] = client
        client.wake?()
        return client.overflowed
    }

    private func broadcast(_ fields: [String: Any], except: String?) {
        let data = frame(fields)
        for other in clients.keys where other != except { queue(data, to: other, supersedes: nil) }
    }

    private func record(_ kind: RecordedEvent.Kind, now: Date) {
        events.append(RecordedEvent(seconds: (now.timeIntervalSince(started) * 1000).rounded() / 1000, kind: kind))
    }

    private func frame(_ fields: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
