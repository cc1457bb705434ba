import ZKDataTree
import ZKModel
import ZKWire

/// Read-only mode (`readonlymode.enabled`): an ensemble member cut off from the quorum
/// (electing for longer than ZooKeeper's max(2 s, tickTime)) serves clients that said they
/// can live with a read-only server (`canBeReadOnly`). Their sessions are local to this
/// member and never logged; reads are answered from its tree; writes and `sync` get
/// NOTREADONLY. When the member rejoins a quorum it drops them (a role change drops every
/// client), and they reconnect to a read-write server.
extension Replica {
    /// ZooKeeper starts its read-only server this long after it began looking.
    var readOnlyDelayMs: Int64 { max(2000, configuration.tickTimeMs) }

    func servesReadOnly(now: ReplicaTime) -> Bool {
        guard configuration.readOnlyModeEnabled, let peer, peer.state == .looking else { return false }
        return now.elapsedMs - max(roleSinceMs, startedAtMs) >= readOnlyDelayMs
    }

    func isReadOnly(_ id: ConnectionID) -> Bool {
        guard let sessionId = connections[id]?.sessionId else { return false }
        return readOnlySessions.contains(sessionId)
    }

    /// A read-only client connecting while this member is out of the quorum.
    mutating func connectReadOnly(_ id: ConnectionID, _ request: ConnectRequest, timeoutMs: Int32, now: ReplicaTime) {
        var sessionId = request.sessionId
        if sessionId == 0 {
            sessionId = sessions.allocateId()
        } else {
            // A session this member knows of (global, or read-only here) may go on reading.
            let known = readOnlySessions.contains(sessionId) || sessions.sessions[sessionId].map { !$0.isClosing } == true
            guard known, request.passwd == SessionTable.password(for: sessionId) else {
                send(.sendConnectResponse(id, .invalid(readOnly: request.readOnly)))
                close(id)
                return
            }
        }
        readOnlySessions.insert(sessionId)
        establish(id, sessionId: sessionId, timeoutMs: timeoutMs, passwd: SessionTable.password(for: sessionId), readOnly: true, now: now)
    }

    /// What a read-only connection may not do; nil when the request goes on.
    func readOnlyRefusal(_ opCode: OpCode) -> ErrorCode? {
        switch opCode {
        case .sync: return .notReadOnly
        default: return Self.isWrite(opCode) && opCode != .closeSession ? .notReadOnly : nil
        }
    }

    /// closeSession of a read-only session: nothing to log, the session just ends.
    mutating func closeReadOnlySession(_ id: ConnectionID, xid: Xid, now: ReplicaTime) {
        if let sessionId = connections[id]?.sessionId { readOnlySessions.remove(sessionId) }
        enqueue(id, PendingRequest(xid: xid, opCode: .closeSession, receivedAtMs: now.elapsedMs, state: .done(
            ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: 0), .none, closeAfter: true)), now: now)
    }
}
