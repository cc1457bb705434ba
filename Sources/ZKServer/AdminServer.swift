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
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(allTimeout: .milliseconds(configuration.idleTimeoutMs)),
                        AdminHTTPHandler(shell: shell, commandURL: configuration.commandURL),
                    ])
                }
            }
        do {
            let channel = try bootstrap.bind(host: configuration.address, port: configuration.port).wait()
            logger.info(
                "AdminServer serving",
                metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "commandURL": "\(configuration.commandURL)"])
            return channel
        } catch {
            logger.error(
                "AdminServer not started: cannot bind its port (admin.serverAddress, admin.serverPort)",
                metadata: ["address": "\(configuration.address):\(configuration.port)", "error": "\(error)"])
            return nil
        }
    }
}

/// One admin connection: one request at a time, each answered in full before the next is read.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shell: ReplicaShell
    private let commandURL: String
    private var head: HTTPRequestHead?

    init(shell: ReplicaShell, commandURL: String) {
        self.shell = shell
        self.commandURL = commandURL
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break  // no command takes a body
        case .end:
            guard let request = head else { return }
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
        guard request.method == .GET else {
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
            case .success(let answer):
                HTTPReply.send(
                    HTTPResponseStatus(statusCode: answer.status), contentType: answer.contentType, headers: answer.headers,
                    body: answer.body, keepAlive: keepAlive, context: context
                ) { handler.wrapOutboundOut($0) }
            case .failure(let error):
                handler.respond(.internalServerError, "text/plain", "\(error)\n", keepAlive: false, context: context)
            }
        }
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
