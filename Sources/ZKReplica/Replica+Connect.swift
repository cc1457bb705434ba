import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

extension Replica {
    /// The first frame must be a ConnectRequest (`ZooKeeperServer.processConnectRequest`).
    mutating func handleConnect(_ id: ConnectionID, _ frame: ByteBuffer, now: ReplicaTime) {
        var reader = JuteReader(frame, lengthMax: Int32(configuration.frameBytesMax))
        guard let request = try? ConnectRequest.decode(from: &reader) else {
            close(id)
            return
        }
        connections[id]?.readOnlyByte = request.readOnly
        // An ensemble member that is electing or syncing serves nobody (the client tries
        // another), except read-only clients in read-only mode.
        // `leaderServes=no`: the leader leaves clients to the other members.
        if !configuration.leaderServes, peer?.state == .leading { return close(id) }
        guard isServing else {
            guard request.readOnly == true, servesReadOnly(now: now) else { return close(id) }
            let timeout = min(max(request.timeOut, configuration.minSessionTimeoutMs), configuration.maxSessionTimeoutMs)
            connections[id]?.negotiatedTimeoutMs = timeout
            return connectReadOnly(id, request, timeoutMs: timeout, now: now)
        }
        // A client that has seen a newer state than ours must try another server.
        if request.lastZxidSeen > tree.lastProcessedZxid {
            close(id)
            return
        }
        let timeout = min(max(request.timeOut, configuration.minSessionTimeoutMs), configuration.maxSessionTimeoutMs)
        connections[id]?.negotiatedTimeoutMs = timeout
        // The session must be established (or resumed) within its own timeout.
        connectionExpiry.update(id, now: now.elapsedMs, timeoutMs: Int64(timeout))
        if request.sessionId == 0 {
            // A new session is a write; with the log failed the client must try elsewhere.
            if writesRefused {
                close(id)
                return
            }
            if createsLocalSessions { return createLocalSession(id, timeoutMs: timeout, now: now) }
            if peer != nil { return requestSession(id, timeoutMs: timeout, now: now) }
            let sessionId = sessions.allocateId()
            connections[id]?.phase = .awaitingSession(sessionId)
            submit(.createSession(timeoutMs: timeout), sessionId: sessionId, cxid: 0, ids: [], connection: id, now: now)
            return
        }
        reattach(id, request: request, now: now)
    }

    /// Reconnect to a live session: other connections of that session are closed first (even
    /// when the password turns out wrong, as ZooKeeper does).
    mutating func reattach(_ id: ConnectionID, request: ConnectRequest, now: ReplicaTime) {
        let sessionId = request.sessionId
        // Found through the session, never by walking every connection: the connection the
        // session is bound to, and (ensemble) one still waiting for its createSession.
        let candidates = [
            sessions.sessions[sessionId]?.connection, connectingSessions[sessionId],
            localSessions.sessions[sessionId]?.connection, upgradingSessions[sessionId],
        ].compactMap { $0 }
        let others = Set(candidates.filter { $0 != id && connections[$0]?.sessionId == sessionId }).sorted()
        for other in others {
            close(other)
            _ = connectionClosed(other, now: now)
        }
        if isLocalSession(sessionId) { return resumeLocalSession(id, request, now: now) }
        // A learner's copy of the session may be stale (the leader may be expiring it) or
        // missing (its createSession not applied here yet): the leader, which owns
        // sessions, decides. The password depends on the session id alone.
        if let peer, peer.state != .leading, request.passwd == SessionTable.password(for: sessionId) {
            let timeoutMs = connections[id]?.negotiatedTimeoutMs ?? configuration.minSessionTimeoutMs
            return requestRevalidation(id, sessionId: sessionId, timeoutMs: timeoutMs)
        }
        guard let session = sessions.sessions[sessionId], !session.isClosing, session.passwd == request.passwd else {
            send(.sendConnectResponse(id, .invalid(readOnly: request.readOnly)))
            close(id)
            return
        }
        // The leader resuming a session itself takes it over, as its REVALIDATE handler does
        // for a learner's: requests through the session's old member get SESSIONMOVED.
        if let peer, peer.state == .leading { sessionOwners[sessionId] = peer.configuration.me }
        resume(id, session: session, now: now)
    }

    /// The session is valid: this connection carries it from now on.
    mutating func resume(_ id: ConnectionID, session: Session, now: ReplicaTime) {
        let sessionId = session.id
        // The timeout is negotiated again on every connect, and governs expiry from now on.
        let timeout = connections[id]?.negotiatedTimeoutMs ?? session.timeoutMs
        sessions.setTimeout(sessionId, timeoutMs: timeout)
        touch(sessionId, now: now)
        sessions.bind(sessionId, to: id)
        establish(id, sessionId: sessionId, timeoutMs: timeout, passwd: session.passwd, now: now)
    }

    mutating func establish(_ id: ConnectionID, sessionId: SessionID, timeoutMs: Int32, passwd: [UInt8], readOnly: Bool = false, now: ReplicaTime) {
        guard connections[id] != nil else { return }
        connections[id]!.phase = .established(sessionId)
        connections[id]!.establishedAtMs = now.wallMs
        let client = connections[id].map { "\($0.address):\($0.port)" } ?? "?"
        log(.info, "session established", [
            "sessionId": "0x\(hex(sessionId))", "client": client, "timeoutMs": "\(timeoutMs)", "readOnly": "\(readOnly)",
        ])
        connections[id]!.negotiatedTimeoutMs = timeoutMs
        connectionExpiry.update(id, now: now.elapsedMs, timeoutMs: Int64(timeoutMs))
        let response = ConnectResponse(
            timeOut: timeoutMs, sessionId: sessionId, passwd: passwd,
            readOnly: connections[id]!.readOnlyByte == nil ? nil : readOnly)
        send(.sendConnectResponse(id, response))
        // Requests sent ahead of this answer waited for it.
        pump(id, now: now)
    }

    /// A client showed its session is alive: the leader (or a standalone server) moves its
    /// deadline; a learner reports it in its next PING answer.
    mutating func touch(_ sessionId: SessionID, now: ReplicaTime) {
        if isLocalSession(sessionId) { return localSessions.touch(sessionId, now: now.elapsedMs) }
        sessions.touch(sessionId, now: now.elapsedMs)
        if let peer, peer.state != .leading, let timeoutMs = sessions.sessions[sessionId]?.timeoutMs {
            touchedSessions[sessionId] = timeoutMs
        }
    }

    mutating func close(_ id: ConnectionID) {
        guard connections[id] != nil else { return }
        connections[id]!.phase = .closed
        connections[id]!.heldFrames = []
        connections[id]!.heldBytes = 0
        actions.append(.closeConnection(id))
    }
}
