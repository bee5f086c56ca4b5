import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HummingbirdWSClient
import LiveSessions
import Logging
import NIOWebSocket
@testable import Service
import Testing
import TestSupport

/// The live channel's protocol with real WebSocket clients on loopback and no browser: refusals
/// at the upgrade, bad messages, a flooding client, a client that stops reading, a session whose
/// time is up, a restart, and a recording handed to a course.
extension ServiceTests {
    /// A session on the sample's package, made by its owner.
    struct MadeSession {
        let id: String, package: String, share: String, hostKey: String, socket: String
    }

    func makeSession(_ service: Running, owner: String, package: String, body: String = #"{"title": "Protocol"}"#) async throws -> MadeSession {
        let (status, made, _) = try await service.request("POST", "/v1/packages/\(package)/sessions", token: owner,
                                                          body: Data(body.utf8), type: "application/json")
        #expect(status == 201, "\(String(decoding: made, as: UTF8.self))")
        let json = service.json(made)
        let socket = try #require(json["webSocket"] as? String)
        return MadeSession(id: try #require(json["sessionId"] as? String), package: package,
                           share: String(try #require(socket.split(separator: "share=").last)),
                           hostKey: try #require(json["hostKey"] as? String), socket: socket)
    }

    /// One WebSocket client in a task: what it received (with times) and a way to send.
    final class Client: @unchecked Sendable {
        let frames = Frames()
        private let lock = NSLock()
        private var arrivals: [(Date, [String: Any])] = []
        private(set) var task: Task<Void, any Error>!
        private var writer: WebSocketOutboundWriter?
        private(set) var closeCode: WebSocketErrorCode?

        init(_ url: String, onFrame: (@Sendable ([String: Any], Client) async throws -> Void)? = nil) {
            task = Task {
                let close = try await WebSocketClient.connect(url: url, logger: Logger(label: "vrprep.test.client")) { inbound, outbound, _ in
                    self.lock.withLock { self.writer = outbound }
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
                        self.lock.withLock { self.arrivals.append((Date(), object)) }
                        self.frames.add(text)
                        try await onFrame?(object, self)
                    }
                }
                self.lock.withLock { self.closeCode = close?.closeCode }
            }
        }

        func send(_ text: String) async throws {
            guard let writer = lock.withLock({ writer }) else { throw ServiceFailure("not connected") }
            try await writer.write(.text(text))
        }

        func received(_ type: String) -> [(Date, [String: Any])] {
            lock.withLock { arrivals.filter { $0.1["type"] as? String == type } }
        }

        func errors() -> [String] { received("error").compactMap { $0.1["message"] as? String } }
    }

    static func camera(_ n: Int) -> String {
        // A number of about 20 digits a coordinate, as a headset would send: ~200 bytes a frame.
        #"{"type": "camera", "position": [\#(Double(n) / 1000 + 0.123456789012345), 0.100000000000001, 0.4], "target": [0.012345678901234, 0.023456789012345, 0.034567890123456], "up": [0, 1, 0], "fov": 40}"#
    }

    static func index(ofCamera frame: [String: Any]) -> Int? {
        (frame["position"] as? [Double]).map { Int((($0[0] - 0.123456789012345) * 1000).rounded()) }
    }

    @Test func theLiveChannelRefusesChecksAndHoldsUnderBadClients() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        let ws = service.base.absoluteString.replacingOccurrences(of: "http://", with: "ws://")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: owner), token: owner)
            let package = try #require(job["packageId"] as? String)
            let session = try await makeSession(service, owner: owner, package: package)
            let url = "\(ws)\(session.socket)"

            // Refused at the upgrade: no share link; the share link of another package.
            try service.store.addPackage(id: "another-package", owner: owner, job: "none")
            let otherShare = try service.store.share(package: "another-package", hours: 1, by: "test").token
            #expect(try await service.request("GET", "/v1/sessions/\(session.id)/ws?name=x").0 == 401)
            #expect(try await service.request("GET", "/v1/sessions/\(session.id)/ws?name=x&share=\(otherShare)").0 == 403)
            let refusedClient = Client("\(ws)/v1/sessions/\(session.id)/ws?name=x&share=\(otherShare)")
            #expect(await refusedClient.task.result.isFailure, "a WebSocket with another package's link was let in")

            let host = Client("\(url)&name=Host&hostKey=\(session.hostKey)")
            let watcher = Client("\(url)&name=Watcher")
            let hostJoined = await host.frames.wait(for: "snapshot"), watcherJoined = await watcher.frames.wait(for: "snapshot")
            #expect(hostJoined && watcherJoined)

            // Bad messages: each gets an error frame that names what is wrong; the client stays.
            let bad = Client("\(url)&name=Bad")
            #expect(await bad.frames.wait(for: "snapshot"))
            try await bad.send(#"{"type": "teleport"}"#)
            try await bad.send(#"{"type": "pointer", "origin": "here", "direction": [0, 0, 1]}"#)
            try await bad.send(#"{"type": "annotation", "op": "add", "annotation": {"id": "a", "kind": "distance", "points": [[0, 0, 0]]}}"#)
            try await bad.send(#"[1, 2, 3]"#)
            try await bad.send(#"{"type": "pointer", "text": ""# + String(repeating: "x", count: 1_000_000) + #""}"#)
            let waitUntil = Date().addingTimeInterval(20)
            while bad.errors().count < 5 && Date() < waitUntil { try await Task.sleep(nanoseconds: 20_000_000) }
            let errors = bad.errors()
            #expect(errors.count == 5, "\(errors)")
            if errors.count == 5 {
                #expect(errors[0].contains("unknown message type 'teleport'"))
                #expect(errors[1].contains("origin has the wrong type"))
                #expect(errors[2].contains("has 2 point(s), not 1"))
                #expect(errors[3].contains("JSON object"))
                #expect(errors[4].contains("at most 16384 bytes"), "\(errors[4].prefix(200))")
            }
            // Nothing of it reached the others.
            #expect(!watcher.frames.types().contains { $0 == "pointer" || $0 == "annotation" || $0 == "error" })

            // A client that sends 1,000 messages a second is closed; the others go on.
            let flood = Client("\(url)&name=Flood")
            #expect(await flood.frames.wait(for: "snapshot"))
            var sent = 0
            let floodStart = Date()
            floodLoop: while Date().timeIntervalSince(floodStart) < 2 {
                for _ in 0..<10 {
                    do { try await flood.send(#"{"type": "hand", "raised": true}"#) } catch { break floodLoop }
                    sent += 1
                }
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            _ = await flood.task.result
            #expect(flood.closeCode == .policyViolation, "the flooding client was not closed (sent \(sent), closed with \(String(describing: flood.closeCode)))")
            try await host.send(Self.camera(0))
            #expect(await watcher.frames.wait(for: "camera"), "the others stopped after a flood")

            // A client that does not read for 10 s while the host sends 50 cameras a second and
            // five annotations: the others get each camera on time; the slow one, when it reads
            // again, gets every annotation in order and the latest camera (those in between may
            // be dropped for it, never the annotations).
            let slow = try RawWebSocket(port: service.base.port!, path: "\(session.socket)&name=Slow", receiveBuffer: 4096)
            var sentAt: [Int: Date] = [:]
            var n = 1
            let start = Date()
            while Date().timeIntervalSince(start) < 10 {
                sentAt[n] = Date()
                try await host.send(Self.camera(n))
                if n % 100 == 0 {
                    try await host.send(#"{"type": "annotation", "op": "add", "annotation": {"id": "a\#(n / 100)", "kind": "point", "points": [[0, 0, 0]], "text": "\#(n / 100)"}}"#)
                }
                n += 1
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            let last = n - 1
            try await Task.sleep(nanoseconds: 500_000_000)
            let latencies = watcher.received("camera").compactMap { arrival -> Double? in
                guard let i = Self.index(ofCamera: arrival.1), let at = sentAt[i] else { return nil }
                return arrival.0.timeIntervalSince(at)
            }.sorted()
            // (An update may replace the one still waiting for the watcher, so a few may be missed.)
            #expect(latencies.count >= last * 9 / 10, "the watcher got \(latencies.count) of \(last) cameras")
            let p95 = latencies.isEmpty ? .infinity : latencies[latencies.count * 95 / 100]
            #expect(p95 < 0.25, "the others' p95 delivery while one client did not read: \(p95 * 1000) ms")
            let slowFrames = try slow.readFrames(quietFor: 2)
            let annotations = slowFrames.filter { $0["type"] as? String == "annotation" }.compactMap { ($0["annotation"] as? [String: Any])?["id"] as? String }
            #expect(annotations == stride(from: 100, through: last, by: 100).map { "a\($0 / 100)" }, "\(annotations)")
            let cameras = slowFrames.filter { $0["type"] as? String == "camera" }.compactMap(Self.index(ofCamera:))
            #expect(cameras.last == last, "the slow client's last camera: \(String(describing: cameras.last)) of \(last)")
            #expect(cameras == cameras.sorted(), "cameras out of order")
            print("slow client: \(cameras.count) of \(last) cameras delivered, \(annotations.count) annotations; others' p95 \(Int(p95 * 1000)) ms")

            // The session's time is up: everyone is told, and its link then says it ended.
            service.sessions.tick(now: Date().addingTimeInterval(5 * 3600))
            let hostTold = await host.frames.wait(for: "ended"), watcherTold = await watcher.frames.wait(for: "ended")
            #expect(hostTold && watcherTold)
            #expect(watcher.received("ended").first?.1["code"] as? String == "expired")
            let (gone, goneBody, _) = try await service.request("GET", "/v1/sessions/\(session.id)/ws?name=x&share=\(session.share)")
            #expect(gone == 410 && String(decoding: goneBody, as: UTF8.self).contains("time is up"), "\(gone)")
            #expect(try !service.store.shareOpens(token: session.share, package: package), "an ended session's link still opens its package")
            let late = Client("\(url)&name=Late")
            #expect(await late.task.result.isFailure, "an ended session let a WebSocket in")
            slow.close()
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }

    @Test func aRestartEndsSessionsSayingSoAndRecordingsOutliveThem() async throws {
        var service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        let trainer = try service.store.createToken(role: .trainer, name: "course")
        let ws = service.base.absoluteString.replacingOccurrences(of: "http://", with: "ws://")
        do {
            let job = try await service.wait(job: try await upload(service, try Self.sampleZip(), token: owner), token: owner)
            let package = try #require(job["packageId"] as? String)
            // A trainer with the owner's link holds a session on the package.
            let (_, shareBody, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: owner)
            let share = try #require(service.json(shareBody)["token"] as? String)
            let session = try await makeSession(service, owner: trainer, package: package, body: #"{"title": "Anatomy 1", "share": "\#(share)"}"#)
            let host = Client("\(ws)\(session.socket)&name=Trainer&hostKey=\(session.hostKey)")
            #expect(await host.frames.wait(for: "snapshot"))
            try await host.send(Self.camera(7))
            try await host.send(#"{"type": "annotation", "op": "add", "annotation": {"id": "d", "kind": "distance", "points": [[0, 0, 0], [0, 0.1, 0]], "text": "span"}}"#)
            #expect(await host.frames.wait(for: "annotation"))
            let live = try #require(service.sessions.entry(session.id)).session.snapshot
            // A session that a crash left open (only its record and its link): ended at the next start, its link revoked.
            let crashedLink = try service.store.share(package: package, hours: 1, by: "test")
            let crashed = ServiceStore.SessionRecord(id: "ses_crashed", packageID: package, owner: "someone else",
                                                     title: "left open", created: Date(), expires: Date().addingTimeInterval(3600),
                                                     shareHash: ServiceStore.hash(crashedLink.token))
            try service.store.openSession(crashed)

            // The service stops: the client is told why, and closed.
            let data = service.data
            await service.stop(keepData: true)
            _ = await host.task.result
            let ended = host.received("ended").first?.1
            #expect(ended?["code"] as? String == "stopping", "\(String(describing: ended))")

            service = try await Running(data: data)
            // Both sessions have ended in the records, and their links say so.
            #expect(try service.store.sessionRecord("ses_crashed")?.endReason == "the service restarted")
            #expect(try !service.store.shareOpens(token: crashedLink.token, package: package))
            #expect(try !service.store.shareOpens(token: session.share, package: package), "a stopped session's link still opens its package")
            let (gone, goneBody, _) = try await service.request("GET", "/v1/sessions/\(session.id)/ws?name=x&share=\(session.share)")
            #expect(gone == 410 && String(decoding: goneBody, as: UTF8.self).contains("stopping"), "\(String(decoding: goneBody, as: UTF8.self))")
            #expect(try await service.request("DELETE", "/v1/sessions/\(session.id)", token: trainer).0 == 410)

            // The recording outlived the session and the restart, and replays to its last state.
            let (status, lines, _) = try await service.request("GET", "/v1/sessions/\(session.id)/recording", token: trainer)
            #expect(status == 200)
            let events = try RecordedEvent.parse(lines: lines)
            let replayed = LiveSession.replay(events, structures: Array(live.structures.keys))
            #expect(replayed.camera == live.camera && replayed.annotations == live.annotations && replayed.structures == live.structures)
            #expect(replayed.annotations.first?.lengthMM == 100)
            #expect(try await service.request("GET", "/v1/sessions/\(session.id)/recording", token: owner).0 == 403)

            // The trainer puts the recording in a course; the course's link opens it, another link does not.
            let body = #"{"name": "Anatomy", "items": [{"package": "\#(package)", "share": "\#(share)", "notes": "first", "recording": "\#(session.id)"}]}"#
            let (made, madeBody, _) = try await service.request("POST", "/v1/collections", token: trainer, body: Data(body.utf8), type: "application/json")
            #expect(made == 201, "\(String(decoding: madeBody, as: UTF8.self))")
            let item = try #require((service.json(madeBody)["items"] as? [[String: Any]])?.first)
            let recordingURL = try #require(item["recordingUrl"] as? String)
            let (opened, openedLines, _) = try await service.request("GET", recordingURL)
            #expect(opened == 200 && openedLines == lines)
            #expect(try await service.request("GET", "/v1/sessions/\(session.id)/recording?share=\(share)").0 == 403)
            // Someone else's session cannot be put in a course.
            let stolen = #"{"name": "x", "items": [{"package": "\#(package)", "share": "\#(share)", "recording": "ses_crashed"}]}"#
            #expect(try await service.request("POST", "/v1/collections", token: trainer, body: Data(stolen.utf8), type: "application/json").0 == 403)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

/// A WebSocket client on a plain socket with a small receive buffer, so that it can stop
/// reading and let the server's buffers fill, as a stalled client on a slow link does.
final class RawWebSocket {
    private let descriptor: Int32
    private var buffer = Data()

    init(port: Int, path: String, receiveBuffer: Int32) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size = receiveBuffer
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServiceFailure("cannot connect to port \(port)") }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        // The answer's head (frames may follow it in the same read).
        let end = Data("\r\n\r\n".utf8)
        while buffer.range(of: end) == nil {
            guard let more = read(timeout: 10), !more.isEmpty else { throw ServiceFailure("no WebSocket answer") }
            buffer += more
        }
        let head = buffer[..<buffer.range(of: end)!.lowerBound]
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw ServiceFailure("not upgraded: \(String(decoding: head, as: UTF8.self))")
        }
        buffer = Data(buffer[buffer.range(of: end)!.upperBound...])
    }

    private func read(timeout: Double) -> Data? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 65536)
        let count = recv(descriptor, &bytes, bytes.count, 0)
        return count > 0 ? Data(bytes[0..<count]) : Data()
    }

    /// Reads until nothing comes for `quietFor` seconds (or the server closes): the text frames, as JSON.
    func readFrames(quietFor: Double) throws -> [[String: Any]] {
        while let more = read(timeout: quietFor), !more.isEmpty { buffer += more }
        var frames: [[String: Any]] = []
        var at = buffer.startIndex
        while buffer.endIndex - at >= 2 {
            let opcode = buffer[at] & 0x0f
            var length = Int(buffer[at + 1] & 0x7f), header = 2
            if length == 126 {
                guard buffer.endIndex - at >= 4 else { break }
                length = Int(buffer[at + 2]) << 8 | Int(buffer[at + 3]); header = 4
            } else if length == 127 {
                guard buffer.endIndex - at >= 10 else { break }
                length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[at + $1]) }; header = 10
            }
            guard buffer.endIndex - at >= header + length else { break }
            if opcode == 1, let object = try? JSONSerialization.jsonObject(with: buffer[(at + header)..<(at + header + length)]) as? [String: Any] {
                frames.append(object)
            }
            at += header + length
        }
        return frames
    }

    func close() { Glibc.close(descriptor) }
}
