import DICOM
import Foundation
import Testing
import TestSupport
import VolumeCore

/// The Storage SCP with DCMTK's own peers (`echoscu`, `storescu` from Debian's dcmtk) on loopback.
@Suite(.serialized) struct DicomReceiverTests {
    final class Received: @unchecked Sendable {
        let lock = NSLock()
        var instances: [DicomReceiver.Instance] = []
        func add(_ i: DicomReceiver.Instance) { lock.lock(); instances.append(i); lock.unlock() }
        var all: [DicomReceiver.Instance] { lock.lock(); defer { lock.unlock() }; return instances }
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A receiver on a random high port (binding happens when it starts listening).
    static func receiver(folder: URL) throws -> DicomReceiver {
        try DicomReceiver(port: 20000 + Int.random(in: 0..<25000), aeTitle: "VRPREP", folder: folder, allowedCallingAEs: ["SURGERY"])
    }

    @Test func echoAndTheSampleStudyArriveAndStrangersAndNonImagesAreRefused() throws {
        let folder = try Fixtures.temporaryFolder("scp")
        defer { try? FileManager.default.removeItem(at: folder) }
        let receiver = try Self.receiver(folder: folder)
        let received = Received()
        receiver.start { received.add($0) }
        defer { receiver.stop() }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(receiver.error == nil, "\(receiver.error ?? "")")
        let port = String(receiver.port)
        let echo = try Self.run("echoscu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(echo.0 == 0, "\(echo.1)")
        let stranger = try Self.run("echoscu", ["-aet", "STRANGER", "-aec", "VRPREP", "127.0.0.1", port])
        #expect(stranger.0 != 0 && stranger.1.lowercased().contains("reject"), "\(stranger.1)")
        let files = Fixtures.sampleCTFiles.map(\.path)
        let store = try Self.run("storescu", ["-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port] + files)
        #expect(store.0 == 0, "\(store.1.suffix(500))")
        #expect(received.all.count == files.count)
        #expect(Set(received.all.map(\.callingAE)) == ["SURGERY"])
        let stored = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".dcm") }
        #expect(stored.count == files.count)
        // The files received load as the same study.
        let report = DicomLoader().load([folder.path])
        #expect(report.series.count == 1 && report.series.first?.info.geometry.dimensions == SIMD3(256, 256, 108))
        // A structure set (not an image) is refused with 0x0122 and not stored.
        let rtstruct = Fixtures.corpusFile("pydicom-test_files/rtstruct.dcm").path
        let refused = try Self.run("storescu", ["-v", "-aet", "SURGERY", "-aec", "VRPREP", "127.0.0.1", port, rtstruct])
        #expect(refused.1.contains("0x0122") || refused.1.contains("SOPClassNotSupported"), "\(refused.1)")
        #expect(received.all.count == files.count)
        #expect(receiver.error == nil)
    }
}
