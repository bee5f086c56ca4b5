import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Closes a connection whose first request head has not fully arrived within `timeout` (a
/// silent connection, or one that sends its head a byte at a time), or that passes 64 KiB. The HTTP server with WebSocket
/// upgrades adds its own idle handler only once a request was found not to be an upgrade, so
/// without this a connection that never finishes its first head would be held for ever. Once the
/// head is complete it removes itself: the HTTP idle handler or the WebSocket's pings go on.
final class FirstHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// The last three bytes seen, to find "\r\n\r\n" across reads.
    private var tail: [UInt8] = []
    private var complete = false
    private var headBytes = 0
    /// The largest first head taken (a larger one is closed, as the HTTP decoder's limit would).
    static let maximumHead = 64 * 1024

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !complete {
            let buffer = unwrapInboundIn(data)
            var window = tail
            window.append(contentsOf: buffer.readableBytesView)
            if window.count >= 4 {
                for i in 0...(window.count - 4) where window[i] == 13 && window[i + 1] == 10 && window[i + 2] == 13 && window[i + 3] == 10 {
                    complete = true
                    break
                }
            }
            tail = Array(window.suffix(3))
            headBytes += buffer.readableBytes
            if !complete && headBytes > Self.maximumHead {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        if complete {
            timer?.cancel()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

/// HTTP/1 with WebSocket upgrades, behind a deadline for each connection's first request head.
struct GuardedUpgradeChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value
    let inner: HTTP1WebSocketUpgradeChannel
    let firstHead: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FirstHeadDeadline(timeout: firstHead))
        }.flatMap { inner.setup(channel: channel, logger: logger) }.flatMapThrowing { value in
            // Right behind the request decoder: a request it cannot parse closes the connection.
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(CloseOnParseError(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose request the HTTP decoder refused (a NUL or a bare CR in a header,
/// a malformed request line). Behind the WebSocket upgrade the decoder's error reaches no handler
/// that answers or closes, and the head deadline has already gone (the head was complete): such a
/// connection was held open, unanswered, for ever (found by schemathesis's NUL-byte probe).
final class CloseOnParseError: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError { context.close(promise: nil) }
        context.fireErrorCaught(error)
    }

}
