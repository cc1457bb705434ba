import NIOCore
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKWire

/// The replica as an ensemble member. The peer decides what is committed; the replica
/// serves clients on top of it:
/// * every write (createSession and closeSession included) goes to the leader as a
///   REQUEST, even on the leader itself; only a serving leader prepares and stamps txns
///   and proposes them;
/// * every member applies what its peer commits, in zxid order, and answers its own
///   clients when the txn with their session and xid is applied, so replies keep each
///   session's order;
/// * sessions belong to the leader: it expires them (closeSession txns), learners report
///   their clients' touches in PING answers and ask it (REVALIDATE) before a client
///   resumes a session with them;
/// * a member that is not serving (electing, syncing) closes its clients' connections.
extension Replica {
    /// A member of an ensemble, resuming what recovery found on its disk: the tree and
    /// sessions as of its last logged zxid, with `durable`'s log the txns after its snapshot.
    public init(
        configuration: ReplicaConfiguration, peerConfiguration: PeerConfiguration, durable: PeerDurableState,
        tree: DataTree, sessionTimeouts: [SessionID: Int32], now: ReplicaTime, monotonicMs: Int64
    ) {
        precondition(configuration.serverId == peerConfiguration.me, "replica server id \(configuration.serverId) is not the peer's \(peerConfiguration.me)")
        self.init(configuration: configuration, now: now, monotonicMs: monotonicMs, tree: tree, sessionTimeouts: sessionTimeouts)
        peer = Peer(configuration: peerConfiguration, durable: durable, now: now.elapsedMs)
        // A member starts by looking for a leader.
        metrics.count(.lookingCount)
        lookingSinceMs = now.elapsedMs
    }

    /// Clients are served only in ZAB's broadcast phase (ZooKeeper starts its request
    /// pipeline after NEWLEADER/UPTODATE); standalone always.
    public var isServing: Bool { peer.map { $0.phase == .broadcast } ?? true }

    var isServingLeader: Bool { peer.map { $0.state == .leading && $0.phase == .broadcast } ?? true }

    // MARK: - Events from the quorum shell

    /// A message from another member.
    public mutating func peerMessageReceived(_ message: PeerMessage, from sender: ServerID, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        guard peer != nil else { return [] }
        if case .proposal(let txn) = message {
            metrics.count(.learnerProposalReceivedCount)
            let latency = now.wallMs - txn.header.time
            if latency >= 0 { metrics.observe(.proposalLatency, latency) }
        }
        if case .commit = message, peer?.state != .leading { metrics.count(.learnerCommitReceivedCount) }
        switch message {
        case .request(let request):
            if isServingLeader { leaderPrepare(request, from: sender, now: now) }
        case .revalidate(let sessionId, let timeoutMs):
            guard isServingLeader else { break }
            let valid = sessions.sessions[sessionId].map { !$0.isClosing } ?? false
            if valid {
                // The session now lives on that learner: requests from its old one get SESSIONMOVED.
                sessionOwners[sessionId] = sender
                sessions.setTimeout(sessionId, timeoutMs: timeoutMs)
                sessions.touch(sessionId, now: now.elapsedMs)
            }
            actions.append(.peer(.send(to: sender, .revalidateReply(sessionId: sessionId, valid: valid))))
        case .revalidateReply(let sessionId, let valid):
            revalidated(sessionId, valid: valid, now: now)
        default:
            if case .ping(_, let touches) = message, isServingLeader {
                for touch in touches { sessions.touch(touch.sessionId, now: now.elapsedMs) }
            }
            drivePeer(now: now) { $0.receive(message, from: sender, now: now.elapsedMs) }
        }
        return takeActions(now: now)
    }

    /// The quorum connection to `member` broke.
    public mutating func peerConnectionLost(_ member: ServerID, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        drivePeer(now: now) { $0.connectionLost(to: member, now: now.elapsedMs) }
        return takeActions(now: now)
    }

    /// The shell's answer to `.peer(.readLogForLearner)`: its on-disk log from the learner's
    /// point on, or nil when it cannot sync the learner from there (SNAP follows).
    public mutating func logRead(for learner: ServerID, txns: [Txn]?, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        drivePeer(now: now) { $0.logRead(for: learner, txns: txns, now: now.elapsedMs) }
        return takeActions(now: now)
    }

    /// After `.peer(.truncateLog(to:))` the shell reloaded the state its disk holds up to
    /// that zxid (snapshot and the log that is left).
    public mutating func stateReloaded(tree: DataTree, sessionTimeouts: [SessionID: Int32], now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        replaceState(tree: tree, sessionTimeouts: sessionTimeouts, now: now)
        return takeActions(now: now)
    }

    // MARK: - Carrying out the peer's decisions

    /// Hands one event to the peer and carries out what it decides. The peer leaves `self`
    /// while it runs so that its log stays uniquely referenced (no copy on write).
    mutating func drivePeer(now: ReplicaTime, _ event: (inout Peer) -> [PeerAction]) {
        guard var peer else { return }
        self.peer = nil
        let peerActions = event(&peer)
        self.peer = peer
        run(peerActions, now: now)
    }

    mutating func run(_ peerActions: [PeerAction], now: ReplicaTime) {
        for action in peerActions {
            switch action {
            case .send(let to, .ping(let round, _)) where peer?.state != .leading:
                // A learner's PING answer reports its clients' sessions to the leader.
                let touches = touchedSessions.sorted { $0.key < $1.key }.map { SessionTouch(sessionId: $0.key, timeoutMs: $0.value) }
                touchedSessions = [:]
                actions.append(.peer(.send(to: to, .ping(zxid: round, touches: touches))))
            case .send(let to, .syncRequest(let requestId, nil)):
                actions.append(.peer(.send(to: to, .syncRequest(requestId: requestId, origin: syncOrigin(requestId)))))
            case .send(_, let message):
                if case .diff = message { metrics.count(.diffCount) }
                if case .snap = message { metrics.count(.snapCount) }
                actions.append(.peer(action))
            case .persistAcceptedEpoch, .persistCurrentEpoch, .closeConnection, .truncateLog, .notice, .readLogForLearner:
                actions.append(.peer(action))
            case .persistTxns(let txns):
                for txn in txns { actions.append(.appendLog(txn)) }
            case .installSnapshot(_, let snapshot):
                replaceState(tree: snapshot.tree, sessionTimeouts: snapshot.sessions, now: now)
                actions.append(.peer(action))
            case .takeSnapshotForLearner(let learner):
                let snapshot = SyncSnapshot(tree: tree, sessions: sessionTimeouts)
                drivePeer(now: now) { $0.snapshotReady(for: learner, zxid: snapshot.tree.lastProcessedZxid, snapshot: snapshot, now: now.elapsedMs) }
            case .apply(let txn):
                // A member that stops serving applies its whole log first (ZooKeeper's
                // fast-forward), committed or not: those txns answer nobody.
                applyCommitted(txn, origin: isServing ? origin(of: txn) : nil, now: now)
            case .syncDone(let requestId, _):
                syncFinished(requestId, now: now)
            case .syncFailed(let requestId):
                if let id = pendingSyncs.removeValue(forKey: requestId) { dropClient(id, now: now) }
            case .roleChanged:
                roleChanged(now: now)
            }
        }
    }

    /// The local connection waiting for this committed txn, if any: the one that asked for
    /// the session (createSession), else the session's connection here if it forwarded this
    /// request. A closeSession it did not ask for (the leader's expiry, a close sent through
    /// another member) has no origin here, so applying it closes that connection, as
    /// ZooKeeper's FinalRequestProcessor does for a close without a local connection.
    mutating func origin(of txn: Txn) -> ConnectionID? {
        if case .createSession = txn.body { return connectingSessions.removeValue(forKey: txn.header.clientId) }
        guard let id = sessions.sessions[txn.header.clientId]?.connection ?? localSessions.sessions[txn.header.clientId]?.connection
        else { return nil }
        let isClose: Bool
        if case .closeSession = txn.body { isClose = true } else { isClose = false }
        let asked = connections[id]?.queue.contains { entry in
            guard case .forwarded = entry.state, entry.xid == txn.header.cxid else { return false }
            return !isClose || entry.opCode == .closeSession
        } ?? false
        return asked ? id : nil
    }

    /// Serving or not, the member starts afresh with its clients: connections opened under
    /// another role are closed (their clients reconnect, as ZooKeeper's do after an
    /// election), and a new leader restarts every session's expiry clock.
    mutating func roleChanged(now: ReplicaTime) {
        roleSinceMs = now.elapsedMs
        var fields = ["role": modeName, "zxid": "0x\(hex(tree.lastProcessedZxid))"]
        if let leader = peer?.leaderId { fields["leader"] = "\(leader)" }
        var message = isServing ? "serving" : "role changed"
        if peer?.state == .looking {
            metrics.count(.lookingCount)
            lookingSinceMs = now.elapsedMs
            message = "looking for a leader"
        } else if let since = lookingSinceMs {
            metrics.observe(.electionTime, now.elapsedMs - since)
            fields["electionMs"] = "\(now.elapsedMs - since)"
            lookingSinceMs = nil
            syncingSinceMs = now.elapsedMs
            message = "election done"
        } else if isServing, let since = syncingSinceMs {
            // A learner's sync with its leader, from the election's end to UPTODATE.
            if peer?.state == .following { metrics.observe(.followerSyncTime, now.elapsedMs - since) }
            if peer?.state == .observing { metrics.observe(.observerSyncTime, now.elapsedMs - since) }
            fields["syncMs"] = "\(now.elapsedMs - since)"
            syncingSinceMs = nil
        }
        log(.notice, message, fields)
        for id in connections.keys.sorted() { dropClient(id, now: now) }
        readOnlySessions = []
        forgetLocalSessions(now: now)
        sessionsBeingCreated = []
        sessionOwners = [:]
        pending = PendingChanges()
        digests = DigestProjection()
        pendingSyncs = [:]
        connectingSessions = [:]
        revalidatingSessions = [:]
        touchedSessions = [:]
        if isServingLeader { sessions.restartClocks(now: now.elapsedMs) }
    }

    mutating func dropClient(_ id: ConnectionID, now: ReplicaTime) {
        close(id)
        _ = connectionClosed(id, now: now)
    }

    mutating func replaceState(tree: DataTree, sessionTimeouts: [SessionID: Int32], now: ReplicaTime) {
        self.tree = tree
        if appliedRecord != nil { appliedRecord?.append(.stateReplaced(zxid: tree.lastProcessedZxid)) }
        pending = PendingChanges()
        digests = DigestProjection()
        sessions.replaceAll(with: sessionTimeouts, now: now.elapsedMs)
    }

    // MARK: - Client requests in an ensemble

    /// A write from a client of this member: queued in its connection's FIFO and handed to
    /// the leader, which answers by committing a txn with this session and xid.
    mutating func forwardWrite(
        _ id: ConnectionID, sessionId: SessionID, xid: Xid, opCode: OpCode, _ frame: ByteBuffer, multiOpCodes: [OpCode] = [], now: ReplicaTime
    ) {
        if opCode == .closeSession, !beginClose(id, sessionId: sessionId, xid: xid, now: now) { return }
        var body = frame
        body.moveReaderIndex(forwardBy: min(8, body.readableBytes))  // the client's xid and type
        var entry = PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .forwarded)
        entry.multiOpCodes = multiOpCodes
        enqueue(id, entry, now: now)
        let request = ForwardedRequest(
            sessionId: sessionId, cxid: xid, type: opCode.rawValue, body: Array(body.readableBytesView), authIds: connections[id]?.ids ?? [])
        forward(request, now: now)
    }

    /// To the leader: prepared here when this member leads, sent as REQUEST otherwise.
    mutating func forward(_ request: ForwardedRequest, now: ReplicaTime) {
        // Read without keeping a copy of the peer: preparing below changes it, and a copy
        // alive then made that change copy the peer's log and tables.
        guard let (phase, leaderId, me) = peer.map({ ($0.phase, $0.leaderId, $0.configuration.me) }),
            phase == .broadcast, let leader = leaderId
        else { return }
        if leader == me {
            leaderPrepare(request, from: leader, now: now)
        } else {
            actions.append(.peer(.send(to: leader, .request(request))))
        }
    }

    /// The leader turns a forwarded request into a txn, as ZooKeeper's prep stage does: the
    /// session must be live and not closing, the request must decode, and every failure is
    /// an error txn that consumes a zxid.
    mutating func leaderPrepare(_ request: ForwardedRequest, from sender: ServerID, now: ReplicaTime) {
        let sessionId = request.sessionId
        func proposeError(_ code: ErrorCode) {
            let header = TxnHeader(clientId: sessionId, cxid: request.cxid, zxid: nextZxid(), time: now.wallMs, type: OpCode.error.rawValue)
            appendTxn(Txn(header: header, body: .error(code)), connection: nil, now: now)
        }
        if request.type == OpCode.createSession.rawValue {
            var reader = JuteReader(ByteBuffer(bytes: request.body), lengthMax: Int32(configuration.frameBytesMax))
            guard let timeoutMs = try? reader.readInt(), sessions.sessions[sessionId] == nil, !sessionsBeingCreated.contains(sessionId) else { return }
            sessionOwners[sessionId] = sender
            sessionsBeingCreated.insert(sessionId)
            submit(.createSession(timeoutMs: timeoutMs), sessionId: sessionId, cxid: 0, ids: [], connection: nil, now: now)
            return
        }
        let isClose = request.type == OpCode.closeSession.rawValue
        if let session = sessions.sessions[sessionId] {
            guard isClose || !session.isClosing else { return proposeError(.sessionExpired) }
            // ZooKeeper's owner check: a session reattached on another member (REVALIDATE
            // made that member its owner) refuses requests still coming through the old one.
            // A new leader knows no owners; the first member to send for a session claims it.
            if let owner = sessionOwners[sessionId], owner != sender { return proposeError(.sessionMoved) }
            sessionOwners[sessionId] = sender
            sessions.touch(sessionId, now: now.elapsedMs)
        } else if !sessionsBeingCreated.contains(sessionId) && (isClose || !leaderAcceptsLocalSession(sessionId)) {
            // A session whose createSession is prepared (an upgrade, pipelined with the
            // requests that needed it) is live already, as in ZooKeeper's prep stage.
            return proposeError(.sessionExpired)
        }
        var reader = JuteReader(ByteBuffer(bytes: request.body), lengthMax: Int32(configuration.frameBytesMax))
        guard let decoded = try? Request.decode(type: request.type, from: &reader)
        else { return proposeError(.marshallingError) }
        if case .reconfig = decoded { return proposeError(configuration.reconfigEnabled ? .unimplemented : .reconfigDisabled) }
        guard let op = writeOp(for: decoded) else { return proposeError(.marshallingError) }
        if isClose { sessions.markClosing(sessionId) }
        submit(op, sessionId: sessionId, cxid: request.cxid, ids: request.authIds, connection: nil, now: now)
    }

    /// A new session asked for on this member: the leader creates it with a txn.
    mutating func requestSession(_ id: ConnectionID, timeoutMs: Int32, now: ReplicaTime) {
        let sessionId = sessions.allocateId()
        connections[id]?.phase = .awaitingSession(sessionId)
        connectingSessions[sessionId] = id
        var writer = JuteWriter()
        writer.writeInt(timeoutMs)
        let request = ForwardedRequest(
            sessionId: sessionId, cxid: 0, type: OpCode.createSession.rawValue, body: Array(writer.buffer.readableBytesView), authIds: [])
        forward(request, now: now)
    }

    /// A learner asks the leader whether the session may be resumed here. The answer comes
    /// on the link that carries commits, after the session's createSession if it exists.
    mutating func requestRevalidation(_ id: ConnectionID, sessionId: SessionID, timeoutMs: Int32) {
        guard let leader = peer?.leaderId else { return close(id) }
        connections[id]?.phase = .awaitingRevalidation(sessionId)
        revalidatingSessions[sessionId, default: []].append(id)
        metrics.count(.revalidateCount)
        actions.append(.peer(.send(to: leader, .revalidate(sessionId: sessionId, timeoutMs: timeoutMs))))
    }

    mutating func revalidated(_ sessionId: SessionID, valid: Bool, now: ReplicaTime) {
        let waiting = (revalidatingSessions.removeValue(forKey: sessionId) ?? []).filter {
            if case .awaitingRevalidation(sessionId)? = connections[$0]?.phase { return true } else { return false }
        }
        for id in waiting {
            guard valid, let session = sessions.sessions[sessionId], !session.isClosing else {
                send(.sendConnectResponse(id, .invalid(readOnly: connections[id]?.readOnlyByte)))
                close(id)
                continue
            }
            resume(id, session: session, now: now)
        }
    }

    /// A client `sync`: answered, as a read, once this member applied what the leader had
    /// when a quorum still confirmed it.
    /// The client's session, xid and path behind a forwarded sync.
    func syncOrigin(_ requestId: UInt64) -> SyncOrigin? {
        guard let id = pendingSyncs[requestId], let connection = connections[id], let sessionId = connection.sessionId else { return nil }
        for entry in connection.queue {
            guard case .awaitingSync(requestId, let request) = entry.state else { continue }
            guard case .sync(let path) = request else { return nil }
            return SyncOrigin(sessionId: sessionId, cxid: entry.xid, path: path)
        }
        return nil
    }

    mutating func startSync(_ id: ConnectionID, xid: Xid, _ request: Request, now: ReplicaTime) {
        let requestId = nextSyncRequestId
        nextSyncRequestId += 1
        pendingSyncs[requestId] = id
        enqueue(id, PendingRequest(xid: xid, opCode: .sync, receivedAtMs: now.elapsedMs, state: .awaitingSync(requestId: requestId, request)), now: now)
        drivePeer(now: now) { $0.sync(requestId, now: now.elapsedMs) }
    }

    mutating func syncFinished(_ requestId: UInt64, now: ReplicaTime) {
        guard let id = pendingSyncs.removeValue(forKey: requestId),
            let index = connections[id]?.queue.firstIndex(where: {
                if case .awaitingSync(let waiting, _) = $0.state { return waiting == requestId } else { return false }
            }),
            case .awaitingSync(_, let request) = connections[id]!.queue[index].state
        else { return }
        connections[id]!.queue[index].state = .read(request)
        drain(id, now: now)
    }
}
