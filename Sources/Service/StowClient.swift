import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// DICOMweb STOW-RS (PS3.18 10.5): DICOM files stored to a service's `/studies` in one
/// multipart/related request, as PACS with a DICOMweb door (Orthanc's plugin, dcm4chee) take them.
struct StowClient {
    let base: URL
    var timeout: TimeInterval = 120

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func store(_ files: [URL]) throws(Failure) {
        let boundary = "vrprep-" + UUID().uuidString
        var body = Data()
        for file in files {
            let bytes: Data
            do { bytes = try Data(contentsOf: file) } catch { throw Failure(description: "cannot read \(file.lastPathComponent): \(error.localizedDescription)") }
            body += Data("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8) + bytes + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        var request = URLRequest(url: base.appendingPathComponent("studies"))
        request.httpMethod = "POST"
        request.timeoutInterval = timeout
        request.setValue("multipart/related; type=\"application/dicom\"; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
        request.setValue("application/dicom+json", forHTTPHeaderField: "Accept")
        request.httpBody = body
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: (status: Int, body: Data, error: (any Error)?) = (0, Data(), nil)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data(), error)
            done.signal()
        }.resume()
        done.wait()
        if let error = outcome.error { throw Failure(description: "STOW-RS to \(base.absoluteString): \(error.localizedDescription)") }
        // 200: all stored; 202: some refused (the answer lists them); anything else: none.
        guard outcome.status == 200 else {
            let said = String(decoding: outcome.body.prefix(300), as: UTF8.self)
            throw Failure(description: "STOW-RS to \(base.absoluteString) answered \(outcome.status)\(said.isEmpty ? "" : ": \(said)")")
        }
    }
}
