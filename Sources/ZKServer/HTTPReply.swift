import NIOCore
import NIOHTTP1

/// A whole HTTP/1.1 response written at once (the admin and metrics ports answer bodies
/// built before the first byte goes out).
enum HTTPReply {
    static func send(
        _ status: HTTPResponseStatus, contentType: String, body: String, keepAlive: Bool, context: ChannelHandlerContext,
        wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        send(status, contentType: contentType, body: buffer, keepAlive: keepAlive, context: context, wrap: wrap)
    }

    static func send(
        _ status: HTTPResponseStatus, contentType: String, headers extra: [(String, String)] = [], body: ByteBuffer,
        keepAlive: Bool, context: ChannelHandlerContext, wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var headers = HTTPHeaders()
        for (name, value) in extra { headers.add(name: name, value: value) }
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrap(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrap(.body(.byteBuffer(body))), promise: nil)
        let written = context.writeAndFlush(wrap(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
