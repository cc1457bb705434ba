import ZKConsensus
import ZKModel
import ZKWire

/// Local sessions (`localSessionsEnabled`, ensemble only), as ZooKeeper's learner and leader
/// session trackers keep them:
/// * a new session is created on the member the client connected to, without a txn, and
///   is answered at once; it is known to that member only, which expires it itself and
///   never reports its touches to the leader;
/// * it can be resumed on that member only: elsewhere the leader does not know it, so the
///   client learns its session expired;
/// * its writes go to the leader as anyone's (the leader accepts an unknown session whose
///   id was made by another member), and its closeSession is answered here, logging nothing;
/// * before its first create of an ephemeral node (alone or in a multi) it is upgraded
///   (`localSessionsUpgradingEnabled`): a createSession for the same id goes to the leader
///   ahead of that create and the session is global from then on; without upgrading the
///   create fails with EPHEMERALONLOCALSESSION.
/// A role change ends every local session, as ZooKeeper's restarted server forgets them.
extension Replica {
    var createsLocalSessions: Bool { peer != nil && configuration.localSessionsEnabled }

    func isLocalSession(_ sessionId: SessionID) -> Bool { localSessions.sessions[sessionId] != nil }

    /// A new session, local to this member.
    mutating func createLocalSession(_ id: ConnectionID, timeoutMs: Int32, now: ReplicaTime) {
        var sessionId = sessions.allocateId()
        while isLocalSession(sessionId) { sessionId = sessions.allocateId() }
        localSessions.add(sessionId, timeoutMs: timeoutMs, now: now.elapsedMs)
        localSessions.bind(sessionId, to: id)
        establish(id, sessionId: sessionId, timeoutMs: timeoutMs, passwd: SessionTable.password(for: sessionId), now: now)
    }

    /// A client resuming a session local to this member (other connections of the session
    /// are already closed).
    mutating func resumeLocalSession(_ id: ConnectionID, _ request: ConnectRequest, now: ReplicaTime) {
        let sessionId = request.sessionId
        guard let session = localSessions.sessions[sessionId], session.passwd == request.passwd else {
            send(.sendConnectResponse(id, .invalid(readOnly: request.readOnly)))
            close(id)
            return
        }
        let timeoutMs = connections[id]?.negotiatedTimeoutMs ?? session.timeoutMs
        localSessions.setTimeout(sessionId, timeoutMs: timeoutMs)
        localSessions.touch(sessionId, now: now.elapsedMs)
        localSessions.bind(sessionId, to: id)
        establish(id, sessionId: sessionId, timeoutMs: timeoutMs, passwd: session.passwd, now: now)
    }

    /// closeSession of a local session: nothing to log, it just ends (after the replies
    /// queued ahead of it).
    mutating func closeLocalSession(_ id: ConnectionID, sessionId: SessionID, xid: Xid, now: ReplicaTime) {
        localSessions.remove(sessionId)
        enqueue(id, PendingRequest(xid: xid, opCode: .closeSession, receivedAtMs: now.elapsedMs, state: .done(
            ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: 0), .none, closeAfter: true)), now: now)
    }

    /// Local sessions whose deadline passed: their connections are closed, and a client
    /// coming back learns the session expired.
    mutating func expireLocalSessions(now: ReplicaTime) {
        for sessionId in localSessions.expired(now: now.elapsedMs) {
            let connection = localSessions.sessions[sessionId]?.connection
            localSessions.remove(sessionId)
            guard let connection else { continue }
            close(connection)
            _ = connectionClosed(connection, now: now)
        }
    }

    /// Whether the request creates an ephemeral node, the one thing a local session cannot
    /// do (ZooKeeper's `checkUpgradeSession` looks at create, create2 and multi).
    static func createsEphemeral(_ request: Request) -> Bool {
        func ephemeral(_ create: CreateRequest) -> Bool {
            (create.opCode == .create || create.opCode == .create2) && CreateMode(rawValue: create.flags)?.isEphemeral == true
        }
        switch request {
        case .create(let create): return ephemeral(create)
        case .multi(let ops):
            return ops.contains { if case .create(let create) = $0 { return ephemeral(create) } else { return false } }
        default: return false
        }
    }

    /// Makes the local session global: a createSession with its id and timeout goes to the
    /// leader ahead of the request that needs it. The connection is bound to the global
    /// session once that txn is applied here.
    mutating func upgradeLocalSession(_ id: ConnectionID, sessionId: SessionID, now: ReplicaTime) {
        guard let session = localSessions.sessions[sessionId] else { return }
        localSessions.remove(sessionId)
        upgradingSessions[sessionId] = id
        var writer = JuteWriter()
        writer.writeInt(session.timeoutMs)
        let request = ForwardedRequest(
            sessionId: sessionId, cxid: 0, type: OpCode.createSession.rawValue, body: Array(writer.buffer.readableBytesView), authIds: [])
        forward(request, now: now)
    }

    /// The leader takes requests from a session it does not hold globally when it may be
    /// local: made by another member, or local to (or being upgraded on) the leader itself.
    /// ZooKeeper's leader session tracker lets them through the same way.
    func leaderAcceptsLocalSession(_ sessionId: SessionID) -> Bool {
        guard configuration.localSessionsEnabled, let me = peer?.configuration.me else { return false }
        return sessionId >> 56 != me || isLocalSession(sessionId) || upgradingSessions[sessionId] != nil
    }

    /// A local session's upgrade was applied: the global session is carried by the
    /// connection that asked for it.
    mutating func upgradeApplied(_ sessionId: SessionID) {
        guard let id = upgradingSessions.removeValue(forKey: sessionId), connections[id]?.sessionId == sessionId else { return }
        sessions.bind(sessionId, to: id)
    }

    /// A role change: every local session ends.
    mutating func forgetLocalSessions(now: ReplicaTime) {
        localSessions.replaceAll(with: [:], now: now.elapsedMs)
        upgradingSessions = [:]
    }
}
