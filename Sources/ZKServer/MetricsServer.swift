import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `metricsProvider.*` from zoo.cfg: ZooKeeper's Prometheus provider keys and defaults.
struct MetricsConfiguration: Sendable {
    static let prometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
    /// `metricsProvider.className`: the endpoint runs only for ZooKeeper's Prometheus provider.
    var className: String?
    var httpHost = "0.0.0.0"
    var httpPort = 7000
    /// `metricsProvider.exportJvmInfo`: there is no JVM; true adds the `process_*` figures
    /// the same Prometheus client exports beside the JVM's.
    var exportJvmInfo = true

    var enabled: Bool { className == Self.prometheusProvider }
}

/// ZooKeeper's `PrometheusMetricsProvider` endpoint: `GET /metrics` in the Prometheus text
/// format (version 0.0.4), built on the replica's loop (`Replica.prometheusText`).
///
/// Hand-written rather than through swift-prometheus: ZooKeeper's dashboards and alerts read
/// summaries with `quantile` labels, which swift-prometheus 2.x does not offer (it has
/// counters, gauges and histograms), and the figures already live in the replica's state,
/// so a registry fed from it would be a second copy of each.
enum MetricsServer {
    static func start(_ configuration: MetricsConfiguration, shell: ReplicaShell, group: EventLoopGroup, logger: Logger) -> Channel? {
        guard configuration.enabled else { return nil }
        return HTTPPort.bind(
            "Prometheus metrics", host: configuration.httpHost, port: configuration.httpPort, group: group, logger: logger
        ) { [MetricsHTTPHandler(shell: shell, exportProcessInfo: configuration.exportJvmInfo)] }
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let shell: ReplicaShell
    private let exportProcessInfo: Bool
    private var head: HTTPRequestHead?

    init(shell: ReplicaShell, exportProcessInfo: Bool) {
        self.shell = shell
        self.exportProcessInfo = exportProcessInfo
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            answer(request, context: context)
        }
    }

    private func answer(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = request.isKeepAlive
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard path == "/metrics", request.method == .GET || request.method == .POST else {
            let status: HTTPResponseStatus = path == "/metrics" ? .methodNotAllowed : .notFound
            return respond(status, "text/plain", "\(status.code) \(status.reasonPhrase)\n", keepAlive: keepAlive, context: context)
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        shell.prometheusText(exportProcessInfo: exportProcessInfo).hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let text): handler.respond(.ok, Self.contentType, text, keepAlive: keepAlive, context: context)
            case .failure(let error): handler.respond(.internalServerError, "text/plain", "\(error)\n", keepAlive: false, context: context)
            }
        }
    }

    private func respond(
        _ status: HTTPResponseStatus, _ contentType: String, _ body: String, keepAlive: Bool, context: ChannelHandlerContext
    ) {
        HTTPReply.send(status, contentType: contentType, body: body, keepAlive: keepAlive, context: context) { self.wrapOutboundOut($0) }
    }
}
