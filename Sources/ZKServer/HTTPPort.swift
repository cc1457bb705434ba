import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 port of the server's (the AdminServer's, the metrics'): NIOHTTP1's pipeline
/// and one handler per connection on the client loops. A port that cannot be bound is
/// logged and left out, as ZooKeeper leaves out its admin and metrics servers.
enum HTTPPort {
    static func bind(
        _ name: String, host: String, port: Int, group: EventLoopGroup, logger: Logger,
        handlers: @escaping @Sendable () -> [ChannelHandler]
    ) -> Channel? {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandlers(handlers())
                }
            }
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            logger.info("\(name) serving", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            return channel
        } catch {
            logger.error("\(name) not started: cannot bind its port", metadata: ["address": "\(host):\(port)", "error": "\(error)"])
            return nil
        }
    }
}
