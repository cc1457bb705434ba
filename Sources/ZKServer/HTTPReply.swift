import NIOCore
import NIOHTTP1

/// A whole HTTP/1.1 response written at once (the admin and metrics ports answer small
/// bodies built before the first byte goes out).
enum HTTPReply {
    static func send(
        _ status: HTTPResponseStatus, contentType: String, body: String, keepAlive: Bool, context: ChannelHandlerContext,
        wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(buffer.readableBytes)")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrap(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrap(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.writeAndFlush(wrap(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
