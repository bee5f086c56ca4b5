import Foundation
import Testing
import TestSupport

/// `vrprep serve`'s DICOM options: refused when wrong, a port in use named, all before serving.
@Suite struct ServeCommandTests {
    @Test(arguments: [
        (["--allow-ae", "A\\B"], "--allow-ae 'A\\B'"),
        (["--allow-ae", "THIS-TITLE-IS-TOO-LONG"], "--allow-ae"),
        (["--allow-ae", "PACS@"], "--allow-ae 'PACS@'"),
        (["--dicom-complete-on", "sometimes"], "--dicom-complete-on must be idle or release"),
        (["--dicom-max-associations", "0"], "--dicom-max-associations must be 1…64"),
        (["--dicom-max-study-mb", "0"], "--dicom-max-study-mb must be more than 0"),
        (["--ae-title", ""], "--ae-title"),
        (["--dicom-acse-seconds", "0"], "--dicom-acse-seconds must be 1…3600"),
        (["--dicom-dimse-seconds", "100000"], "--dicom-dimse-seconds must be 1…86400"),
        (["--dicom-max-pending-per-address", "0"], "--dicom-max-pending-per-address must be 1…1024"),
    ])
    func badDicomOptionsAreRefusedByName(extra: [String], message: String) throws {
        let data = try Fixtures.temporaryFolder("serve-options")
        defer { try? FileManager.default.removeItem(at: data) }
        let result = try CommandLineTool.run(["serve", "--data", data.path, "--port", "0", "--dicom-port", "11112"] + extra)
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }

    @Test func aDicomPortInUseIsNamedAndTheServiceDoesNotStart() throws {
        // Hold a port, then ask the service to take DICOM on it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        var port = 0
        for _ in 0..<20 {
            port = 20000 + Int.random(in: 0..<25000)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { break }
        }
        #expect(listen(fd, 1) == 0)
        let data = try Fixtures.temporaryFolder("serve-port")
        defer { try? FileManager.default.removeItem(at: data) }
        let started = Date()
        let result = try CommandLineTool.run(["serve", "--data", data.path, "--port", "0", "--dicom-port", String(port), "--allow-ae", "PACS"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("cannot take DICOM on port \(port)"), "\(result.standardError)")
        #expect(Date().timeIntervalSince(started) < 30)
    }
}
