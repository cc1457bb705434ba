import DequeModule
import NIOCore
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKWire

/// One whole server as a value: events in, actions out, no I/O and no clock.
/// Standalone, writes go prepare → appendLog → (shell persists) → logPersisted → apply →
/// reply, so a reply never leaves before its txn is durable. In an ensemble the same code
/// sits on a `Peer`: writes go to the leader, which prepares and proposes them, and every
/// member applies what the peer commits (`Replica+Ensemble`).
public struct Replica: Sendable {
    public let configuration: ReplicaConfiguration
    public internal(set) var tree = DataTree()
    public internal(set) var watches = WatchTable()
    public internal(set) var sessions: SessionTable
    var pending = PendingChanges()
    /// Ensemble leader: the digest each prepared txn will leave (its PROPOSAL carries it).
    var digests = DigestProjection()
    var connections: [ConnectionID: Connection] = [:]
    /// Open connections per client address, for `maxClientCnxns`.
    var connectionsByAddress: [String: Int] = [:]
    /// When each connection is closed unless it hears from its client: the handshake
    /// deadline, then the session timeout of silence (ZooKeeper's connection expiry queue).
    var connectionExpiry: ExpiryQueue<ConnectionID>
    /// Requests queued on every connection, not answered yet (`globalOutstandingLimit`).
    var outstandingRequests = 0
    /// Connections whose next frame waits only for `outstandingRequests` to fall below
    /// `globalOutstandingLimit`, in the order they started waiting.
    var waitingForGlobalLimit: Deque<ConnectionID> = []
    /// Connections whose own backlog shrank while they held frames: they try again before
    /// the event's actions are handed out.
    var backlogShrank: [ConnectionID] = []
    /// Txns handed to the log and not applied yet, in zxid order, with the connection that asked.
    var inFlight: Deque<(txn: Txn, connection: ConnectionID?)> = []
    /// Standalone: the log is durable up to here; txns up to it are applied in slices.
    var durableZxid: Zxid = 0
    /// A `resumeLater` is out and not answered yet.
    var resumeRequested = false
    /// Sessions found expired and not yet closed (at most `sessionsExpiredPerTickMax` are
    /// closed per tick), in id order.
    var expiring: Deque<SessionID> = []
    var lastPreparedZxid: Zxid = 0
    /// Elapsed time of the last container and TTL sweep.
    var lastContainerCheckMs: Int64 = 0
    var actions: [ReplicaAction] = []
    public internal(set) var stats = ServerStats()
    /// ZooKeeper's ServerMetrics counters and summaries (`mntr`, `/metrics`).
    public internal(set) var metrics = ServerMetrics()
    /// Significant events for the operator's log (`ReplicaLogLine`), taken by the shell.
    var logLines: [ReplicaLogLine] = []
    /// Elapsed time this member started looking for a leader (`election_time`).
    var lookingSinceMs: Int64?
    /// Elapsed time the election ended and the sync with the leader began (`follower_sync_time`).
    var syncingSinceMs: Int64?
    /// The process's open and allowed file descriptors, read by the shell for reports.
    public var fileDescriptors: (open: Int, max: Int) = (0, 0)
    /// Elapsed time at start (for `uptime`).
    let startedAtMs: Int64
    /// When the peer last changed role or phase (`mntr`'s zk_leader_uptime counts from it).
    var roleSinceMs: Int64 = 0
    /// Sessions of read-only clients, local to this member (read-only mode).
    var readOnlySessions: Set<SessionID> = []
    /// `localSessionsEnabled`: sessions created here without a txn, known to this member
    /// only, with their own expiry (`Replica+LocalSessions`).
    var localSessions: SessionTable
    /// Local sessions being upgraded to global ones: the connection that carries each,
    /// bound to the global session when its createSession txn is applied here.
    var upgradingSessions: [SessionID: ConnectionID] = [:]
    /// Leader only: sessions whose createSession txn is prepared and not applied yet.
    var sessionsBeingCreated: Set<SessionID> = []
    /// Leader only: the member each global session's requests come through (ZooKeeper's
    /// session owner).
    var sessionOwners: [SessionID: ServerID] = [:]
    /// Set once the log failed (disk full, fsync error): writes are refused from then on,
    /// reads go on. Only a restart clears it.
    public internal(set) var writesRefused = false
    /// Bytes in the snapshot and log directories, refreshed by the shell before a four-letter
    /// word runs (`dirs`, `conf`).
    public var directorySizes: (snapshotBytes: Int64, logBytes: Int64) = (0, 0)
    /// When the AdminServer's `snapshot` and `restore` last ran (their rate limits).
    var lastAdminSnapshotMs: Int64?
    var lastAdminRestoreMs: Int64?
    /// `get_trace_mask` / `set_trace_mask` (kept, not used: there is no request tracing).
    var traceMask = Replica.defaultTraceMask
    /// The newest snapshot on disk, refreshed by the shell before `last_snapshot` runs.
    public var lastSnapshot: (zxid: Zxid, timestampSeconds: Int64)?

    /// What the shell read from the disk for a report.
    public mutating func noteDiskFigures(
        sizes: (snapshotBytes: Int64, logBytes: Int64), lastSnapshot: (zxid: Zxid, timestampSeconds: Int64)?, slowSyncs: Int
    ) {
        directorySizes = sizes
        self.lastSnapshot = lastSnapshot
        stats.fsyncThresholdExceeded = slowSyncs
    }
    /// ZooKeeper's digest history for `hash`: the digest at every 128th zxid, the last 1024.
    var digestHistory: Deque<(zxid: Zxid, digest: UInt64)> = []
    /// The ensemble member's ZAB logic; nil for a standalone server, which commits a txn as
    /// soon as its own log made it durable and keeps epoch 0, as ZooKeeper's standalone
    /// server does (a quorum of one without elections).
    public internal(set) var peer: Peer?
    /// Ensemble learner: sessions its clients touched since its last PING answer.
    var touchedSessions: [SessionID: Int32] = [:]
    /// Ensemble: connections waiting for their createSession txn, by that session.
    var connectingSessions: [SessionID: ConnectionID] = [:]
    /// Ensemble learner: connections waiting for the leader's REVALIDATE answer, by session.
    var revalidatingSessions: [SessionID: [ConnectionID]] = [:]
    /// Ensemble: client `sync`s waiting for the leader, by request id.
    var pendingSyncs: [UInt64: ConnectionID] = [:]
    var nextSyncRequestId: UInt64 = 1
    /// When not nil, every applied txn is recorded here for the simulator's checkers, which
    /// take the records after each event. Off in servers.
    public var appliedRecord: [AppliedRecord]?
    static let digestHistoryInterval: Int64 = 128
    static let digestHistoryMax = 1024

    /// `monotonicMs` is the clock reading session ids are made from (ZooKeeper reads its
    /// elapsed clock for them); `now` starts every clock the replica keeps.
    public init(configuration: ReplicaConfiguration, now: ReplicaTime, monotonicMs: Int64) {
        self.configuration = configuration
        self.sessions = SessionTable(
            serverId: configuration.serverId, monotonicMs: monotonicMs, tickTimeMs: configuration.tickTimeMs, now: now.elapsedMs)
        self.localSessions = SessionTable(
            serverId: configuration.serverId, monotonicMs: monotonicMs, tickTimeMs: configuration.tickTimeMs, now: now.elapsedMs)
        self.connectionExpiry = ExpiryQueue(intervalMs: max(1, configuration.tickTimeMs), now: now.elapsedMs)
        self.startedAtMs = now.elapsedMs
        self.lastContainerCheckMs = now.elapsedMs
    }

    /// A replica resuming a recovered state: the tree as of its last zxid and the sessions
    /// alive then, whose expiry clocks start again now.
    public init(configuration: ReplicaConfiguration, now: ReplicaTime, monotonicMs: Int64, tree: DataTree, sessionTimeouts: [SessionID: Int32]) {
        self.init(configuration: configuration, now: now, monotonicMs: monotonicMs)
        self.tree = tree
        self.lastPreparedZxid = tree.lastProcessedZxid
        for (sessionId, timeoutMs) in sessionTimeouts.sorted(by: { $0.key < $1.key }) {
            sessions.add(sessionId, timeoutMs: timeoutMs, now: now.elapsedMs)
        }
    }

    /// The sessions this replica holds, with their timeouts (for snapshots and SNAP syncs).
    public var sessionTimeouts: [SessionID: Int32] { sessions.sessions.mapValues(\.timeoutMs) }

    // MARK: - Events

    public mutating func connectionOpened(_ id: ConnectionID, address: String, port: Int, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        let fromSameAddress = connectionsByAddress[address, default: 0]
        connections[id] = Connection(id: id, address: address, port: port)
        connectionsByAddress[address, default: 0] += 1
        // The handshake deadline: a ConnectRequest must arrive within this time.
        connectionExpiry.update(id, now: now.elapsedMs, timeoutMs: configuration.sessionlessConnectionTimeoutMs)
        metrics.count(.connectionRequestCount)
        if configuration.maxClientCnxns > 0 && fromSameAddress >= configuration.maxClientCnxns {
            metrics.count(.connectionRejected)
            actions.append(.notice(id, "too many connections from \(address) (maxClientCnxns \(configuration.maxClientCnxns)); closing"))
            close(id)
        }
        return takeActions(now: now)
    }

    /// The connection is gone: its watches go, its session lives on until it expires.
    public mutating func connectionClosed(_ id: ConnectionID, now: ReplicaTime) -> [ReplicaAction] {
        guard let connection = connections.removeValue(forKey: id) else { return [] }
        outstandingRequests -= connection.queue.count
        connectionExpiry.remove(id)
        if let count = connectionsByAddress[connection.address] {
            connectionsByAddress[connection.address] = count > 1 ? count - 1 : nil
        }
        watches.removeWatcher(id)
        if !readOnlySessions.isEmpty, let sessionId = connection.sessionId { readOnlySessions.remove(sessionId) }
        if case .awaitingSession(let sessionId) = connection.phase { connectingSessions[sessionId] = nil }
        if case .awaitingRevalidation(let sessionId) = connection.phase {
            revalidatingSessions[sessionId]?.removeAll { $0 == id }
            if revalidatingSessions[sessionId]?.isEmpty == true { revalidatingSessions[sessionId] = nil }
        }
        if !pendingSyncs.isEmpty {
            for (requestId, waiting) in pendingSyncs where waiting == id { pendingSyncs[requestId] = nil }
        }
        if let sessionId = connection.sessionId, sessions.sessions[sessionId]?.connection == id {
            sessions.bind(sessionId, to: nil)
        }
        if let sessionId = connection.sessionId, localSessions.sessions[sessionId]?.connection == id {
            localSessions.bind(sessionId, to: nil)
        }
        if !upgradingSessions.isEmpty, let sessionId = connection.sessionId, upgradingSessions[sessionId] == id {
            upgradingSessions[sessionId] = nil
        }
        return []
    }

    public mutating func fourLetterWordReceived(_ id: ConnectionID, word: String, now: ReplicaTime) -> [ReplicaAction] {
        let text: String
        if word != "srvr" && !configuration.fourLetterWordWhitelist.contains(word) && !configuration.fourLetterWordWhitelist.contains("*") {
            text = "\(word) is not executed because it is not in the whitelist.\n"
        } else {
            text = fourLetterWordReport(word, now: now)
        }
        return [.sendText(id, text), .closeConnection(id)]
    }

    /// A complete frame from the client (length prefix removed). It joins the frames the
    /// connection holds and is handled as soon as the connection's limits allow
    /// (`Replica+Backpressure`).
    public mutating func frameReceived(_ id: ConnectionID, _ frame: ByteBuffer, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        guard let (phase, negotiatedTimeoutMs) = connections.peek(id, { ($0.phase, $0.negotiatedTimeoutMs) }) else { return [] }
        if case .closed = phase { return [] }
        metrics.count(.bytesReceivedCount, by: Int64(frame.readableBytes + EncodedSize.framePrefix))
        if case .established = phase {
            // Idleness is silence from the client: any frame counts, handled yet or not.
            let timeoutMs = Int64(negotiatedTimeoutMs)
            connectionExpiry.update(id, now: now.elapsedMs, timeoutMs: timeoutMs)
        }
        hold(id, frame)
        pump(id, now: now)
        return takeActions(now: now)
    }

    /// The shell wrote `bytes` of this connection's replies to its socket: they no longer
    /// count against the connection's unsent-bytes limits.
    public mutating func repliesWritten(_ id: ConnectionID, bytes: Int, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        guard connections[id] != nil else { return [] }
        connections[id]!.unsentReplyBytes = max(0, connections[id]!.unsentReplyBytes - bytes)
        drain(id, now: now)
        pump(id, now: now)
        return takeActions(now: now)
    }

    /// The shell made every txn up to `zxid` durable: apply them and release their replies
    /// (standalone), or tell the peer, which acknowledges and commits (ensemble).
    public mutating func logPersisted(upTo zxid: Zxid, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        if peer != nil {
            drivePeer(now: now) { $0.persisted(upTo: zxid, now: now.elapsedMs) }
            return takeActions(now: now)
        }
        durableZxid = max(durableZxid, zxid)
        applyDurable(now: now)
        return takeActions(now: now)
    }

    /// Goes on applying what `logPersisted` made durable, after other events had their turn.
    public mutating func resume(now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        resumeRequested = false
        applyDurable(now: now)
        return takeActions(now: now)
    }

    /// Applies durable txns, at most `appliedChangesPerEventMax` node changes' worth per
    /// event: a mass expiry (thousands of closeSessions deleting their ephemerals) is applied
    /// in slices, with other clients' requests handled between them.
    mutating func applyDurable(now: ReplicaTime) {
        var changes = 0
        while let first = inFlight.first, first.txn.zxid <= durableZxid {
            if changes >= configuration.appliedChangesPerEventMax {
                if !resumeRequested {
                    resumeRequested = true
                    actions.append(.resumeLater)
                }
                return
            }
            inFlight.removeFirst()
            changes += first.txn.body.changedPathsEstimate
            applyCommitted(first.txn, origin: first.connection, now: now)
        }
    }

    /// The log cannot write (disk full, failed fsync). Txns handed to it may or may not be on
    /// disk, so their clients lose the connection (an unknown outcome, as ZooKeeper's clients
    /// know it); later writes are refused with NOTREADONLY while reads go on.
    public mutating func logFailed(now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        writesRefused = true
        let origins = Set(inFlight.compactMap(\.connection))
        inFlight.removeAll()
        for id in origins.sorted() {
            close(id)
            _ = connectionClosed(id, now: now)
        }
        for id in connections.keys.sorted() where connections[id]?.phase.isAwaitingSession == true {
            close(id)
        }
        return takeActions(now: now)
    }

    /// Time passes: expire sessions, close silent connections, and remove empty containers
    /// and expired TTL nodes. Costs what expired, not what exists.
    public mutating func tick(now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        // Closed connections' watches leave the tables a slice per tick.
        if watches.sweepPending { watches.sweep(budget: configuration.watchesSweptPerTick) }
        // Expiry and cleanup are writes: with the log failed they wait for a restart.
        if writesRefused {
            closeIdleConnections(now: now)
            return takeActions(now: now)
        }
        if peer != nil {
            drivePeer(now: now) { $0.tick(now: now.elapsedMs) }
            // Every member expires its own local sessions; only the leader global ones.
            expireLocalSessions(now: now)
            // Only a serving leader expires sessions and removes containers.
            guard isServingLeader else {
                closeIdleConnections(now: now)
                return takeActions(now: now)
            }
        }
        expiring.append(contentsOf: sessions.expired(now: now.elapsedMs))
        var closed = 0
        while closed < configuration.sessionsExpiredPerTickMax, let sessionId = expiring.popFirst() {
            // Touched since it was found expired (a late request) or gone: not closed.
            guard let session = sessions.sessions[sessionId], !session.isClosing, session.deadlineMs <= now.elapsedMs else { continue }
            sessions.markClosing(sessionId)
            log(.info, "session expired", ["sessionId": "0x\(hex(sessionId))", "timeoutMs": "\(session.timeoutMs)"])
            submit(.closeSession, sessionId: sessionId, cxid: 0, ids: [], connection: nil, now: now)
            closed += 1
        }
        closeIdleConnections(now: now)
        if now.elapsedMs - lastContainerCheckMs >= configuration.containerCheckIntervalMs {
            lastContainerCheckMs = now.elapsedMs
            for path in containerCandidates(now: now).prefix(configuration.containerMaxPerMinute) {
                submit(.deleteContainer(path: path), sessionId: 0, cxid: 0, ids: [], connection: nil, now: now)
            }
        }
        return takeActions(now: now)
    }

    /// The actions of the event, after every connection the event unblocked has taken the
    /// frames it may (`Replica+Backpressure`).
    mutating func takeActions(now: ReplicaTime) -> [ReplicaAction] {
        pumpUnblocked(now: now)
        defer { actions = [] }
        return actions
    }

    // MARK: - Write path

    /// Prepares a write and hands its txn to the log.
    @discardableResult
    mutating func submit(_ op: WriteOp, sessionId: SessionID, cxid: Xid, ids: [Id], connection: ConnectionID?, now: ReplicaTime) -> Zxid {
        let zxid = nextZxid()
        let context = PrepareContext(
            sessionId: sessionId, ids: ids, extendedTypesEnabled: configuration.extendedTypesEnabled,
            skipACL: configuration.skipACL)
        let body = pending.prepare(op, tree: tree, context: context, zxid: zxid)
        let header = TxnHeader(clientId: sessionId, cxid: cxid, zxid: zxid, time: now.wallMs, type: txnType(op, body))
        appendTxn(Txn(header: header, body: body), connection: connection, now: now)
        return zxid
    }

    /// The zxid the next prepared txn gets: counting on from the log when standalone, the
    /// leader's next one in an ensemble (only a serving leader prepares).
    mutating func nextZxid() -> Zxid {
        guard let peer else {
            lastPreparedZxid += 1
            return lastPreparedZxid
        }
        guard let zxid = peer.nextZxid else { preconditionFailure("txn prepared while not a serving leader: \(peer.state)") }
        return zxid
    }

    mutating func appendTxn(_ txn: Txn, connection: ConnectionID?, now: ReplicaTime) {
        if peer != nil {
            metrics.count(.proposalCount)
            var txn = txn
            if configuration.digestEnabled { txn.digest = digests.project(txn, tree: tree) }
            drivePeer(now: now) { [txn] in $0.propose(txn, now: now.elapsedMs) }
            return
        }
        inFlight.append((txn, connection))
        actions.append(.appendLog(txn))
    }

    /// The header type ZooKeeper logs: create2 is logged as create2, failures as error.
    func txnType(_ op: WriteOp, _ body: TxnBody) -> Int32 {
        if case .error = body { return OpCode.error.rawValue }
        if case .create(let opCode, _, _, _, _, _) = op, opCode == .create2 { return OpCode.create2.rawValue }
        return body.type.rawValue
    }

    /// Closes the connections whose deadline passed: no ConnectRequest within
    /// `sessionlessConnectionTimeoutMs`, no session established within the negotiated
    /// timeout, or silence for the session timeout (the session may still be resumed).
    mutating func closeIdleConnections(now: ReplicaTime) {
        for id in connectionExpiry.poll(now: now.elapsedMs) {
            guard let phase = connections[id]?.phase else { continue }
            if case .closed = phase { continue }
            if case .awaitingConnect = phase { metrics.count(.sessionlessConnectionsExpired) }
            close(id)
            _ = connectionClosed(id, now: now)
        }
    }

    func containerCandidates(now: ReplicaTime) -> [String] {
        var candidates: [String] = []
        for path in tree.containers where pending.records[path]?.exists != false {
            guard let node = tree.node(path), node.children.isEmpty else { continue }
            let neverUsedExpired = configuration.containerMaxNeverUsedIntervalMs > 0
                && now.wallMs - node.mtime > configuration.containerMaxNeverUsedIntervalMs
            if node.cversion > 0 || neverUsedExpired { candidates.append(path) }
        }
        for path in tree.ttls where pending.records[path]?.exists != false {
            guard let node = tree.node(path), node.children.isEmpty,
                let ttl = EphemeralOwner.ttlValue(node.ephemeralOwner), now.wallMs - node.mtime > ttl
            else { continue }
            candidates.append(path)
        }
        return candidates.sorted()
    }
}
