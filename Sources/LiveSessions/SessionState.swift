import Foundation

/// What everyone in a session sees: the presenter's camera, the structures shown, the clip
/// plane, the annotations, who presents and who is there.
public struct SessionState: Equatable, Sendable {
    public var camera: Camera?
    public var structures: [String: StructureView]
    public var clip: [Double]?
    public var annotations: [Annotation] = []
    public var presenter: String?
    public var participants: [Participant] = []
    /// Participants with a raised hand.
    public var hands: Set<String> = []

    public init(structures: [String: StructureView]) {
        self.structures = structures
    }

    /// The one reducer, for the live session and for replaying its recording.
    mutating func apply(_ message: ClientMessage, from sender: String) {
        switch message {
        case .camera(let camera): self.camera = camera
        case .structure(let name, let visible, let opacity): structures[name] = StructureView(visible: visible, opacity: opacity)
        case .clip(let plane): clip = plane
        case .pointer, .avatar: break
        case .annotationAdd(let annotation): annotations.append(annotation)
        case .annotationRemove(let id): annotations.removeAll { $0.id == id }
        case .presenter(let id): presenter = id
        case .hand(let raised): if raised { hands.insert(sender) } else { hands.remove(sender) }
        }
    }

    /// As a snapshot frame carries it.
    var json: [String: Any] {
        [
            "camera": camera.map { ["position": $0.position, "target": $0.target, "up": $0.up, "fov": $0.fov] as [String: Any] } ?? NSNull(),
            "structures": structures.mapValues { ["visible": $0.visible, "opacity": $0.opacity] as [String: Any] },
            "clip": clip ?? NSNull(),
            "annotations": annotations.map(\.json),
            "presenter": presenter ?? NSNull(),
            "participants": participants.map { ["id": $0.id, "name": $0.name, "role": $0.role, "hand": hands.contains($0.id)] as [String: Any] },
        ]
    }
}

public struct StructureView: Equatable, Sendable {
    public var visible: Bool
    public var opacity: Double
}

public struct Participant: Equatable, Sendable {
    public var id: String
    public var name: String
    /// host or participant.
    public var role: String
}

/// One accepted event of a session, `seconds` after it began.
public struct RecordedEvent: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case join(id: String, name: String, role: String)
        case leave(id: String)
        case message(ClientMessage, from: String, seq: Int)
    }

    public var seconds: Double
    public var kind: Kind

    /// As a line of the recording.
    var json: [String: Any] {
        switch kind {
        case .join(let id, let name, let role): ["t": seconds, "event": "join", "id": id, "name": name, "role": role]
        case .leave(let id): ["t": seconds, "event": "leave", "id": id]
        case .message(let message, let from, let seq): ["t": seconds, "event": "message", "from": from, "seq": seq, "message": message.json]
        }
    }

    /// As one line of the recording (JSON, keys sorted, no newline).
    public var line: String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Reads a recording's lines back (a message is checked as a live one is).
    public static func parse(lines: Data) throws(MessageError) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        for (n, line) in lines.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let seconds = object["t"] as? Double, let event = object["event"] as? String else {
                throw MessageError("line \(n + 1) is not an event")
            }
            switch event {
            case "join":
                guard let id = object["id"] as? String, let name = object["name"] as? String, let role = object["role"] as? String else {
                    throw MessageError("line \(n + 1): a join names id, name and role")
                }
                events.append(RecordedEvent(seconds: seconds, kind: .join(id: id, name: name, role: role)))
            case "leave":
                guard let id = object["id"] as? String else { throw MessageError("line \(n + 1): a leave names its id") }
                events.append(RecordedEvent(seconds: seconds, kind: .leave(id: id)))
            case "message":
                guard let from = object["from"] as? String, let seq = object["seq"] as? Int, let inner = object["message"],
                      let data = try? JSONSerialization.data(withJSONObject: inner) else {
                    throw MessageError("line \(n + 1): a message names from, seq and the message")
                }
                events.append(RecordedEvent(seconds: seconds, kind: .message(try ClientMessage.parse(data), from: from, seq: seq)))
            default:
                throw MessageError("line \(n + 1): unknown event '\(event)'")
            }
        }
        return events
    }
}

extension Annotation {
    var json: [String: Any] {
        var out: [String: Any] = ["id": id, "kind": kind, "points": points, "text": text]
        if let lengthMM { out["lengthMM"] = lengthMM }
        return out
    }
}

extension ClientMessage {
    /// As it is relayed (and recorded): its type and fields.
    var json: [String: Any] {
        switch self {
        case .camera(let c): ["type": "camera", "position": c.position, "target": c.target, "up": c.up, "fov": c.fov]
        case .structure(let name, let visible, let opacity): ["type": "structure", "name": name, "visible": visible, "opacity": opacity]
        case .clip(let plane): ["type": "clip", "plane": plane ?? NSNull()]
        case .pointer(let origin, let direction): ["type": "pointer", "origin": origin, "direction": direction]
        case .annotationAdd(let a): ["type": "annotation", "op": "add", "annotation": a.json]
        case .annotationRemove(let id): ["type": "annotation", "op": "remove", "annotation": ["id": id]]
        case .presenter(let id): ["type": "presenter", "id": id]
        case .hand(let raised): ["type": "hand", "raised": raised]
        case .avatar(let position, let orientation): ["type": "avatar", "position": position, "orientation": orientation]
        }
    }
}
