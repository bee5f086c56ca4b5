import Foundation
import Hummingbird
import struct VolumeCore.Notice

/// An error answer that carries what went wrong as a notice as well as its English message:
/// `{"error": {"message", "code", "values"}}`, so that a page says it in the reader's language.
struct NoticedError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    let notice: Notice

    private struct Body: Encodable {
        struct Detail: Encodable {
            let message: String
            let code: String
            let values: [String: String]
        }
        let error: Detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(error: Body.Detail(message: message, code: notice.code.rawValue, values: notice.values))
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(body))))
    }
}
