import ZKDataTree
import ZKModel

extension Replica {
    /// The text of a four-letter word, formatted as ZooKeeper prints it.
    mutating func fourLetterWordReport(_ word: String, now: ReplicaTime) -> String {
        switch word {
        case "ruok": return "imok"
        case "isro": return servesReadOnly(now: now) ? "ro" : "rw"
        case "srvr": return serverSummary(withClients: false)
        case "stat": return serverSummary(withClients: true)
        case "cons": return connectionsReport(now: now) + "\n"
        case "conf":
            return configuration.configurationReport.map { key, value in
                switch key {
                case "dataDirSize": return "\(key)=\(directorySizes.snapshotBytes)\n"
                case "dataLogSize": return "\(key)=\(directorySizes.logBytes)\n"
                default: return "\(key)=\(value)\n"
                }
            }.joined() + configuration.configurationReportTail
        case "envi": return "Environment:\n" + configuration.environment.map { "\($0.0)=\($0.1)\n" }.joined()
        case "mntr": return monitorReport(now: now).map { "zk_\($0.0)\t\($0.1)\n" }.joined()
        case "dump": return dumpReport()
        case "wchs":
            return "\(watches.dataWatcherCount) connections watching \(watches.dataWatchedPathCount) paths\nTotal watches:\(watches.dataWatchCount)\n"
        case "wchc":
            return watches.dataPathsByWatcher().map { watcher, paths in
                "0x\(hex(connections[watcher]?.sessionId ?? 0))\n" + paths.map { "\t\($0)\n" }.joined()
            }.joined() + "\n"
        case "wchp":
            return watches.dataWatchersByPath().map { path, watchers in
                path + "\n" + watchers.map { "\t0x\(hex(connections[$0]?.sessionId ?? 0))\n" }.joined()
            }.joined()
        case "dirs": return "datadir_size: \(directorySizes.snapshotBytes)\nlogdir_size: \(directorySizes.logBytes)\n"
        case "crst":
            for id in connections.keys { connections[id]?.stats = ConnectionStats() }
            return "Connection stats reset.\n"
        case "srst":
            stats = ServerStats()
            return "Server stats reset.\n"
        case "gtmk": return "\(traceMask)"
        case "stmk": return "0\n"
        case "hash": return digestHistory.map { "\(hex($0.zxid)): \(Int64(bitPattern: $0.digest))\n" }.joined()
        default: return ""
        }
    }

    func hex(_ value: Int64) -> String { String(UInt64(bitPattern: value), radix: 16) }

    /// `srvr`'s Mode and `mntr`'s server_state, in ZooKeeper's words.
    var modeName: String {
        guard let peer else { return "standalone" }
        switch peer.state {
        case .looking: return "looking"
        case .following: return "follower"
        case .leading: return "leader"
        case .observing: return "observer"
        }
    }

    func serverSummary(withClients: Bool) -> String {
        var text = "Zookeeper version: \(configuration.version), built on 01/01/2026 00:00 GMT\n"
        if withClients {
            text += "Clients:\n"
            for connection in connections.values.sorted(by: { $0.id < $1.id }) {
                text += " /\(connection.address):\(connection.port)[1](queued=\(connection.queue.count),recved=\(connection.stats.packetsReceived),sent=\(connection.stats.packetsSent))\n"
            }
            text += "\n"
        }
        text += "Latency min/avg/max: \(stats.minLatencyMs)/\(formatDecimal(stats.averageLatencyMs))/\(stats.maxLatencyMs)\n"
        text += "Received: \(stats.packetsReceived)\nSent: \(stats.packetsSent)\nConnections: \(connections.count)\n"
        text += "Outstanding: \(outstandingRequests)\nZxid: 0x\(hex(tree.lastProcessedZxid))\nMode: \(modeName)\n"
        text += "Node count: \(tree.nodeCount)\n"
        if peer?.state == .leading { text += "Proposal sizes last/min/max: -1/-1/-1\n" }
        return text
    }

    func formatDecimal(_ value: Double) -> String {
        let scaled = (value * 10000).rounded() / 10000
        var text = "\(scaled)"
        if !text.contains(".") { text += ".0" }
        return text
    }

    func connectionsReport(now: ReplicaTime) -> String {
        connections.values.sorted(by: { $0.id < $1.id }).map { connection in
            let s = connection.stats
            var line = " /\(connection.address):\(connection.port)[1](queued=\(connection.queue.count),recved=\(s.packetsReceived),sent=\(s.packetsSent)"
            if let sessionId = connection.sessionId {
                let average = s.latencyCount == 0 ? 0 : s.totalLatencyMs / s.latencyCount
                line += ",sid=0x\(hex(sessionId)),lop=\(s.lastOperation),est=\(connection.establishedAtMs),to=\(connection.negotiatedTimeoutMs)"
                line += ",lcxid=0x\(hex(Int64(s.lastCxid))),lzxid=0x\(hex(s.lastZxid)),lresp=\(s.lastResponseMs),llat=\(s.lastLatencyMs)"
                line += ",minlat=\(s.latencyCount == 0 ? 0 : s.minLatencyMs),avglat=\(average),maxlat=\(s.maxLatencyMs)"
            }
            return line + ")\n"
        }.joined()
    }

    func dumpReport() -> String {
        var text = "SessionTracker dump:\nSession Sets (\(sessions.sessions.count))/(\(sessions.sessions.count)):\n"
        for session in sessions.sessions.values.sorted(by: { $0.id < $1.id }) {
            text += "0x\(hex(session.id)) expires at \(session.deadlineMs), timeout \(session.timeoutMs)\n"
        }
        let owners = tree.ephemerals.keys.sorted()
        text += "ephemeral nodes dump:\nSessions with Ephemerals (\(owners.count)):\n"
        for owner in owners {
            text += "0x\(hex(owner)):\n" + tree.ephemeralPaths(of: owner).map { "\t\($0)\n" }.joined()
        }
        text += "Connections dump:\nConnections Sets (\(connections.count))/(\(connections.count)):\n"
        for connection in connections.values.sorted(by: { $0.id < $1.id }) {
            text += "\tip: /\(connection.address):\(connection.port) sessionId: 0x\(hex(connection.sessionId ?? 0))\n"
        }
        return text
    }

    /// `mntr`'s zk_peer_state: "leading - broadcast", "following - synchronization", …
    var peerStateName: String? {
        guard let peer else { return nil }
        let state: String
        switch peer.state {
        case .looking: state = "looking"
        case .following: state = "following"
        case .leading: state = "leading"
        case .observing: state = "observing"
        }
        return "\(state) - \(peer.phase.rawValue.lowercased())"
    }

    /// ZooKeeper's quorum metrics: every member's, then the leader's own.
    func quorumMonitorReport(now: ReplicaTime) -> [(String, String)] {
        guard let peer, let peerState = peerStateName else { return [] }
        var lines = [("peer_state", peerState), ("quorum_size", "\(peer.configuration.quorum.voters.count)")]
        if let report = peer.leaderReport {
            lines += [
                ("learners", "\(report.learners)"), ("synced_followers", "\(report.syncedFollowers)"),
                ("synced_non_voting_followers", "0"), ("synced_observers", "\(report.syncedObservers)"),
                ("pending_syncs", "\(report.pendingSyncs)"), ("leader_uptime", "\(now.elapsedMs - roleSinceMs)"),
            ]
        }
        return lines
    }

    func monitorReport(now: ReplicaTime) -> [(String, String)] {
        standaloneMonitorReport(now: now) + quorumMonitorReport(now: now)
    }

    func standaloneMonitorReport(now: ReplicaTime) -> [(String, String)] {
        [
            ("version", configuration.version),
            ("server_state", modeName),
            ("avg_latency", formatDecimal(stats.averageLatencyMs)),
            ("max_latency", "\(stats.maxLatencyMs)"),
            ("min_latency", "\(stats.minLatencyMs)"),
            ("packets_received", "\(stats.packetsReceived)"),
            ("packets_sent", "\(stats.packetsSent)"),
            ("num_alive_connections", "\(connections.count)"),
            ("outstanding_requests", "\(outstandingRequests)"),
            ("znode_count", "\(tree.nodeCount)"),
            ("watch_count", "\(watches.totalWatchCount)"),
            ("ephemerals_count", "\(tree.ephemeralCount)"),
            ("approximate_data_size", "\(tree.approximateDataSize)"),
            ("global_sessions", "\(sessions.sessions.count)"),
            ("local_sessions", "\(localSessions.sessions.count)"),
            ("uptime", "\(now.elapsedMs - startedAtMs)"),
            ("digest_mismatches_count", "\(stats.digestMismatches)"),
            ("last_proposal_size", "-1"),
            ("max_proposal_size", "-1"),
            ("min_proposal_size", "-1"),
        ]
    }
}
