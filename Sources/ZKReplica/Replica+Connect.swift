import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

extension Replica {
    /// The first frame must be a ConnectRequest (`ZooKeeperServer.processConnectRequest`).
    mutating func handleConnect(_ id: ConnectionID, _ frame: ByteBuffer, now: Int64) {
        var reader = JuteReader(frame, lengthMax: Int32(configuration.frameBytesMax))
        // An ensemble member that is electing or syncing serves nobody: the client tries another.
        guard isServing, let request = try? ConnectRequest.decode(from: &reader) else {
            close(id)
            return
        }
        connections[id]?.readOnlyByte = request.readOnly
        // A client that has seen a newer state than ours must try another server.
        if request.lastZxidSeen > tree.lastProcessedZxid {
            close(id)
            return
        }
        let timeout = min(max(request.timeOut, configuration.minSessionTimeoutMs), configuration.maxSessionTimeoutMs)
        connections[id]?.negotiatedTimeoutMs = timeout
        if request.sessionId == 0 {
            // A new session is a write; with the log failed the client must try elsewhere.
            if writesRefused {
                close(id)
                return
            }
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
    mutating func reattach(_ id: ConnectionID, request: ConnectRequest, now: Int64) {
        let sessionId = request.sessionId
        for other in connections.values where other.id != id && other.sessionId == sessionId {
            close(other.id)
            _ = connectionClosed(other.id, now: now)
        }
        // A learner's copy of the session may be stale (the leader may be expiring it) or
        // missing (its createSession not applied here yet): the leader, which owns
        // sessions, decides. The password depends on the session id alone.
        if let peer, peer.state != .leading, request.passwd == SessionTable.password(for: sessionId) {
            let timeoutMs = connections[id]?.negotiatedTimeoutMs ?? configuration.minSessionTimeoutMs
            return requestRevalidation(id, sessionId: sessionId, timeoutMs: timeoutMs)
        }
        guard let session = sessions.sessions[sessionId], !session.isClosing, session.passwd == request.passwd else {
            actions.append(.sendConnectResponse(id, .invalid(readOnly: request.readOnly)))
            close(id)
            return
        }
        resume(id, session: session, now: now)
    }

    /// The session is valid: this connection carries it from now on.
    mutating func resume(_ id: ConnectionID, session: Session, now: Int64) {
        let sessionId = session.id
        // The timeout is negotiated again on every connect, and governs expiry from now on.
        let timeout = connections[id]?.negotiatedTimeoutMs ?? session.timeoutMs
        sessions.setTimeout(sessionId, timeoutMs: timeout)
        touch(sessionId, now: now)
        sessions.bind(sessionId, to: id)
        establish(id, sessionId: sessionId, timeoutMs: timeout, passwd: session.passwd, now: now)
    }

    mutating func establish(_ id: ConnectionID, sessionId: SessionID, timeoutMs: Int32, passwd: [UInt8], now: Int64) {
        guard var connection = connections[id] else { return }
        connection.phase = .established(sessionId)
        connection.establishedAtMs = now
        connection.negotiatedTimeoutMs = timeoutMs
        let early = connection.earlyFrames
        connection.earlyFrames = []
        connections[id] = connection
        let response = ConnectResponse(
            timeOut: timeoutMs, sessionId: sessionId, passwd: passwd,
            readOnly: connection.readOnlyByte == nil ? nil : false)
        actions.append(.sendConnectResponse(id, response))
        for frame in early {
            guard case .established = connections[id]?.phase else { break }
            handleRequest(id, sessionId: sessionId, frame, now: now)
        }
    }

    /// A client showed its session is alive: the leader (or a standalone server) moves its
    /// deadline; a learner reports it in its next PING answer.
    mutating func touch(_ sessionId: SessionID, now: Int64) {
        sessions.touch(sessionId, now: now)
        if let peer, peer.state != .leading, let timeoutMs = sessions.sessions[sessionId]?.timeoutMs {
            touchedSessions[sessionId] = timeoutMs
        }
    }

    mutating func close(_ id: ConnectionID) {
        guard connections[id] != nil else { return }
        connections[id]?.phase = .closed
        actions.append(.closeConnection(id))
    }
}
