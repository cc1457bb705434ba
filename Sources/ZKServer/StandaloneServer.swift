import Foundation
import Logging
import NIOCore
import NIOPosix
import ZKPersistence
import ZKReplica

/// Start-up failed for a reason the operator must fix (a damaged data directory, …).
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
}

/// The standalone server: one client port, one replica, the file log, snapshots, timers.
public final class StandaloneServer: Sendable {
    let configuration: ServerConfiguration
    /// Client connections' loops: framing, encoding and socket I/O.
    let group: MultiThreadedEventLoopGroup
    /// The replica's own loop: the sequencer never waits behind a socket's work.
    let replicaGroup: MultiThreadedEventLoopGroup
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: UsableCores.count)
        self.replicaGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.logger = logger
    }

    /// Recovers the data directory, binds the client port and serves until the process ends.
    public func run() throws {
        for key in configuration.unknownKeys {
            logger.warning("unknown configuration key ignored", metadata: ["key": "\(key)"])
        }
        FileDescriptorLimit.raiseToHardLimit(logger: logger)
        if !configuration.ensemble.isStandalone { return try runEnsemble() }
        let directory = DataDirectory(dataDir: configuration.dataDir, dataLogDir: configuration.dataLogDir)
        let loadStarted = DispatchTime.now().uptimeNanoseconds
        let state = try recover(directory)
        let loadMs = Int64((DispatchTime.now().uptimeNanoseconds - loadStarted) / 1_000_000)
        let snapshots = SnapshotScheduler(directory: directory, snapCount: configuration.snapCount, logger: logger)
        if state.snapshot != nil {
            // Until it is written, the snapshot recovery started from plus the logs give the same state.
            snapshots.start(tree: state.tree, sessions: state.sessions)
        }
        let replicaLoop = replicaGroup.next()
        let now = ReplicaShell.now()
        let replica = Replica(
            configuration: configuration.replicaConfiguration(environment: Self.environment(configuration)),
            now: now, monotonicMs: now.elapsedMs, tree: state.tree, sessionTimeouts: state.sessions)
        let shell = ReplicaShell(
            replica: replica, eventLoop: replicaLoop, logger: logger, readViewSlots: ReadViewSlot.slots(for: group))
        noteStartup(shell, loadMs: loadMs, replayedTxns: state.replayedTxnCount)
        let txnLog = FileTxnLog(
            configuration: FileTxnLogConfiguration(
                directory: directory.logDirectory, preAllocBytes: configuration.preAllocSizeKb * 1024,
                forceSync: configuration.forceSync, batchTxnsMax: configuration.maxBatchSize,
                fsyncWarningThresholdMs: configuration.fsyncWarningThresholdMs),
            logger: logger, persisted: { zxid, generation in shell.logPersisted(upTo: zxid, generation: generation) }, failed: { _ in shell.logFailed() })
        shell.txnLog = txnLog
        shell.snapshots = snapshots
        shell.directory = directory
        txnLog.start()
        schedulePurge(directory, on: replicaLoop)
        let channel = try bind(shell)
        let admin = AdminServer.start(configuration.admin, shell: shell, group: group, logger: logger)
        let metrics = MetricsServer.start(configuration.metrics, shell: shell, group: group, logger: logger)
        let tickEveryMs = max(10, min(100, configuration.tickTimeMs / 4))
        replicaLoop.scheduleRepeatedTask(initialDelay: .milliseconds(tickEveryMs), delay: .milliseconds(tickEveryMs)) { _ in
            shell.tick()
        }
        MemoryTrim.schedule(every: .seconds(10), on: replicaLoop)
        logger.info(
            "swiftkeeper serving",
            metadata: [
                "address": "\(configuration.clientPortAddress):\(channel.localAddress?.port ?? configuration.clientPort)",
                "dataDir": "\(configuration.dataDir)", "mode": "standalone",
                "zxid": "0x\(String(state.lastZxid, radix: 16))", "sessions": "\(state.sessions.count)",
            ])
        try serveUntilStopped(shell, listening: [channel] + [admin, metrics].compactMap { $0 })
    }

    /// Blocks until a stop signal's graceful stop finished: the listening sockets closed
    /// first (no new connections), then the shell's stop (`ReplicaShell.shutDown`).
    func serveUntilStopped(_ shell: ReplicaShell, listening: [Channel]) throws {
        let stopped = shell.eventLoop.makePromise(of: Void.self)
        let logger = logger
        ShutdownSignals.install(logger: logger, shutdownTimeoutMs: configuration.shutdownTimeoutMs) {
            let closed = listening.map { $0.close() }
            EventLoopFuture.andAllComplete(closed, on: shell.eventLoop)
                .flatMap { shell.shutDown() }
                .cascade(to: stopped)
        }
        try stopped.futureResult.wait()
        logger.notice("swiftkeeper stopped")
    }

    /// Loads the newest snapshot and replays the logs after it and cuts a torn tail off. A
    /// directory without a snapshot gets `snapshot.<zxid>` at once (logs without a snapshot
    /// would not load again); otherwise the caller writes one in the background, as ZooKeeper
    /// writes one at start-up.
    func recover(_ directory: DataDirectory) throws -> RecoveredState {
        try directory.prepare()
        let options = recoveryOptions
        let started = DispatchTime.now().uptimeNanoseconds
        let state: RecoveredState
        do {
            state = try directory.recover(options: options)
        } catch let error as RecoveryError {
            throw StartupError(description: "cannot load the data directory: \(error)")
        }
        for note in state.notes { logger.warning("\(note)") }
        if let torn = state.tornTail {
            logger.warning(
                "transaction log ends with an incomplete entry (a crash mid-write); cutting it off",
                metadata: ["file": "\(directory.path(of: torn.file))", "offset": "\(torn.offset)", "reason": "\(torn.reason)"])
            try directory.truncate(torn.file, at: torn.offset)
        }
        if state.snapshot == nil {
            try directory.writeSnapshot(tree: state.tree, sessions: state.sessions, zxid: state.lastZxid)
        }
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        logger.info(
            "data directory loaded",
            metadata: [
                "snapshot": "\(state.snapshot?.name ?? "none")", "replayedTxns": "\(state.replayedTxnCount)",
                "zxid": "0x\(String(state.lastZxid, radix: 16))", "nodes": "\(state.tree.nodes.count)", "ms": "\(elapsedMs)",
            ])
        return state
    }

    /// ZooKeeper's start-up summaries: the time to load the data directory (`dbinittime`) and
    /// the txns replayed from the logs (`startup_txns_loaded`).
    func noteStartup(_ shell: ReplicaShell, loadMs: Int64, replayedTxns: Int) {
        shell.eventLoop.execute {
            shell.handleReport { replica, _ in
                replica.observeDurations(.dbinittime, [loadMs])
                replica.observeDurations(.startupTxnsLoaded, [Int64(replayedTxns)])
            }
        }
    }

    /// How the data directory is read: at start-up, and by an ensemble member after TRUNC.
    var recoveryOptions: RecoveryOptions {
        var options = RecoveryOptions(payloadBytesMax: configuration.juteMaxBuffer + Self.txnExtraBytes)
        options.trustEmptySnapshot = configuration.trustEmptySnapshot
        return options
    }

    /// Room a logged txn may take beyond `jute.maxbuffer` (`jute.maxbuffer.extrasize`'s default).
    static let txnExtraBytes = 1024

    func bind(_ shell: ReplicaShell, configuration: ServerConfiguration? = nil) throws -> Channel {
        let configuration = configuration ?? self.configuration
        let limits = configuration.connectionLimits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(clamping: configuration.effectiveListenBacklog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(shell: shell, limits: limits))
                }
            }
        return try bootstrap.bind(host: configuration.clientPortAddress, port: configuration.clientPort).wait()
    }

    /// `autopurge.purgeInterval` hours apart, keep `autopurge.snapRetainCount` snapshots.
    func schedulePurge(_ directory: DataDirectory, on loop: EventLoop) {
        guard configuration.purgeIntervalHours > 0 else { return }
        let retainCount = configuration.snapRetainCount
        let logger = logger
        let interval = TimeAmount.hours(Int64(configuration.purgeIntervalHours))
        loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            DispatchQueue.global().async {
                do {
                    let deleted = try directory.purge(retainCount: retainCount)
                    logger.info("purge done", metadata: ["deleted": "\(deleted.count)"])
                } catch {
                    logger.error("purge failed", metadata: ["error": "\(error)"])
                }
            }
        }
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
