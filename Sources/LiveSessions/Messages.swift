import Foundation

/// What a client of a live session may send, checked field by field (issue "Live case
/// conferences"). Coordinates are those of the package's `scene.glb`, in metres.
public enum ClientMessage: Equatable, Sendable {
    case camera(Camera)
    case structure(name: String, visible: Bool, opacity: Double)
    case clip(plane: [Double]?)
    case pointer(origin: [Double], direction: [Double])
    case annotationAdd(Annotation)
    case annotationRemove(id: String)
    case presenter(id: String)
    case hand(raised: Bool)
    /// A headset's head pose (position in metres, orientation as a quaternion x, y, z, w): the
    /// others show it as a simple avatar. Not kept in the state, nor recorded.
    case avatar(position: [Double], orientation: [Double])

    /// The presenter alone may move the scene for everyone.
    var presenterOnly: Bool {
        switch self {
        case .camera, .structure, .clip: true
        default: false
        }
    }

    /// Updates a slow client may miss (only the latest counts); the others are never dropped.
    var supersedable: Bool {
        switch self {
        case .camera, .pointer, .avatar: true
        default: false
        }
    }

    /// Kept in the recording (a head pose, sent many times a second by every headset, is not).
    var recorded: Bool {
        if case .avatar = self { return false }
        return true
    }

    /// The largest message taken, in bytes.
    public static let maximumBytes = 16 * 1024

    /// Reads one message, naming what is wrong when it is not one.
    public static func parse(_ data: Data) throws(MessageError) -> ClientMessage {
        guard data.count <= maximumBytes else { throw MessageError("a message may hold at most \(maximumBytes) bytes, this one \(data.count)") }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            if context.codingPath.isEmpty { throw MessageError("a message is a JSON object with a type") }
            throw MessageError("\(path(context.codingPath)) has the wrong type")
        } catch let DecodingError.keyNotFound(key, context) {
            throw MessageError("\(path(context.codingPath + [key])) is missing")
        } catch {
            throw MessageError("a message is a JSON object with a type")
        }
        switch raw.type {
        case "camera":
            let camera = Camera(position: try vector(raw.position, 3, "position"), target: try vector(raw.target, 3, "target"),
                                up: try vector(raw.up, 3, "up"), fov: try number(raw.fov, in: 1...179, "fov"))
            guard camera.up.contains(where: { $0 != 0 }) else { throw MessageError("up must not be zero") }
            return .camera(camera)
        case "structure":
            return .structure(name: try text(raw.name, 64, "name"), visible: try flag(raw.visible, "visible"),
                              opacity: try number(raw.opacity, in: 0...1, "opacity"))
        case "clip":
            guard let plane = raw.plane else { return .clip(plane: nil) }
            let checked = try vector(plane, 4, "plane")
            guard checked[0...2].contains(where: { $0 != 0 }) else { throw MessageError("plane's normal (its first three numbers) must not be zero") }
            return .clip(plane: checked)
        case "pointer":
            let direction = try vector(raw.direction, 3, "direction")
            guard direction.contains(where: { $0 != 0 }) else { throw MessageError("direction must not be zero") }
            return .pointer(origin: try vector(raw.origin, 3, "origin"), direction: direction)
        case "annotation":
            guard let inner = raw.annotation else { throw MessageError("annotation is missing") }
            let id = try text(inner.id, 64, "annotation.id")
            switch raw.op {
            case "remove":
                return .annotationRemove(id: id)
            case "add":
                let kind = try text(inner.kind, 16, "annotation.kind")
                let count: Int
                switch kind {
                case "point": count = 1
                case "distance": count = 2
                default: throw MessageError("annotation.kind must be point or distance, not '\(kind)'")
                }
                let points = inner.points ?? []
                guard points.count == count else { throw MessageError("a \(kind) annotation has \(count) point(s), not \(points.count)") }
                var checked: [[Double]] = []
                for (n, point) in points.enumerated() { checked.append(try vector(point, 3, "annotation.points[\(n)]")) }
                let words = inner.text ?? ""
                guard words.count <= 500 else { throw MessageError("annotation.text may hold at most 500 characters") }
                return .annotationAdd(Annotation(id: id, kind: kind, points: checked, text: words))
            default:
                throw MessageError("op must be add or remove")
            }
        case "presenter":
            return .presenter(id: try text(raw.id, 64, "id"))
        case "hand":
            return .hand(raised: try flag(raw.raised, "raised"))
        case "avatar":
            let orientation = try vector(raw.orientation, 4, "orientation")
            let norm = orientation.map { $0 * $0 }.reduce(0, +).squareRoot()
            guard abs(norm - 1) < 0.01 else { throw MessageError("orientation must be a unit quaternion (x, y, z, w)") }
            return .avatar(position: try vector(raw.position, 3, "position"), orientation: orientation)
        default:
            throw MessageError("unknown message type '\(raw.type.prefix(32))' (camera, structure, clip, pointer, annotation, presenter, hand, avatar)")
        }
    }

    private struct Raw: Decodable {
        var type: String
        var position, target, up, origin, direction, plane, orientation: [Double]?
        var fov, opacity: Double?
        var name, id, op: String?
        var visible, raised: Bool?
        var annotation: RawAnnotation?
    }

    private struct RawAnnotation: Decodable {
        var id, kind, text: String?
        var points: [[Double]]?
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func text(_ value: String?, _ maximum: Int, _ key: String) throws(MessageError) -> String {
        guard let value else { throw MessageError("\(key) is missing") }
        guard !value.isEmpty, value.count <= maximum else { throw MessageError("\(key) must hold 1…\(maximum) characters") }
        return value
    }

    private static func flag(_ value: Bool?, _ key: String) throws(MessageError) -> Bool {
        guard let value else { throw MessageError("\(key) is missing") }
        return value
    }

    private static func number(_ value: Double?, in range: ClosedRange<Double>, _ key: String) throws(MessageError) -> Double {
        guard let value, range.contains(value) else { throw MessageError("\(key) must be a number in \(plain(range.lowerBound))…\(plain(range.upperBound))") }
        return value
    }

    private static func vector(_ value: [Double]?, _ count: Int, _ key: String) throws(MessageError) -> [Double] {
        guard let value, value.count == count, value.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }) else {
            throw MessageError("\(key) must be a list of \(count) numbers (metres, at most 10⁶ in size)")
        }
        return value
    }

    private static func plain(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}

public struct Camera: Codable, Equatable, Sendable {
    public var position: [Double]
    public var target: [Double]
    public var up: [Double]
    public var fov: Double
}

public struct Annotation: Codable, Equatable, Sendable {
    public var id: String
    public var kind: String
    public var points: [[Double]]
    public var text: String
    /// A distance's length in millimetres, from the scene's true scale (metres).
    public var lengthMM: Double?

    public init(id: String, kind: String, points: [[Double]], text: String) {
        (self.id, self.kind, self.points, self.text) = (id, kind, points, text)
        if kind == "distance", points.count == 2 {
            let d = zip(points[0], points[1]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            lengthMM = (d * 1000 * 10).rounded() / 10
        }
    }
}

public struct MessageError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
