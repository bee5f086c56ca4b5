import DICOM
import Foundation
import Testing
import TestSupport
import VolumeCore

/// The Storage SCP with DCMTK's own peers (`echoscu`, `storescu` from Debian's dcmtk) on loopback.
@Suite(.serialized) struct DicomReceiverTests {
    /// What the receiver reported: instances (with when they came) and associations ended.
    final class Received: @unchecked Sendable {
        let lock = NSLock()
        var instances: [(DicomReceiver.Instance, Date)] = []
        var ended: [(UInt64, String, Bool)] = []
        func add(_ i: DicomReceiver.Instance) { lock.lock(); instances.append((i, Date())); lock.unlock() }
        var all: [DicomReceiver.Instance] { lock.lock(); defer { lock.unlock() }; return instances.map(\.0) }
        var timed: [(DicomReceiver.Instance, Date)] { lock.lock(); defer { lock.unlock() }; return instances }
        var ends: [(UInt64, String, Bool)] { lock.lock(); defer { lock.unlock() }; return ended }

        /// With `meeting` n: each association's first instance waits (up to 20 s) until n
        /// associations are inside the receiver at once; `met` tells whether they were.
        let meeting: Int
        let gathered = NSCondition()
        var inside = Set<UInt64>()
        var met = false

        init(meeting: Int = 0) {
            self.meeting = meeting
        }

        func meet(_ association: UInt64) {
            guard meeting > 0 else { return }
            gathered.lock()
            defer { gathered.unlock() }
            guard inside.insert(association).inserted else { return }
            if inside.count >= meeting {
                met = true
                gathered.broadcast()
            }
            let end = Date().addingTimeInterval(20)
            while inside.count < meeting && Date() < end { _ = gathered.wait(until: end) }
        }

        /// Handlers that allow SURGERY from anywhere, keep each file where it was written, and record.
        var handlers: DicomReceiver.Handlers {
            DicomReceiver.Handlers(accept: { ae, _ in ae == "SURGERY" },
                                   stored: { [self] in add($0); meet($0.association); return true },
                                   ended: { [self] association, ae, released in
                                       lock.lock(); ended.append((association, ae, released)); lock.unlock()
                                   })
        }
    }

    /// A receiver on a random high port (binding happens when it starts listening).
    static func receiver(folder: URL, maxAssociations: Int = 8, acseTimeout: Int = 10, maxPendingPerAddress: Int = 16) throws -> DicomReceiver {
        try DicomReceiver(port: Ports.free(), aeTitle: "VRPREP", folder: folder, maxAssociations: maxAssociations,
                          acseTimeout: acseTimeout, maxPendingPerAddress: maxPendingPerAddress)
    }

    /// `echoscu` as SURGERY: its exit status, what it printed, and how long it took.
    static func echo(_ port: Int) throws -> (status: Int32, output: String, seconds: Double) {
        let started = Date()
        let (status, output) = try DcmtkTool.run("echoscu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", String(port)])
        return (status, output, Date().timeIntervalSince(started))
    }

    @Test func echoAndTheSampleStudyArriveAndStrangersAndNonImagesAreRefused() throws {
        let folder = try Fixtures.temporaryFolder("scp")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        let received = Received()
        receiver.start(received.handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let port = String(receiver.port)
        let echo = try DcmtkTool.run("echoscu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(echo.0 == 0, "\(echo.1)")
        let stranger = try DcmtkTool.run("echoscu", ["-aet", "STRANGER", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(stranger.0 != 0 && stranger.1.lowercased().contains("reject"), "\(stranger.1)")
        // An allowed sender addressing another node (a misrouted rule) is refused too.
        let misrouted = try DcmtkTool.run("echoscu", ["-aet", "SURGERY", "-aec", "OTHERPACS", "127.0.0.1", port])
        #expect(misrouted.0 != 0 && misrouted.1.lowercased().contains("called ae title not recognized"), "\(misrouted.1)")
        let files = Fixtures.sampleCTFiles.map(\.path)
        let store = try DcmtkTool.run("storescu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port] + files)
        #expect(store.0 == 0, "\(store.1.suffix(500))")
        #expect(received.all.count == files.count)
        #expect(Set(received.all.map(\.callingAE)) == ["SURGERY"])
        #expect(Set(received.all.map(\.studyInstanceUID)).count == 1 && Set(received.all.map(\.association)).count == 1)
        // The echo and the store were accepted and released; the stranger never associated.
        #expect(received.ends.count == 2 && received.ends.allSatisfy { $0.1 == "SURGERY" && $0.2 })
        let stored = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".dcm") }
        #expect(stored.count == files.count)
        // The files received load as the same study.
        let report = DicomLoader().load([folder.path])
        #expect(report.series.count == 1 && report.series.first?.info.geometry.dimensions == SIMD3(256, 256, 108))
        // A plan (neither an image nor a segmentation) is refused with 0x0122 and not stored.
        let rtplan = Fixtures.corpusFile("pydicom-test_files/rtplan.dcm").path
        let refused = try DcmtkTool.run("storescu", ["-v", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, rtplan])
        #expect(refused.1.contains("0x0122") || refused.1.contains("SOPClassNotSupported"), "\(refused.1)")
        #expect(received.all.count == files.count)
        // A structure set (a segmentation) is taken in, and said to be one.
        let rtstruct = Fixtures.corpusFile("pydicom-test_files/rtstruct.dcm").path
        let taken = try DcmtkTool.run("storescu", ["-R", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, rtstruct])
        #expect(taken.0 == 0, "\(taken.1.suffix(500))")
        #expect(received.all.count == files.count + 1 && received.all.last?.isSegmentation == true)
        // An image without a study instance UID cannot be filed: refused (0xC000), not stored.
        let orphan = folder.appendingPathComponent("no-study.dcm")
        try FileManager.default.copyItem(at: Fixtures.sampleCTFiles[0], to: orphan)
        let erased = try DcmtkTool.run("dcmodify", ["-nb", "-ea", "(0020,000d)", orphan.path])
        #expect(erased.0 == 0, "\(erased.1)")
        let unfiled = try DcmtkTool.run("storescu", ["-v", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, orphan.path])
        #expect(unfiled.1.contains("0xc000") || unfiled.1.contains("0xC000") || unfiled.1.contains("CannotUnderstand"), "\(unfiled.1)")
        #expect(received.all.count == files.count + 1)
        #expect(receiver.error == nil)
    }

    @Test func fourAssociationsAtOnceAreServedAtOnceAndKeptApart() throws {
        let folder = try Fixtures.temporaryFolder("scp4")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        let received = Received(meeting: 4)
        receiver.start(received.handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        // Four storescu processes at once, each sending a different part of the sample.
        let files = Fixtures.sampleCTFiles.map(\.path)
        let parts = (0..<4).map { k in Array(files[(k * 27)..<((k + 1) * 27)]) }
        let statuses = try DcmtkTool.storeAtOnce(parts, callingAE: "SURGERY", port: receiver.port)
        #expect(statuses == [0, 0, 0, 0])
        let timed = received.timed
        #expect(timed.count == files.count)
        // Four associations, each with exactly the instances of its part, all released.
        let byAssociation = Dictionary(grouping: timed, by: { $0.0.association })
        #expect(byAssociation.count == 4)
        let sent = Set(parts.map { Set($0.map { URL(fileURLWithPath: $0).lastPathComponent }) })
        let uids = try Set(byAssociation.values.map { list in
            Set(try list.map { try DicomFile(path: $0.0.path).string(.sopInstanceUID) ?? "" })
        })
        let sentUIDs = try Set(sent.map { names in
            Set(try names.map { try DicomFile(path: Fixtures.sampleCT.appendingPathComponent($0).path).string(.sopInstanceUID) ?? "" })
        })
        #expect(uids == sentUIDs)
        #expect(received.ends.count == 4 && received.ends.allSatisfy(\.2))
        // Served at once: each association's first instance was held until all four were inside
        // the receiver together (one after another, the first would have waited alone).
        received.gathered.lock()
        let met = received.met
        received.gathered.unlock()
        #expect(met, "the four associations were not served at the same time")
    }

    // MARK: Senders that hold connections

    @Test func twelveIdleConnectionsDelayNoEcho() throws {
        let folder = try Fixtures.temporaryFolder("scp-idle")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        // Opened and left silent, never closed by this side while echoscu runs.
        let idle = try (0..<12).map { _ in try RawConnection(port: receiver.port) }
        defer { idle.forEach { $0.close() } }
        Thread.sleep(forTimeInterval: 0.2)
        let echo = try Self.echo(receiver.port)
        #expect(echo.status == 0, "\(echo.output)")
        #expect(echo.seconds < 8, "echoscu took \(echo.seconds) s with 12 idle connections open")
        #expect(receiver.error == nil)
    }

    @Test func aSenderThatStallsInsideItsAssociationRequestDelaysNoEcho() throws {
        let folder = try Fixtures.temporaryFolder("scp-slowloris")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        // The first 3 bytes of an A-ASSOCIATE-RQ's header, then nothing.
        let slow = try RawConnection(port: receiver.port)
        defer { slow.close() }
        #expect(slow.send([0x01, 0x00, 0x00]))
        // And one that sent a whole header announcing a body it never sends.
        let stalled = try RawConnection(port: receiver.port)
        defer { stalled.close() }
        #expect(stalled.send([0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01]))
        Thread.sleep(forTimeInterval: 0.2)
        let echo = try Self.echo(receiver.port)
        #expect(echo.status == 0, "\(echo.output)")
        #expect(echo.seconds < 8, "echoscu took \(echo.seconds) s beside a slow sender")
    }

    @Test func anIdleConnectionIsClosedAfterTheACSETimeoutAndGarbageAtOnce() throws {
        let folder = try Fixtures.temporaryFolder("scp-acse")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder, acseTimeout: 2)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let idle = try RawConnection(port: receiver.port)
        defer { idle.close() }
        let closedAfter = idle.secondsUntilClosed(waitingAtMost: 10)
        #expect(closedAfter != nil, "the idle connection was still open after 10 s")
        #expect((1.5...5).contains(closedAfter ?? 0), "closed after \(closedAfter ?? -1) s with a 2 s ACSE timeout")
        // A PDU of another type than A-ASSOCIATE-RQ (here an A-RELEASE-RQ) is not waited for.
        let wrong = try RawConnection(port: receiver.port)
        defer { wrong.close() }
        #expect(wrong.send([0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]))
        let wrongClosed = wrong.secondsUntilClosed(waitingAtMost: 10)
        #expect(wrongClosed != nil && wrongClosed! < 1, "closed after \(wrongClosed ?? -1) s")
        // So is one announcing an association request larger than any real one (16 MiB).
        let huge = try RawConnection(port: receiver.port)
        defer { huge.close() }
        #expect(huge.send([0x01, 0x00, 0x01, 0x00, 0x00, 0x00]))
        let hugeClosed = huge.secondsUntilClosed(waitingAtMost: 10)
        #expect(hugeClosed != nil && hugeClosed! < 1, "closed after \(hugeClosed ?? -1) s")
        let echo = try Self.echo(receiver.port)
        #expect(echo.status == 0, "\(echo.output)")
    }

    @Test func connectionsWaitingBeyondTheLimitOfTheirAddressAreClosedAtOnce() throws {
        let folder = try Fixtures.temporaryFolder("scp-pending")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder, maxPendingPerAddress: 2)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let waiting = try (0..<2).map { _ in try RawConnection(port: receiver.port) }
        Thread.sleep(forTimeInterval: 0.2)
        let third = try RawConnection(port: receiver.port)
        defer { third.close() }
        let closed = third.secondsUntilClosed(waitingAtMost: 5)
        #expect(closed != nil && closed! < 1, "closed after \(closed ?? -1) s")
        // Once those two have gone, the address may associate again.
        waiting.forEach { $0.close() }
        Thread.sleep(forTimeInterval: 0.5)
        let echo = try Self.echo(receiver.port)
        #expect(echo.status == 0, "\(echo.output)")
    }

    @Test func anAssociationBeyondTheLimitIsRefusedAsLocalLimitExceeded() throws {
        let folder = try Fixtures.temporaryFolder("scp-limit")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder, maxAssociations: 1)
        // The first instance is held inside the receiver (up to 20 s) until the echo has been answered.
        let inside = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        receiver.start(DicomReceiver.Handlers(accept: { ae, _ in ae == "SURGERY" }, stored: { _ in
            inside.signal()
            _ = release.wait(timeout: .now() + 20)
            return true
        }))
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let store = Process()
        store.executableURL = URL(fileURLWithPath: "/usr/bin/storescu")
        store.arguments = ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", String(receiver.port), Fixtures.sampleCTFiles[0].path]
        store.standardOutput = FileHandle.nullDevice
        store.standardError = FileHandle.nullDevice
        try store.run()
        #expect(inside.wait(timeout: .now() + 10) == .success, "storescu's instance never arrived")
        let echo = try Self.echo(receiver.port)
        #expect(echo.status != 0 && echo.output.lowercased().contains("local limit exceeded"), "\(echo.output)")
        #expect(echo.seconds < 8)
        release.signal()
        store.waitUntilExit()
        #expect(store.terminationStatus == 0)
    }

    @Test func associationsThatEndAtOnceLeaveTheReceiverWhole() throws {
        // Senders that close straight after their A-ASSOCIATE-RQ: each association ends as soon
        // as its worker starts. DCMTK's pool deleted such a worker while the thread that started
        // it still wrote into it, and the heap broke ("corrupted double-linked list", the
        // service aborted): 112 of these took `vrprep serve` down before the fix.
        let folder = try Fixtures.temporaryFolder("scp-abrupt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder, maxAssociations: 32, maxPendingPerAddress: 64)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        func item(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body }
        func title(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0x20, count: 16 - text.utf8.count) }
        let context = item(0x20, [1, 0, 0, 0] + item(0x30, Array("1.2.840.10008.1.1".utf8)) + item(0x40, Array("1.2.840.10008.1.2".utf8)))
        let body = [0, 1, 0, 0] + title("VRPREP") + title("SURGERY") + [UInt8](repeating: 0, count: 32)
            + item(0x10, Array("1.2.840.10008.3.1.1.1".utf8)) + context
            + item(0x50, item(0x51, [0, 0, 0x40, 0]) + item(0x52, Array("1.2.3.4".utf8)))
        let pdu = [0x01, 0x00, 0, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        var sent = 0
        for _ in 0..<600 {
            guard let sender = try? RawConnection(port: receiver.port) else { continue }
            if sender.send(pdu) { sent += 1 }
            sender.close()
        }
        #expect(sent >= 500)
        // Still whole: an echo is answered.
        Thread.sleep(forTimeInterval: 0.5)
        let echo = try Self.echo(receiver.port)
        #expect(echo.status == 0, "\(echo.output)")
    }

    @Test func anAssociationRequestLargerThanASocketBufferIsTaken() throws {
        let folder = try Fixtures.temporaryFolder("scp-large-rq")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        receiver.start(Received().handlers)
        defer { receiver.stop() }
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        // About 150 KB: verification and 127 contexts proposing 45 transfer syntaxes each, more
        // than a socket's receive buffer holds before it is read (about 110 KB on loopback).
        func item(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body }
        func uid(_ text: String) -> [UInt8] { Array(text.utf8) }
        let syntaxes = (0..<44).map { item(0x40, uid("1.2.840.10008.1.2.4.\(50 + $0)")) }.joined() + item(0x40, uid("1.2.840.10008.1.2"))
        var contexts = item(0x20, [1, 0, 0, 0] + item(0x30, uid("1.2.840.10008.1.1")) + item(0x40, uid("1.2.840.10008.1.2")))
        for k in 0..<127 {
            contexts += item(0x20, [UInt8(3 + 2 * k), 0, 0, 0] + item(0x30, uid("1.2.840.10008.5.1.4.1.1.2")) + syntaxes)
        }
        func title(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0x20, count: 16 - text.utf8.count) }
        let body = [0, 1, 0, 0] + title("VRPREP") + title("SURGERY") + [UInt8](repeating: 0, count: 32)
            + item(0x10, uid("1.2.840.10008.3.1.1.1")) + contexts + item(0x50, item(0x51, [0, 0, 0x40, 0]) + item(0x52, uid("1.2.3.4")))
        let length = UInt32(body.count)
        let pdu = [0x01, 0x00, UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + body
        #expect(pdu.count > 140_000)
        let sender = try RawConnection(port: receiver.port)
        defer { sender.close() }
        #expect(sender.send(pdu))
        // The answer is an A-ASSOCIATE-AC (PDU type 0x02).
        #expect(sender.firstByte(waitingAtMost: 5) == 0x02)
    }
}

/// A plain TCP connection to the receiver on loopback, for senders that say little or nothing.
final class RawConnection {
    private var descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw POSIXError(.init(rawValue: code) ?? .ECONNREFUSED)
        }
    }

    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Seconds until the receiver closed the connection (end of stream or reset), or nil if it
    /// was still open after `limit` seconds. Anything the receiver sends is read and ignored.
    func secondsUntilClosed(waitingAtMost limit: Double) -> Double? {
        let started = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(started) < limit {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let n = recv(descriptor, &buffer, buffer.count, 0)
            if n <= 0 { return Date().timeIntervalSince(started) }
        }
        return nil
    }

    /// The first byte the receiver sends, or nil if none came within `limit` seconds.
    func firstByte(waitingAtMost limit: Double) -> UInt8? {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, Int32(limit * 1000)) > 0 else { return nil }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, 0) == 1 ? byte : nil
    }

    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }
}
