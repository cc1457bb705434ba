import Foundation
import Logging
import NIOCore
import NIOPosix
import ZKReplica

/// The standalone server: one client port, one replica, timers.
public final class StandaloneServer: Sendable {
    let configuration: ServerConfiguration
    let group: MultiThreadedEventLoopGroup
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.logger = logger
    }

    /// Binds the client port and serves until the process ends.
    public func run() throws {
        for key in configuration.unknownKeys {
            logger.warning("unknown configuration key ignored", metadata: ["key": "\(key)"])
        }
        try FileManager.default.createDirectory(atPath: configuration.dataDir, withIntermediateDirectories: true)
        let replicaLoop = group.next()
        let replica = Replica(
            configuration: configuration.replicaConfiguration(environment: Self.environment(configuration)),
            now: ReplicaShell.nowMs(), monotonicMs: Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000))
        let shell = ReplicaShell(
            replica: replica, eventLoop: replicaLoop, txnLog: InMemoryTxnLog(eventLoop: replicaLoop), logger: logger)
        let frameBytesMax = configuration.juteMaxBuffer
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(shell: shell, frameBytesMax: frameBytesMax))
                }
            }
        let channel = try bootstrap.bind(host: configuration.clientPortAddress, port: configuration.clientPort).wait()
        let tickEveryMs = max(10, min(100, configuration.tickTimeMs / 4))
        replicaLoop.scheduleRepeatedTask(initialDelay: .milliseconds(tickEveryMs), delay: .milliseconds(tickEveryMs)) { _ in
            shell.tick()
        }
        logger.info(
            "swiftkeeper serving",
            metadata: [
                "address": "\(configuration.clientPortAddress):\(channel.localAddress?.port ?? configuration.clientPort)",
                "dataDir": "\(configuration.dataDir)", "mode": "standalone",
            ])
        try channel.closeFuture.wait()
    }

    static func environment(_ configuration: ServerConfiguration) -> [(String, String)] {
        let info = ProcessInfo.processInfo
        return [
            ("zookeeper.version", "3.9.3-swiftkeeper, built on 01/01/2026 00:00 GMT"),
            ("host.name", info.hostName),
            ("java.version", "swift"),
            ("java.vendor", "SwiftKeeper"),
            ("java.home", "/"),
            ("java.class.path", ""),
            ("java.library.path", ""),
            ("java.io.tmpdir", NSTemporaryDirectory()),
            ("java.compiler", "<NA>"),
            ("os.name", "Linux"),
            ("os.arch", "x86_64"),
            ("os.version", info.operatingSystemVersionString),
            ("user.name", NSUserName()),
            ("user.home", NSHomeDirectory()),
            ("user.dir", FileManager.default.currentDirectoryPath),
            ("os.memory.free", "0MB"),
            ("os.memory.max", "0MB"),
            ("os.memory.total", "0MB"),
        ]
    }
}
