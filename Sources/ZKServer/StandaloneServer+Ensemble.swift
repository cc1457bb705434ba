import Foundation
import Logging
import NIOCore
import NIOPosix
import ZKConsensus
import ZKPersistence
import ZKReplica

extension StandaloneServer {
    /// An ensemble member: the data directory recovered as standalone does, the epoch files,
    /// the election and quorum ports, and the client port serving once ZAB broadcasts.
    func runEnsemble() throws {
        let ensemble = configuration.ensemble
        let me = try ensemble.myId(dataDir: configuration.dataDir)
        let myServer = ensemble.servers[me]!
        let directory = DataDirectory(dataDir: configuration.dataDir, dataLogDir: configuration.dataLogDir)
        let loadStarted = DispatchTime.now().uptimeNanoseconds
        let state = try recover(directory)
        let loadMs = Int64((DispatchTime.now().uptimeNanoseconds - loadStarted) / 1_000_000)
        let disk = EnsembleDisk(directory: directory, options: recoveryOptions, logger: logger)
        let durable = try disk.durableState(state)
        let snapshots = SnapshotScheduler(directory: directory, snapCount: configuration.snapCount, logger: logger)
        if state.snapshot != nil { snapshots.start(tree: state.tree, sessions: state.sessions) }

        var peerConfiguration = PeerConfiguration(me: me, quorum: QuorumConfiguration(voters: ensemble.voters, observers: ensemble.observers))
        peerConfiguration.tickTimeMs = configuration.tickTimeMs
        peerConfiguration.initLimit = ensemble.initLimit
        peerConfiguration.syncLimit = ensemble.syncLimit
        peerConfiguration.commitLogCount = ensemble.commitLogCount
        peerConfiguration.diffFromLogEnabled = ensemble.snapshotSizeFactor >= 0
        var clientConfiguration = configuration
        if let port = myServer.clientPort { clientConfiguration.clientPort = port }
        if let host = myServer.clientHost { clientConfiguration.clientPortAddress = host }
        var replicaConfiguration = clientConfiguration.replicaConfiguration(environment: Self.environment(configuration))
        replicaConfiguration.serverId = me
        replicaConfiguration.readOnlyModeEnabled = ensemble.readOnlyModeEnabled
        replicaConfiguration.leaderServes = ensemble.leaderServes
        replicaConfiguration.localSessionsEnabled = ensemble.localSessionsEnabled
        replicaConfiguration.localSessionsUpgradingEnabled = ensemble.localSessionsUpgradingEnabled
        replicaConfiguration.configurationReport.removeAll { $0.0 == "serverId" }
        replicaConfiguration.configurationReport += [
            ("serverId", "\(me)"), ("initLimit", "\(ensemble.initLimit)"), ("syncLimit", "\(ensemble.syncLimit)"),
            ("electionAlg", "3"), ("electionPort", "\(myServer.electionPort)"), ("quorumPort", "\(myServer.quorumPort)"),
            ("peerType", myServer.isObserver ? "1" : "0"),
        ]
        // ZooKeeper ends `conf` with the membership's last line, without a newline.
        replicaConfiguration.configurationReportTail = "membership: \n" + ensemble.configText
        replicaConfiguration.initialConfigurationText = nil
        replicaConfiguration.members = ensemble.servers.values.map { server in
            AdminMember(
                id: server.id, quorumAddress: "\(server.host):\(server.quorumPort)", electionAddress: "\(server.host):\(server.electionPort)",
                clientAddress: server.clientPort.map { "\(server.clientHost ?? "0.0.0.0"):\($0)" } ?? "", isObserver: server.isObserver)
        }
        let loop = replicaGroup.next()
        let now = ReplicaShell.now()
        let replica = Replica(
            configuration: replicaConfiguration, peerConfiguration: peerConfiguration, durable: durable,
            tree: state.tree, sessionTimeouts: state.sessions, now: now, monotonicMs: now.elapsedMs)
        let shell = ReplicaShell(replica: replica, eventLoop: loop, logger: logger, readViewSlots: ReadViewSlot.slots(for: group))
        noteStartup(shell, loadMs: loadMs, replayedTxns: state.replayedTxnCount)
        let logger = logger
        let txnLog = FileTxnLog(
            configuration: FileTxnLogConfiguration(
                directory: directory.logDirectory, preAllocBytes: configuration.preAllocSizeKb * 1024,
                forceSync: configuration.forceSync, batchTxnsMax: configuration.maxBatchSize,
                fsyncWarningThresholdMs: configuration.fsyncWarningThresholdMs),
            logger: logger, persisted: { zxid, generation in shell.logPersisted(upTo: zxid, generation: generation) },
            failed: { reason in EnsembleWork.leaveEnsemble(logger, "transaction log: \(reason)") })

        let configText = ensemble.configText
        let mesh = ElectionMesh(me: me, servers: ensemble.servers, loop: loop, logger: logger, configText: configText, connectTimeoutMs: ensemble.connectTimeoutMs)
        let links = QuorumLinks(
            me: me, servers: ensemble.servers, loop: loop, logger: logger, configText: configText,
            dataBytesMax: Int32(clamping: configuration.juteMaxBuffer + Self.txnExtraBytes), connectTimeoutMs: ensemble.connectTimeoutMs)
        let work = EnsembleWork(mesh: mesh, links: links, disk: disk, txnLog: txnLog, logger: logger, shell: shell)
        mesh.deliver = { (notification: ZKConsensus.Notification, sid: ServerID) in
            shell.handle { replica, now in replica.peerMessageReceived(.notification(notification), from: sid, now: now) }
        }
        links.deliver = { message, sid in
            shell.handle { replica, now in replica.peerMessageReceived(message, from: sid, now: now) }
        }
        links.lost = { sid in shell.handle { replica, now in replica.peerConnectionLost(sid, now: now) } }
        links.currentRole = { work.role }
        shell.txnLog = txnLog
        shell.snapshots = snapshots
        shell.directory = directory
        shell.ensemble = work
        shell.logsTxns = ensemble.syncEnabled || !myServer.isObserver
        work.snapshotSizeFactor = ensemble.snapshotSizeFactor
        txnLog.start()
        schedulePurge(directory, on: loop)

        let quorumHost = ensemble.quorumListenOnAllIPs ? "0.0.0.0" : myServer.host
        let electionChannel = try mesh.bind(host: quorumHost, retries: ensemble.electionPortBindRetry)
        let quorumChannel = try links.bind(host: quorumHost)
        let clientChannel = try bind(shell, configuration: clientConfiguration)
        let admin = AdminServer.start(configuration.admin, shell: shell, group: group, logger: logger)
        let metrics = MetricsServer.start(configuration.metrics, shell: shell, group: group, logger: logger)
        let tickEveryMs = max(5, min(25, configuration.tickTimeMs / 8))
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(tickEveryMs), delay: .milliseconds(tickEveryMs)) { _ in shell.tick() }
        // The first votes go out at once rather than at the first resend.
        loop.execute { shell.tick() }
        MemoryTrim.schedule(every: .seconds(10), on: loop)
        logger.info(
            "swiftkeeper serving",
            metadata: [
                "address": "\(clientConfiguration.clientPortAddress):\(clientChannel.localAddress?.port ?? clientConfiguration.clientPort)",
                "election": "\(electionChannel.localAddress.map { "\($0)" } ?? "?")", "quorum": "\(quorumChannel.localAddress.map { "\($0)" } ?? "?")",
                "dataDir": "\(configuration.dataDir)", "mode": "quorum", "myid": "\(me)", "servers": "\(ensemble.servers.count)",
                "zxid": "0x\(String(state.lastZxid, radix: 16))", "currentEpoch": "\(durable.currentEpoch)",
                "acceptedEpoch": "\(durable.acceptedEpoch)", "loggedTxns": "\(durable.log.count)",
            ])
        try serveUntilStopped(shell, listening: [clientChannel, electionChannel, quorumChannel] + [admin, metrics].compactMap { $0 })
    }
}
