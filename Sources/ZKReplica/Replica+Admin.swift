import ZKDataTree
import ZKModel

/// One ensemble member as the AdminServer's `voting_view` and `zabstate` show it.
public struct AdminMember: Sendable {
    public var id: Int64
    public var quorumAddress: String
    public var electionAddress: String
    public var clientAddress: String
    public var isObserver: Bool

    public init(id: Int64, quorumAddress: String, electionAddress: String, clientAddress: String, isObserver: Bool) {
        self.id = id
        self.quorumAddress = quorumAddress
        self.electionAddress = electionAddress
        self.clientAddress = clientAddress
        self.isObserver = isObserver
    }
}

/// The AdminServer's commands (ZooKeeper's `Commands`): each answers a JSON object whose
/// last two fields are `command` and `error`, as ZooKeeper's `CommandResponse` puts them.
extension Replica {
    /// Every command by its names: the first is the primary one `/commands` lists.
    public static let adminCommandNames: [[String]] = [
        ["configuration", "conf", "config"], ["connection_stat_reset", "crst"], ["connections", "cons"],
        ["dirs"], ["dump"], ["environment", "env", "envi"], ["get_trace_mask", "gtmk"], ["hash"],
        ["initial_configuration", "icfg"], ["is_read_only", "isro"], ["last_snapshot", "lsnp"], ["leader", "lead"],
        ["monitor", "mntr"], ["observer_connection_stat_reset", "orst"], ["observers", "obsr"], ["ruok"],
        ["server_stats", "srvr"], ["set_trace_mask", "stmk"], ["snapshot", "snap"], ["restore", "rest"], ["stat_reset", "srst"], ["stats", "stat"],
        ["system_properties", "sysp"], ["voting_view"], ["watch_summary", "wchs"], ["watches", "wchc"],
        ["watches_by_path", "wchp"], ["zabstate"],
    ]

    /// Commands that answer even while the server is not serving (ZooKeeper's
    /// `serverRequired = false`).
    static let adminCommandsWithoutServer: Set<String> = [
        "environment", "get_trace_mask", "monitor", "set_trace_mask", "system_properties", "zabstate",
    ]

    public static func adminPrimaryName(_ name: String) -> String? {
        adminCommandNames.first { $0.contains(name) }?.first
    }

    /// The answer to `/commands/<name>?<arguments>`; `name` as the client wrote it.
    public mutating func adminCommand(_ name: String, arguments: [String: String], now: ReplicaTime) -> AdminJSON {
        guard let primary = Self.adminPrimaryName(name) else {
            return .object([("command", .string(name)), ("error", .string("Unknown command: \(name)"))])
        }
        if !isServing && !Self.adminCommandsWithoutServer.contains(primary) {
            return .object([
                ("command", .string(primary)), ("error", .string("This ZooKeeper instance is not currently serving requests")),
            ])
        }
        var fields = adminFields(primary, arguments: arguments, now: now)
        if let index = fields.firstIndex(where: { $0.0 == "error" }) {
            let error = fields.remove(at: index)
            return .object(fields + [error, ("command", .string(primary))])
        }
        return .object(fields + [("command", .string(primary)), ("error", .null)])
    }

    private mutating func adminFields(_ primary: String, arguments: [String: String], now: ReplicaTime) -> [(String, AdminJSON)] {
        switch primary {
        case "configuration": return adminConfiguration
        case "connection_stat_reset":
            for id in connections.keys { connections[id]?.stats = ConnectionStats() }
            return []
        case "connections": return [("connections", .array(adminConnections(full: true))), ("secure_connections", .array([]))]
        case "dirs":
            return [("datadir_size", .int(directorySizes.snapshotBytes)), ("logdir_size", .int(directorySizes.logBytes))]
        case "dump": return adminDump
        case "environment", "system_properties":
            return configuration.environment.map { ($0.0, .string($0.1)) }
        case "get_trace_mask": return [("tracemask", .int(traceMask))]
        case "set_trace_mask":
            guard let text = arguments["traceMask"], let mask = Int64(text) else {
                return [("error", .string("setTraceMask requires long traceMask argument"))]
            }
            traceMask = mask
            return [("tracemask", .int(mask))]
        case "hash":
            return [("digests", .array(digestHistory.map { .object([("zxid", .int($0.zxid)), ("digest", .int(Int64(bitPattern: $0.digest)))]) }))]
        case "initial_configuration":
            return [("initial_configuration", configuration.initialConfigurationText.map { .string($0) } ?? .null)]
        case "is_read_only": return [("read_only", .bool(servesReadOnly(now: now)))]
        case "last_snapshot":
            return [
                ("zxid", .string(String(UInt64(bitPattern: lastSnapshot?.zxid ?? -1), radix: 16))),
                ("timestamp", .int(lastSnapshot?.timestampSeconds ?? -1)),
            ]
        case "leader": return adminLeader
        case "monitor": return monitorReport(now: now).map { ($0.0, AdminJSON.figure($0.1)) }
        case "observer_connection_stat_reset": return []
        case "observers":
            // Observers' own connection stats are not kept; the count is the leader's.
            let synced = peer?.leaderReport?.syncedObservers ?? 0
            return [("synced_observers", .int(synced)), ("observers", .array([]))]
        case "ruok": return []
        case "server_stats": return adminServerStats(now: now)
        case "stat_reset":
            stats = ServerStats()
            return []
        case "stats":
            return adminServerStats(now: now) + [
                ("connections", .array(adminConnections(full: false))), ("secure_connections", .array([])),
            ]
        case "voting_view": return [("current_config", .object(adminVotingView))]
        case "watch_summary":
            return [
                ("num_connections", .int(watches.dataWatcherCount)), ("num_paths", .int(watches.dataWatchedPathCount)),
                ("num_total_watches", .int(watches.dataWatchCount)),
            ]
        case "watches":
            return [("session_id_to_watched_paths", .object(watches.dataPathsByWatcher().map { watcher, paths in
                ("\(connections[watcher]?.sessionId ?? 0)", .array(paths.map { .string($0) }))
            }))]
        case "watches_by_path":
            return [("path_to_session_ids", .object(watches.dataWatchersByPath().map { path, watchers in
                (path, .array(watchers.map { .int(connections[$0]?.sessionId ?? 0) }))
            }))]
        case "zabstate": return adminZabState
        case "snapshot", "restore":
            return [("error", .string("\(primary) runs through the shell (adminSnapshotRefusal, adminRestoreRefusal)"))]
        default: preconditionFailure("admin command \(primary) is listed but has no answer")
        }
    }

    /// ZooKeeper's default trace mask (`ZooTrace`: client requests, ping and session
    /// traces), which `set_trace_mask` changes; SwiftKeeper keeps it but traces nothing.
    public static let defaultTraceMask: Int64 = 306

    var adminConfiguration: [(String, AdminJSON)] {
        let report = Dictionary(configuration.configurationReport, uniquingKeysWith: { first, _ in first })
        func figure(_ key: String) -> AdminJSON { AdminJSON.figure(report[key] ?? "") }
        return [
            ("client_port", figure("clientPort")), ("data_dir", .string(report["dataDir"] ?? "")),
            ("data_log_dir", .string(report["dataLogDir"] ?? "")), ("tick_time", .int(configuration.tickTimeMs)),
            ("max_client_cnxns", .int(configuration.maxClientCnxns)),
            ("min_session_timeout", .int(Int64(configuration.minSessionTimeoutMs))),
            ("max_session_timeout", .int(Int64(configuration.maxSessionTimeoutMs))),
            ("server_id", .int(peer == nil ? 0 : configuration.serverId)),
            ("client_port_listen_backlog", figure("clientPortListenBacklog")),
        ]
    }

    func adminConnections(full: Bool) -> [AdminJSON] {
        connections.values.sorted(by: { $0.id < $1.id }).map { connection in
            let s = connection.stats
            var fields: [(String, AdminJSON)] = [
                ("remote_socket_address", .string("\(connection.address):\(connection.port)")),
                ("interest_ops", .int(connection.readingPaused ? 0 : 1)),
                ("outstanding_requests", .int(connection.queue.count)),
                ("packets_received", .int(s.packetsReceived)), ("packets_sent", .int(s.packetsSent)),
            ]
            guard full, let sessionId = connection.sessionId else { return .object(fields) }
            let average = s.latencyCount == 0 ? 0 : s.totalLatencyMs / s.latencyCount
            fields += [
                ("session_id", .int(sessionId)), ("last_operation", .string(s.lastOperation)),
                ("established", .int(connection.establishedAtMs)), ("session_timeout", .int(Int64(connection.negotiatedTimeoutMs))),
                ("last_cxid", .int(Int64(s.lastCxid))), ("last_zxid", .int(s.lastZxid)),
                ("last_response_time", .int(s.lastResponseMs)), ("last_latency", .int(s.lastLatencyMs)),
                ("min_latency", .int(s.latencyCount == 0 ? 0 : s.minLatencyMs)), ("avg_latency", .int(average)),
                ("max_latency", .int(s.maxLatencyMs)),
            ]
            return .object(fields)
        }
    }

    var adminDump: [(String, AdminJSON)] {
        var fields: [(String, AdminJSON)] = []
        // Only the member that expires sessions fills the expiry table (ZooKeeper: the
        // leader or a standalone server); a learner's is empty.
        let expiring = peer == nil || peer?.state == .leading
        let byDeadline = expiring ? Dictionary(grouping: sessions.sessions.values, by: \.deadlineMs) : [:]
        fields.append(("expiry_time_to_session_ids", .object(byDeadline.keys.sorted().map { deadline in
            ("\(deadline)", .array(byDeadline[deadline]!.map(\.id).sorted().map { .int($0) }))
        })))
        fields.append(("session_id_to_ephemeral_paths", .object(tree.ephemerals.keys.sorted().map { owner in
            ("\(owner)", .array(tree.ephemeralPaths(of: owner).map { .string($0) }))
        })))
        return fields
    }

    var adminLeader: [(String, AdminJSON)] {
        guard let peer else { return [("error", .string("server is not initialized"))] }
        let leaderId = peer.leaderId
        let leaderHost = configuration.members.first { $0.id == leaderId }.map { String($0.quorumAddress.split(separator: ":").dropLast().joined(separator: ":")) }
        return [
            ("is_leader", .bool(peer.state == .leading)), ("leader_id", .int(leaderId ?? -1)),
            ("leader_ip", .string(leaderHost ?? "")),
        ]
    }

    func adminServerStats(now: ReplicaTime) -> [(String, AdminJSON)] {
        let response: AdminJSON = .object([
            ("last_buffer_size", .int(stats.lastResponseBytes)), ("min_buffer_size", .int(stats.minResponseBytes)),
            ("max_buffer_size", .int(stats.maxResponseBytes)),
        ])
        let serverStats: AdminJSON = .object([
            ("packets_sent", .int(stats.packetsSent)), ("packets_received", .int(stats.packetsReceived)),
            ("fsync_threshold_exceed_count", .int(stats.fsyncThresholdExceeded)), ("client_response_stats", response),
            ("data_dir_size", .int(directorySizes.snapshotBytes)), ("log_dir_size", .int(directorySizes.logBytes)),
            ("provider_null", .bool(false)), ("server_state", .string(modeName)),
            ("last_processed_zxid", .int(tree.lastProcessedZxid)), ("outstanding_requests", .int(outstandingRequests)),
            ("avg_latency", .double((stats.averageLatencyMs * 10000).rounded() / 10000)), ("max_latency", .int(stats.maxLatencyMs)),
            ("min_latency", .int(stats.minLatencyMs)), ("num_alive_client_connections", .int(connections.count)),
            ("auth_failed_count", .int(stats.authFailed)), ("non_mtlsremote_conn_count", .int(0)),
            ("non_mtlslocal_conn_count", .int(0)), ("uptime", .int(now.elapsedMs - startedAtMs)),
        ])
        return [
            ("version", .string(configuration.version + ", built on 01/01/2026 00:00 GMT")),
            ("read_only", .bool(servesReadOnly(now: now))), ("server_stats", serverStats), ("client_response", response),
            ("node_count", .int(tree.nodeCount)),
        ]
    }

    var adminVotingView: [(String, AdminJSON)] {
        guard peer != nil else { return [] }
        return configuration.members.filter { !$0.isObserver }.sorted { $0.id < $1.id }.map { member in
            ("\(member.id)", .object([
                ("server_addresses", .array([.string(member.quorumAddress)])),
                ("election_addresses", .array([.string(member.electionAddress)])),
                ("client_address", .string(member.clientAddress)), ("learner_type", .string("participant")),
            ]))
        }
    }

    /// ZooKeeper serialises its `MultipleAddresses` object's bean properties here; a
    /// member has one address, so each list holds it (`host:port`).
    static func multipleAddresses(_ address: String) -> AdminJSON {
        let host = String(address.split(separator: ":").dropLast().joined(separator: ":"))
        let port = Int64(address.split(separator: ":").last ?? "") ?? 0
        let one: AdminJSON = .string(address)
        return .object([
            ("empty", .bool(address.isEmpty)), ("all_addresses", .array([one])), ("all_reachable_addresses", .array([one])),
            ("one", one), ("reachable_address", one), ("wildcard_addresses", .array([.string("0.0.0.0:\(port)")])),
            ("all_ports", .array([.int(port)])), ("all_host_strings", .array([.string(host)])),
            ("all_reachable_addresses_or_all", .array([one])), ("reachable_or_one", one),
        ])
    }

    var adminZabState: [(String, AdminJSON)] {
        guard let peer else { return [("voting", .bool(false)), ("zabstate", .string(""))] }
        let me = configuration.members.first { $0.id == configuration.serverId }
        let zxid = tree.lastProcessedZxid
        return [
            ("myid", .int(configuration.serverId)), ("is_leader", .bool(peer.state == .leading)),
            ("quorum_address", Self.multipleAddresses(me?.quorumAddress ?? "")),
            ("election_address", Self.multipleAddresses(me?.electionAddress ?? "")),
            ("client_address", .string(me?.clientAddress ?? "")), ("voting", .bool(me.map { !$0.isObserver } ?? false)),
            ("last_zxid", .string("0x" + hex(zxid))), ("zab_epoch", .int(zxid >> 32)), ("zab_counter", .int(zxid & 0xffff_ffff)),
            ("zabstate", .string(peer.phase.rawValue.lowercased())),
        ]
    }
}
