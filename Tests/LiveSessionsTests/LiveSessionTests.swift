import Foundation
@testable import LiveSessions
import Testing

/// The live session's core without a transport: what it accepts, refuses, relays and records.
struct LiveSessionTests {
    static func json(_ object: [String: Any]) -> Data { try! JSONSerialization.data(withJSONObject: object) }
    static func frames(_ session: LiveSession, _ client: String) -> [[String: Any]] {
        (session.drain(client) ?? []).compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }
    static var camera: [String: Any] { ["type": "camera", "position": [0.1, 0.2, 0.5], "target": [0, 0, 0], "up": [0, 1, 0], "fov": 45] }

    @Test func theHostPresentsParticipantsFollowAndALateJoinerGetsTheState() throws {
        let session = LiveSession(id: "s1", structures: ["bone", "tumor"])
        let host = session.join(name: "Dr Sato", host: true)
        let a = session.join(name: "Dra. Lima", host: false)
        #expect(Self.frames(session, a).first?["type"] as? String == "snapshot")
        _ = Self.frames(session, host)
        // The host turns the camera: the participant gets it, stamped; the host does not get its own back.
        #expect(session.receive(Self.json(Self.camera), from: host) == .relayed(seq: 1))
        let got = Self.frames(session, a)
        #expect(got.count == 1 && got[0]["type"] as? String == "camera" && got[0]["seq"] as? Int == 1 && got[0]["from"] as? String == host)
        #expect(got[0]["position"] as? [Double] == [0.1, 0.2, 0.5])
        #expect(Self.frames(session, host).isEmpty)
        // A participant's camera is refused, told to it alone, and moves nobody.
        guard case .refused(let why) = session.receive(Self.json(Self.camera.merging(["position": [9, 9, 9]]) { $1 }), from: a) else {
            Issue.record("a participant's camera was not refused"); return
        }
        #expect(why.contains("presenter"))
        #expect(Self.frames(session, a).first?["type"] as? String == "error" && Self.frames(session, host).isEmpty)
        #expect(session.snapshot.camera?.position == [0.1, 0.2, 0.5])
        // A distance of 100 mm (the scene is in metres), added by a participant: everyone gets it with its length.
        let distance: [String: Any] = ["type": "annotation", "op": "add",
                                       "annotation": ["id": "d1", "kind": "distance", "points": [[0, 0, 0], [0.06, 0.08, 0]], "text": "margin"]]
        #expect(session.receive(Self.json(distance), from: a) == .relayed(seq: 2))
        for client in [host, a] {
            let frame = try #require(Self.frames(session, client).first)
            #expect((frame["annotation"] as? [String: Any])?["lengthMM"] as? Double == 100, "\(frame)")
        }
        // A late joiner gets the camera and the annotation in its snapshot, and the others hear of it.
        let late = session.join(name: "Dr Reyes", host: false)
        let snapshot = try #require(Self.frames(session, late).first)
        let state = try #require(snapshot["state"] as? [String: Any])
        #expect((state["camera"] as? [String: Any])?["position"] as? [Double] == [0.1, 0.2, 0.5])
        #expect(((state["annotations"] as? [[String: Any]])?.first?["lengthMM"] as? Double) == 100)
        #expect((state["participants"] as? [Any])?.count == 3 && state["presenter"] as? String == host)
        #expect(Self.frames(session, a).first?["type"] as? String == "join")
        // The host passes the presenter role; a participant cannot.
        #expect(session.receive(Self.json(["type": "presenter", "id": a]), from: late) != .relayed(seq: 3))
        #expect(session.receive(Self.json(["type": "presenter", "id": a]), from: host) == .relayed(seq: 3))
        #expect(session.receive(Self.json(Self.camera), from: a) == .relayed(seq: 4))
    }

    @Test(arguments: [
        (#"{"type": "dance"}"#, "unknown message type"),
        (#"{"type": "camera", "position": [0, 0], "target": [0, 0, 0], "up": [0, 1, 0], "fov": 45}"#, "position must be a list of 3"),
        (#"{"type": "camera", "position": "here", "target": [0, 0, 0], "up": [0, 1, 0], "fov": 45}"#, "position has the wrong type"),
        (#"{"type": "camera", "position": [0, 0, 1], "target": [0, 0, 0], "up": [0, 0, 0], "fov": 45}"#, "up must not be zero"),
        (#"{"type": "camera", "position": [0, 0, 1], "target": [0, 0, 0], "up": [0, 1, 0], "fov": 400}"#, "fov must be a number in 1…179"),
        (#"{"type": "structure", "name": "liver", "visible": true, "opacity": 0.5}"#, "no structure 'liver'"),
        (#"{"type": "structure", "name": "bone", "visible": 1, "opacity": 0.5}"#, "visible has the wrong type"),
        (#"{"type": "annotation", "op": "add", "annotation": {"id": "x", "kind": "distance", "points": [[0, 0, 0]]}}"#, "has 2 point(s), not 1"),
        (#"{"type": "annotation", "op": "remove", "annotation": {"id": "nothing"}}"#, "no annotation 'nothing'"),
        (#"{"type": "pointer", "origin": [0, 0, 0], "direction": [0, 0, 0]}"#, "direction must not be zero"),
        (#"[1, 2, 3]"#, "a message is a JSON object"),
    ])
    func aBadMessageIsRefusedNamingWhatIsWrong(message: String, expected: String) {
        let session = LiveSession(id: "s", structures: ["bone"])
        let host = session.join(name: "host", host: true)
        guard case .refused(let why) = session.receive(Data(message.utf8), from: host) else {
            Issue.record("\(message) was not refused"); return
        }
        #expect(why.contains(expected), "\(why)")
        #expect(session.snapshot == LiveSession.replay(session.recording, structures: ["bone"]))
    }

    @Test func aHugeMessageIsRefusedAndAFlooderIsClosedWhileOthersGoOn() {
        let session = LiveSession(id: "s", structures: ["bone"])
        let host = session.join(name: "host", host: true), other = session.join(name: "other", host: false)
        let huge = Data(repeating: UInt8(ascii: " "), count: 1 << 20)
        guard case .refused(let why) = session.receive(huge, from: host) else { Issue.record("1 MB accepted"); return }
        #expect(why.contains("at most"))
        // 1,000 messages in one second: refused past the burst, then closed; the other still sends.
        let start = Date()
        var outcomes: [LiveSession.Outcome] = []
        for n in 0..<1000 { outcomes.append(session.receive(Self.json(["type": "hand", "raised": n % 2 == 0]), from: other, now: start.addingTimeInterval(Double(n) / 1000))) }
        #expect(outcomes.contains { if case .close = $0 { true } else { false } })
        #expect(outcomes.prefix(100).allSatisfy { if case .relayed = $0 { true } else { false } })
        let hostGoesOn = session.receive(Self.json(Self.camera), from: host, now: start.addingTimeInterval(1))
        #expect({ if case .relayed = hostGoesOn { true } else { false } }(), "\(hostGoesOn)")
    }

    @Test func aSlowReaderMissesOnlyIntermediateCamerasAndNeverAnAnnotation() throws {
        let session = LiveSession(id: "s", structures: ["bone"])
        let host = session.join(name: "host", host: true), slow = session.join(name: "slow", host: false)
        _ = Self.frames(session, slow)
        let start = Date()
        for n in 0..<300 {
            var camera = Self.camera
            camera["position"] = [Double(n) / 100, 0, 1]
            _ = session.receive(Self.json(camera), from: host, now: start.addingTimeInterval(Double(n) / 30))
            if n % 50 == 0 {
                let add: [String: Any] = ["type": "annotation", "op": "add", "annotation": ["id": "p\(n)", "kind": "point", "points": [[0, 0, 0]]]]
                _ = session.receive(Self.json(add), from: host, now: start.addingTimeInterval(Double(n) / 30))
            }
        }
        // 300 cameras and 6 annotations sent; the reader that did not read gets the 6 and the last camera.
        let waiting = Self.frames(session, slow)
        #expect(waiting.filter { $0["type"] as? String == "annotation" }.count == 6)
        let cameras = waiting.filter { $0["type"] as? String == "camera" }
        #expect(cameras.count == 1 && cameras[0]["position"] as? [Double] == [2.99, 0, 1])
    }

    @Test func aRecordingReplaysToTheLiveStateAndReadsBack() throws {
        let session = LiveSession(id: "s", structures: ["bone", "skin"])
        let host = session.join(name: "host", host: true), b = session.join(name: "b", host: false)
        let messages: [([String: Any], String)] = [
            (Self.camera, host),
            (["type": "structure", "name": "skin", "visible": false, "opacity": 0.3], host),
            (["type": "clip", "plane": [0, 0, 1, -0.02]], host),
            (["type": "annotation", "op": "add", "annotation": ["id": "a", "kind": "point", "points": [[0.01, 0, 0]], "text": "腫瘍"]], b),
            (["type": "annotation", "op": "add", "annotation": ["id": "c", "kind": "distance", "points": [[0, 0, 0], [0, 0, 0.05]]]], b),
            (["type": "annotation", "op": "remove", "annotation": ["id": "a"]], host),
            (["type": "hand", "raised": true], b),
            (["type": "presenter", "id": b], host),
        ]
        for (message, from) in messages {
            let outcome = session.receive(Self.json(message), from: from)
            #expect({ if case .relayed = outcome { true } else { false } }(), "\(message): \(outcome)")
        }
        session.leave(host)
        let live = session.snapshot
        #expect(live.structures["skin"] == StructureView(visible: false, opacity: 0.3) && live.clip == [0, 0, 1, -0.02])
        #expect(live.annotations.map(\.id) == ["c"] && live.annotations.first?.lengthMM == 50 && live.presenter == b && live.hands == [b])
        #expect(LiveSession.replay(session.recording, structures: ["bone", "skin"]) == live)
        let lines = session.recordingLines()
        let read = try RecordedEvent.parse(lines: lines)
        #expect(read.count == session.recording.count)
        #expect(LiveSession.replay(read, structures: ["bone", "skin"]) == live)
    }

    @Test func headPosesAreRelayedLatestFirstButNotRecordedAndEventsAreTakenOnce() throws {
        let session = LiveSession(id: "s", structures: ["bone"])
        let host = session.join(name: "host", host: true), headset = session.join(name: "headset", host: false)
        _ = Self.frames(session, host)
        #expect(session.takeUnsaved().count == 2)
        // Two head poses before the host reads: only the latest waits for it.
        for z in [0.5, 0.6] {
            let pose: [String: Any] = ["type": "avatar", "position": [0, 1.6, z], "orientation": [0, 0, 0, 1]]
            #expect({ if case .relayed = session.receive(Self.json(pose), from: headset) { true } else { false } }())
        }
        let got = Self.frames(session, host)
        #expect(got.count == 1 && (got.first?["position"] as? [Double]) == [0, 1.6, 0.6], "\(got)")
        // Not a unit quaternion: refused, naming it.
        let skewed: [String: Any] = ["type": "avatar", "position": [0, 1.6, 0.5], "orientation": [0, 0, 0, 2]]
        #expect(session.receive(Self.json(skewed), from: headset) == .refused("orientation must be a unit quaternion (x, y, z, w)"))
        // Head poses stay out of the recording; what is recorded is taken once.
        #expect(session.takeUnsaved().isEmpty)
        #expect({ if case .relayed = session.receive(Self.json(["type": "hand", "raised": true]), from: headset) { true } else { false } }())
        // (Taken events leave the session's memory: the service keeps them in its records.)
        #expect(session.takeUnsaved().count == 1 && session.takeUnsaved().isEmpty && session.recording.isEmpty)
        // Ended: everyone is told why, as a code a page can put in its reader's language.
        session.end("the host ended the session", code: .host)
        let ended = Self.frames(session, headset).last
        #expect(ended?["type"] as? String == "ended" && ended?["code"] as? String == "host")
    }
}
