import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Calls the service on loopback with a bearer token, as its clients do: the status, the JSON
/// object answered (empty when it is not one) and the bytes.
public struct APIClient: Sendable {
    public var port: Int
    public var token: String

    public init(port: Int, token: String) {
        self.port = port
        self.token = token
    }

    /// `body`: a zip (an upload); `bearer`: another token than the client's.
    public func call(_ method: String, _ path: String, body: Data? = nil, as bearer: String? = nil) async throws -> (Int, [String: Any], Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 120
        request.setValue("Bearer \(bearer ?? token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue("application/zip", forHTTPHeaderField: "Content-Type")
        }
        let (answer, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, (try? JSONSerialization.jsonObject(with: answer) as? [String: Any]) ?? [:], answer)
    }
}
