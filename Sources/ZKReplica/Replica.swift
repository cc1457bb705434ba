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
    var connections: [ConnectionID: Connection] = [:]
    /// Txns handed to the log and not applied yet, in zxid order, with the connection that asked.
    var inFlight: Deque<(txn: Txn, connection: ConnectionID?)> = []
    var lastPreparedZxid: Zxid = 0
    var lastContainerCheckMs: Int64 = 0
    var actions: [ReplicaAction] = []
    public internal(set) var stats = ServerStats()
    let startedAtMs: Int64
    /// Set once the log failed (disk full, fsync error): writes are refused from then on,
    /// reads go on. Only a restart clears it.
    public internal(set) var writesRefused = false
    /// Bytes in the snapshot and log directories, refreshed by the shell before a four-letter
    /// word runs (`dirs`, `conf`).
    public var directorySizes: (snapshotBytes: Int64, logBytes: Int64) = (0, 0)
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
    /// Ensemble: client `sync`s waiting for the leader, by request id.
    var pendingSyncs: [UInt64: ConnectionID] = [:]
    var nextSyncRequestId: UInt64 = 1
    /// When not nil, every applied txn is recorded here for the simulator's checkers, which
    /// take the records after each event. Off in servers.
    public var appliedRecord: [AppliedRecord]?
    static let digestHistoryInterval: Int64 = 128
    static let digestHistoryMax = 1024

    public init(configuration: ReplicaConfiguration, now: Int64, monotonicMs: Int64) {
        self.configuration = configuration
        self.sessions = SessionTable(
            serverId: configuration.serverId, monotonicMs: monotonicMs, tickTimeMs: configuration.tickTimeMs)
        self.startedAtMs = now
        self.lastContainerCheckMs = now
    }

    /// A replica resuming a recovered state: the tree as of its last zxid and the sessions
    /// alive then, whose expiry clocks start again now.
    public init(configuration: ReplicaConfiguration, now: Int64, monotonicMs: Int64, tree: DataTree, sessionTimeouts: [SessionID: Int32]) {
        self.init(configuration: configuration, now: now, monotonicMs: monotonicMs)
        self.tree = tree
        self.lastPreparedZxid = tree.lastProcessedZxid
        for (sessionId, timeoutMs) in sessionTimeouts.sorted(by: { $0.key < $1.key }) {
            sessions.add(sessionId, timeoutMs: timeoutMs, now: now)
        }
    }

    /// The sessions this replica holds, with their timeouts (for snapshots and SNAP syncs).
    public var sessionTimeouts: [SessionID: Int32] { sessions.sessions.mapValues(\.timeoutMs) }

    // MARK: - Events

    public mutating func connectionOpened(_ id: ConnectionID, address: String, port: Int, now: Int64) -> [ReplicaAction] {
        let fromSameAddress = connections.values.lazy.filter { $0.address == address }.count
        connections[id] = Connection(id: id, address: address, port: port, now: now)
        if configuration.maxClientCnxns > 0 && fromSameAddress >= configuration.maxClientCnxns {
            return [.closeConnection(id)]
        }
        return []
    }

    /// The connection is gone: its watches go, its session lives on until it expires.
    public mutating func connectionClosed(_ id: ConnectionID, now: Int64) -> [ReplicaAction] {
        guard let connection = connections.removeValue(forKey: id) else { return [] }
        watches.removeWatcher(id)
        if case .awaitingSession(let sessionId) = connection.phase { connectingSessions[sessionId] = nil }
        for (requestId, waiting) in pendingSyncs where waiting == id { pendingSyncs[requestId] = nil }
        if let sessionId = connection.sessionId, sessions.sessions[sessionId]?.connection == id {
            sessions.bind(sessionId, to: nil)
        }
        return []
    }

    public mutating func fourLetterWordReceived(_ id: ConnectionID, word: String, now: Int64) -> [ReplicaAction] {
        let text: String
        if word != "srvr" && !configuration.fourLetterWordWhitelist.contains(word) && !configuration.fourLetterWordWhitelist.contains("*") {
            text = "\(word) is not executed because it is not in the whitelist.\n"
        } else {
            text = fourLetterWordReport(word, now: now)
        }
        return [.sendText(id, text), .closeConnection(id)]
    }

    /// A complete frame from the client (length prefix removed).
    public mutating func frameReceived(_ id: ConnectionID, _ frame: ByteBuffer, now: Int64) -> [ReplicaAction] {
        guard let connection = connections[id] else { return [] }
        actions = []
        switch connection.phase {
        case .awaitingConnect:
            connections[id]?.lastReceivedMs = now
            handleConnect(id, frame, now: now)
        case .awaitingSession, .awaitingRevalidation:
            connections[id]?.earlyFrames.append(frame)
        case .established(let sessionId):
            connections[id]?.lastReceivedMs = now
            handleRequest(id, sessionId: sessionId, frame, now: now)
        case .closed:
            break
        }
        return takeActions()
    }

    /// The shell made every txn up to `zxid` durable: apply them and release their replies
    /// (standalone), or tell the peer, which acknowledges and commits (ensemble).
    public mutating func logPersisted(upTo zxid: Zxid, now: Int64) -> [ReplicaAction] {
        actions = []
        if peer != nil {
            drivePeer(now: now) { $0.persisted(upTo: zxid, now: now) }
            return takeActions()
        }
        while let first = inFlight.first, first.txn.zxid <= zxid {
            inFlight.removeFirst()
            applyCommitted(first.txn, origin: first.connection, now: now)
        }
        return takeActions()
    }

    /// The log cannot write (disk full, failed fsync). Txns handed to it may or may not be on
    /// disk, so their clients lose the connection (an unknown outcome, as ZooKeeper's clients
    /// know it); later writes are refused with NOTREADONLY while reads go on.
    public mutating func logFailed(now: Int64) -> [ReplicaAction] {
        actions = []
        writesRefused = true
        let origins = Set(inFlight.compactMap(\.connection))
        inFlight.removeAll()
        for id in origins.sorted() {
            close(id)
            _ = connectionClosed(id, now: now)
        }
        for connection in connections.values where connection.phase.isAwaitingSession {
            close(connection.id)
        }
        return takeActions()
    }

    /// Time passes: expire sessions and remove empty containers and expired TTL nodes.
    public mutating func tick(now: Int64) -> [ReplicaAction] {
        actions = []
        // Expiry and cleanup are writes: with the log failed they wait for a restart.
        if writesRefused {
            closeIdleConnections(now: now)
            return takeActions()
        }
        if peer != nil {
            drivePeer(now: now) { $0.tick(now: now) }
            // Only a serving leader expires sessions and removes containers.
            guard isServingLeader else {
                closeIdleConnections(now: now)
                return takeActions()
            }
        }
        for sessionId in sessions.expired(now: now) {
            sessions.markClosing(sessionId)
            submit(.closeSession, sessionId: sessionId, cxid: 0, ids: [], connection: nil, now: now)
        }
        closeIdleConnections(now: now)
        if now - lastContainerCheckMs >= configuration.containerCheckIntervalMs {
            lastContainerCheckMs = now
            for path in containerCandidates(now: now).prefix(configuration.containerMaxPerMinute) {
                submit(.deleteContainer(path: path), sessionId: 0, cxid: 0, ids: [], connection: nil, now: now)
            }
        }
        return takeActions()
    }

    mutating func takeActions() -> [ReplicaAction] {
        defer { actions = [] }
        return actions
    }

    // MARK: - Write path

    /// Prepares a write and hands its txn to the log.
    @discardableResult
    mutating func submit(_ op: WriteOp, sessionId: SessionID, cxid: Xid, ids: [Id], connection: ConnectionID?, now: Int64) -> Zxid {
        let zxid = nextZxid()
        let context = PrepareContext(
            sessionId: sessionId, ids: ids, extendedTypesEnabled: configuration.extendedTypesEnabled,
            skipACL: configuration.skipACL)
        let body = pending.prepare(op, tree: tree, context: context, zxid: zxid)
        appendTxn(Txn(header: TxnHeader(clientId: sessionId, cxid: cxid, zxid: zxid, time: now, type: txnType(op, body)), body: body), connection: connection, now: now)
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

    mutating func appendTxn(_ txn: Txn, connection: ConnectionID?, now: Int64) {
        if peer != nil {
            drivePeer(now: now) { $0.propose(txn, now: now) }
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

    /// A connection without a handshake gets `sessionlessConnectionTimeoutMs`; an established
    /// one is closed when silent for its session timeout (its session may still be resumed).
    mutating func closeIdleConnections(now: Int64) {
        for connection in connections.values.sorted(by: { $0.id < $1.id }) {
            let limit: Int64
            switch connection.phase {
            case .awaitingConnect: limit = configuration.sessionlessConnectionTimeoutMs
            case .established: limit = Int64(connection.negotiatedTimeoutMs)
            case .awaitingSession, .awaitingRevalidation, .closed: continue
            }
            if now - connection.lastReceivedMs > limit {
                close(connection.id)
                _ = connectionClosed(connection.id, now: now)
            }
        }
    }

    func containerCandidates(now: Int64) -> [String] {
        var candidates: [String] = []
        for path in tree.containers where pending.records[path]?.exists != false {
            guard let node = tree.node(path), node.children.isEmpty else { continue }
            let neverUsedExpired = configuration.containerMaxNeverUsedIntervalMs > 0
                && now - node.mtime > configuration.containerMaxNeverUsedIntervalMs
            if node.cversion > 0 || neverUsedExpired { candidates.append(path) }
        }
        for path in tree.ttls where pending.records[path]?.exists != false {
            guard let node = tree.node(path), node.children.isEmpty,
                let ttl = EphemeralOwner.ttlValue(node.ephemeralOwner), now - node.mtime > ttl
            else { continue }
            candidates.append(path)
        }
        return candidates.sorted()
    }
}
