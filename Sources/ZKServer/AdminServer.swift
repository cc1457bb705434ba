import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ZKReplica

/// `admin.*` from zoo.cfg: ZooKeeper's AdminServer keys and defaults.
struct AdminServerConfiguration: Sendable {
    var enabled = true
    var address = "0.0.0.0"
    var port = 8080
    /// Where the commands live: `<commandURL>` lists them, `<commandURL>/<name>` runs one.
    var commandURL = "/commands"
    /// A connection with no request for this long is closed (`admin.idleTimeout`).
    var idleTimeoutMs: Int64 = 30_000
    /// The largest body a `restore` may post (SwiftKeeper's own limit: the snapshot is held
    /// in memory while it is read); past it the request is answered 413 and closed.
    var restoreBytesMax = 1 << 30
}

/// ZooKeeper's AdminServer on SwiftNIO's HTTP/1.1: `GET <commandURL>/<name>?key=value`
/// answers the command's JSON (`Replica.adminCommand`), run on the replica's loop.
enum AdminServer {
    /// Binds the admin port. A port that cannot be bound is logged and the server runs on
    /// without it, as ZooKeeper's does.
    static func start(
        _ configuration: AdminServerConfiguration, shell: ReplicaShell, group: EventLoopGroup, logger: Logger
    ) -> Channel? {
        guard configuration.enabled else { return nil }
        return HTTPPort.bind("AdminServer", host: configuration.address, port: configuration.port, group: group, logger: logger) {
            [IdleStateHandler(allTimeout: .milliseconds(configuration.idleTimeoutMs)),
             AdminHTTPHandler(shell: shell, commandURL: configuration.commandURL, bodyBytesMax: configuration.restoreBytesMax)]
        }
    }
}

/// One admin connection: one request at a time, each answered in full before the next is read.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shell: ReplicaShell
    private let commandURL: String
    private let bodyBytesMax: Int
    private var head: HTTPRequestHead?
    /// A POST's body (`restore`'s snapshot), at most `bodyBytesMax`.
    private var body: ByteBuffer?
    private var refusedBody = false

    init(shell: ReplicaShell, commandURL: String, bodyBytesMax: Int) {
        self.shell = shell
        self.commandURL = commandURL
        self.bodyBytesMax = bodyBytesMax
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body = request.method == .POST ? context.channel.allocator.buffer(capacity: 0) : nil
        case .body(var part):
            guard !refusedBody, body != nil else { return }
            guard body!.readableBytes + part.readableBytes <= bodyBytesMax else {
                refusedBody = true
                body = nil
                let text = "413 a request body past \(bodyBytesMax) bytes (admin.restoreBytesMax)\n"
                return respond(.payloadTooLarge, "text/plain", text, keepAlive: false, context: context)
            }
            body!.writeBuffer(&part)
        case .end:
            guard let request = head, !refusedBody else { return }
            head = nil
            answer(request, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func answer(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let (path, arguments) = Self.split(request.uri)
        let keepAlive = request.isKeepAlive
        guard path == commandURL || path.hasPrefix(commandURL + "/") else {
            return respond(.notFound, "text/html", Self.page("404 Not Found"), keepAlive: keepAlive, context: context)
        }
        let name = path.dropFirst(commandURL.count).drop { $0 == "/" }
        if request.method == .POST, Replica.adminPrimaryName(String(name)) == "restore" {
            let posted = body ?? ByteBuffer()
            body = nil
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let answer = shell.adminRestore(
                posted, authorization: request.headers["Authorization"].first,
                clientAddress: context.channel.remoteAddress?.ipAddress ?? "")
            return answer.hop(to: context.eventLoop).whenSuccess { answer in
                let (handler, context) = loopBound.value
                handler.send(answer, keepAlive: keepAlive, context: context)
            }
        }
        guard request.method == .GET, Replica.adminPrimaryName(String(name)) != "restore" else {
            let title = "405 HTTP method \(request.method.rawValue) is not supported by this URL"
            return respond(.methodNotAllowed, "text/html", Self.page(title), keepAlive: keepAlive, context: context)
        }
        guard !name.isEmpty else {
            return respond(.ok, "text/html", Self.listing(commandURL), keepAlive: keepAlive, context: context)
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let clientAddress = context.channel.remoteAddress?.ipAddress ?? ""
        let answer = shell.adminAnswer(
            String(name), arguments: arguments, authorization: request.headers["Authorization"].first, clientAddress: clientAddress)
        answer.hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let answer): handler.send(answer, keepAlive: keepAlive, context: context)
            case .failure(let error):
                handler.respond(.internalServerError, "text/plain", "\(error)\n", keepAlive: false, context: context)
            }
        }
    }

    private func send(_ answer: AdminAnswer, keepAlive: Bool, context: ChannelHandlerContext) {
        HTTPReply.send(
            HTTPResponseStatus(statusCode: answer.status), contentType: answer.contentType, headers: answer.headers,
            body: answer.body, keepAlive: keepAlive, context: context
        ) { self.wrapOutboundOut($0) }
    }

    private func respond(
        _ status: HTTPResponseStatus, _ contentType: String, _ body: String, keepAlive: Bool, context: ChannelHandlerContext
    ) {
        HTTPReply.send(status, contentType: contentType, body: body, keepAlive: keepAlive, context: context) { self.wrapOutboundOut($0) }
    }

    /// The path and the decoded `key=value` arguments of a request URI.
    static func split(_ uri: String) -> (path: String, arguments: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0]).removingPercentEncoding ?? String(parts[0])
        var arguments: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(keyValue[0]).removingPercentEncoding ?? String(keyValue[0])
                let value = keyValue.count > 1 ? String(keyValue[1]).replacingOccurrences(of: "+", with: " ") : ""
                arguments[key] = value.removingPercentEncoding ?? value
            }
        }
        return (path, arguments)
    }

    /// The `<commandURL>` page: a link per primary command name, as ZooKeeper lists them.
    static func listing(_ commandURL: String) -> String {
        Replica.adminCommandNames.map(\.[0]).sorted().map { "<a href=\"\(commandURL)/\($0)\">\($0)</a>\n<br/>\n" }.joined()
    }

    static func page(_ title: String) -> String {
        "<html>\n<head><title>Error \(title)</title></head>\n<body><h2>HTTP ERROR \(title)</h2></body>\n</html>\n"
    }
}
