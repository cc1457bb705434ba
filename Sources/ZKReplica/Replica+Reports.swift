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
        case "dump": return dumpReport(now: now)
        case "wchs":
            return "\(watches.dataWatcherCount) connections watching \(watches.dataWatchedPathCount) paths\nTotal watches:\(watches.dataWatchCount)\n"
        case "wchc":
            return watches.dataPathsByWatcher().map { watcher, paths in
                "0x\(hex(connections[watcher]?.sessionId ?? 0))\n" + paths.map { "\t\($0)\n" }.joined()
            }.joined() + "\n"
        case "wchp":
            return watches.dataWatchersByPath().map { path, watchers in
                path + "\n" + watchers.map { "\t0x\(hex(connections[$0]?.sessionId ?? 0))\n" }.joined()
            }.joined() + "\n"
        case "dirs": return "datadir_size: \(directorySizes.snapshotBytes)\nlogdir_size: \(directorySizes.logBytes)\n"
        case "crst":
            for id in connections.keys { connections[id]?.stats = ConnectionStats() }
            return "Connection stats reset.\n"
        case "srst":
            stats = ServerStats()
            metrics.resetSummaries()
            return "Server stats reset.\n"
        case "gtmk": return "\(traceMask)"
        // ZooKeeper's stmk reads an 8-byte mask after the word; the decoder passes the
        // word alone, which ZooKeeper answers with nothing.
        case "stmk": return ""
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

    func formatDecimal(_ value: Double) -> String { MetricsText.decimal4(value) }

    func connectionsReport(now: ReplicaTime) -> String {
        connections.values.sorted(by: { $0.id < $1.id }).map { connection in
            let s = connection.stats
            var line = " /\(connection.address):\(connection.port)[1](queued=\(connection.queue.count),recved=\(s.packetsReceived),sent=\(s.packetsSent)"
            if let sessionId = connection.sessionId {
                let average = s.latencyCount == 0 ? 0 : s.totalLatencyMs / s.latencyCount
                line += ",sid=0x\(hex(sessionId)),lop=\(s.lastOperation),est=\(connection.establishedAtMs),to=\(connection.negotiatedTimeoutMs)"
                // ZooKeeper leaves lcxid out until the connection's stats have a request.
                if s.lastCxid >= 0 { line += ",lcxid=0x\(hex(Int64(s.lastCxid)))" }
                line += ",lzxid=0x\(hex(s.lastZxid)),lresp=\(s.lastResponseMs),llat=\(s.lastLatencyMs)"
                line += ",minlat=\(s.latencyCount == 0 ? 0 : s.minLatencyMs),avglat=\(average),maxlat=\(s.maxLatencyMs)"
            }
            return line + ")\n"
        }.joined()
    }

    /// `dump`: sessions and connections grouped by the time their bucket expires, as
    /// ZooKeeper's expiry queues print them (a wall-clock `Date`), and ephemerals by owner.
    func dumpReport(now: ReplicaTime) -> String {
        func date(_ elapsedMs: Int64) -> String { JavaTimeText.dateToString(milliseconds: now.wallMs - now.elapsedMs + elapsedMs) }
        func buckets<Element>(_ deadlines: [(Element, Int64)], _ line: (Element) -> String) -> String {
            let byDeadline = Dictionary(grouping: deadlines, by: \.1)
            var text = "Sets (\(byDeadline.count))/(\(deadlines.count)):\n"
            for deadline in byDeadline.keys.sorted() {
                let elements = byDeadline[deadline]!
                text += "\(elements.count) expire at \(date(deadline)):\n" + elements.map { "\t\(line($0.0))\n" }.joined()
            }
            return text
        }
        var text = "SessionTracker dump:\n"
        if let peer, peer.state != .leading {
            // A learner lists the sessions it knows with their timeouts (ZooKeeper's
            // LearnerSessionTracker): the leader expires them.
            let known = sessions.sessions.values.sorted { $0.id < $1.id }
            text += "Global Sessions(\(known.count)):\n" + known.map { "0x\(hex($0.id))\t\($0.timeoutMs)ms\n" }.joined()
        } else {
            text += "Session " + buckets(sessions.sessions.values.sorted { $0.id < $1.id }.map { ($0.id, $0.deadlineMs) }) { "0x\(hex($0))" }
        }
        let owners = tree.ephemerals.keys.sorted()
        text += "ephemeral nodes dump:\nSessions with Ephemerals (\(owners.count)):\n"
        for owner in owners {
            text += "0x\(hex(owner)):\n" + tree.ephemeralPaths(of: owner).map { "\t\($0)\n" }.joined()
        }
        let open = connections.values.sorted { $0.id < $1.id }.map { ($0, connectionExpiry.deadlines[$0.id] ?? now.elapsedMs) }
        text += "Connections dump:\nConnections "
        text += buckets(open) { "ip: /\($0.address):\($0.port) sessionId: 0x\(hex($0.sessionId ?? 0))" }
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
                ("last_proposal_size", "-1"), ("max_proposal_size", "-1"), ("min_proposal_size", "-1"),
            ]
        }
        return lines
    }

    /// `mntr`: version and state first, then the gauges, then ServerMetrics' counters and
    /// summaries, as ZooKeeper's default metrics provider prints them.
    func monitorReport(now: ReplicaTime) -> [(String, String)] {
        let gauges = standaloneMonitorReport(now: now)
        let quorum = quorumMonitorReport(now: now)
        if configuration.prometheusMetrics {
            return gauges.prefix(2) + quorum.prefix(1) + prometheusMonitorLines(now: now)
        }
        return gauges.prefix(2) + quorum.prefix(1) + gauges.dropFirst(2) + quorum.dropFirst(1) + metrics.monitorLines
    }

    func standaloneMonitorReport(now: ReplicaTime) -> [(String, String)] {
        [
            ("version", configuration.version + ", built on 01/01/2026 00:00 GMT"),
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
            ("open_file_descriptor_count", "\(fileDescriptors.open)"),
            ("max_file_descriptor_count", "\(fileDescriptors.max)"),
            ("connection_drop_probability", "0.0"),
            ("last_client_response_size", "\(stats.lastResponseBytes)"),
            ("max_client_response_size", "\(stats.maxResponseBytes)"),
            ("min_client_response_size", "\(stats.minResponseBytes)"),
            ("outstanding_tls_handshake", "0"),
            ("auth_failed_count", "\(stats.authFailed)"),
            ("non_mtls_remote_conn_count", "0"),
            ("non_mtls_local_conn_count", "0"),
        ]
    }
}
