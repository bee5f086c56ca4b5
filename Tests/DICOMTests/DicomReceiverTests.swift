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
    static func receiver(folder: URL) throws -> DicomReceiver {
        try DicomReceiver(port: 20000 + Int.random(in: 0..<25000), aeTitle: "VRPREP", folder: folder)
    }

    @Test func echoAndTheSampleStudyArriveAndStrangersAndNonImagesAreRefused() throws {
        let folder = try Fixtures.temporaryFolder("scp")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        let received = Received()
        receiver.start(received.handlers)
        defer { receiver.stop() }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let port = String(receiver.port)
        let echo = try DcmtkTool.run("echoscu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(echo.0 == 0, "\(echo.1)")
        let stranger = try DcmtkTool.run("echoscu", ["-aet", "STRANGER", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(stranger.0 != 0 && stranger.1.lowercased().contains("reject"), "\(stranger.1)")
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
        // A structure set (not an image) is refused with 0x0122 and not stored.
        let rtstruct = Fixtures.corpusFile("pydicom-test_files/rtstruct.dcm").path
        let refused = try DcmtkTool.run("storescu", ["-v", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, rtstruct])
        #expect(refused.1.contains("0x0122") || refused.1.contains("SOPClassNotSupported"), "\(refused.1)")
        #expect(received.all.count == files.count)
        // An image without a study instance UID cannot be filed: refused (0xC000), not stored.
        let orphan = folder.appendingPathComponent("no-study.dcm")
        try FileManager.default.copyItem(at: Fixtures.sampleCTFiles[0], to: orphan)
        let erased = try DcmtkTool.run("dcmodify", ["-nb", "-ea", "(0020,000d)", orphan.path])
        #expect(erased.0 == 0, "\(erased.1)")
        let unfiled = try DcmtkTool.run("storescu", ["-v", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, orphan.path])
        #expect(unfiled.1.contains("0xc000") || unfiled.1.contains("0xC000") || unfiled.1.contains("CannotUnderstand"), "\(unfiled.1)")
        #expect(received.all.count == files.count)
        #expect(receiver.error == nil)
    }

    @Test func fourAssociationsAtOnceAreServedAtOnceAndKeptApart() throws {
        let folder = try Fixtures.temporaryFolder("scp4")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        let received = Received(meeting: 4)
        receiver.start(received.handlers)
        defer { receiver.stop() }
        Thread.sleep(forTimeInterval: 0.3)
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
}
