import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

extension Replica {
    /// Opcodes a client may not send: ZooKeeper answers UNIMPLEMENTED and closes. Top-level
    /// `check` is refused as 3.8.5+ does (older servers logged it and could not restart).
    static func isAcceptedFromClient(_ opCode: OpCode) -> Bool {
        switch opCode {
        case .notification, .check, .deleteContainer, .createSession, .error, .sasl: return false
        default: return true
        }
    }

    mutating func handleRequest(_ id: ConnectionID, sessionId: SessionID, _ frame: ByteBuffer, now: Int64) {
        var reader = JuteReader(frame, lengthMax: Int32(configuration.frameBytesMax))
        guard let xid = try? reader.readInt(), let type = try? reader.readInt() else {
            close(id)
            return
        }
        touch(sessionId, now: now)
        stats.packetsReceived += 1
        connections[id]?.stats.packetsReceived += 1
        guard let opCode = OpCode(rawValue: type), Self.isAcceptedFromClient(opCode) else {
            actions.append(.sendReply(id, ReplyHeader(xid: xid, zxid: -1, err: ErrorCode.unimplemented.rawValue), .none))
            close(id)
            return
        }
        let request: Request
        do {
            request = try Request.decode(type: type, from: &reader)
        } catch {
            if Self.isWrite(opCode) {
                // ZooKeeper decodes writes in its prep stage: the failure is logged as an error txn.
                if peer != nil { return forwardWrite(id, sessionId: sessionId, xid: xid, opCode: opCode, frame, now: now) }
                appendError(.marshallingError, id, sessionId: sessionId, xid: xid, opCode: opCode, now: now)
                return
            }
            enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .done(
                ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: ErrorCode.marshallingError.rawValue), .none,
                closeAfter: false)))
            return
        }
        if case .auth(_, let scheme, let auth) = request {
            handleAuth(id, xid: xid, scheme: scheme, auth: auth)
            return
        }
        if let session = sessions.sessions[sessionId], session.isClosing, opCode != .closeSession {
            enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .done(
                ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: ErrorCode.sessionExpired.rawValue), .none,
                closeAfter: false)))
            return
        }
        if writesRefused && Self.isWrite(opCode) {
            enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .done(
                ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: ErrorCode.notReadOnly.rawValue), .none,
                closeAfter: false)))
            return
        }
        if peer != nil {
            if Self.isWrite(opCode) {
                var multiOpCodes: [OpCode] = []
                if case .multi(let ops) = request { multiOpCodes = ops.map(\.opCode) }
                return forwardWrite(id, sessionId: sessionId, xid: xid, opCode: opCode, frame, multiOpCodes: multiOpCodes, now: now)
            }
            if case .sync = request { return startSync(id, xid: xid, request, now: now) }
        }
        if let op = writeOp(for: request) {
            if case .closeSession = op, !beginClose(id, sessionId: sessionId, xid: xid, now: now) { return }
            let ids = connections[id]?.ids ?? []
            let zxid = submit(op, sessionId: sessionId, cxid: xid, ids: ids, connection: id, now: now)
            var entry = PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .awaitingCommit(zxid))
            if case .multi(let ops) = request { entry.multiOpCodes = ops.map(\.opCode) }
            enqueue(id, entry)
        } else if case .reconfig = request {
            // Standalone: reconfig is refused; the failure is logged and consumes a zxid as in ZooKeeper.
            let code: ErrorCode = configuration.reconfigEnabled ? .unimplemented : .reconfigDisabled
            appendError(code, id, sessionId: sessionId, xid: xid, opCode: opCode, now: now)
        } else {
            enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .read(request)))
        }
    }

    /// A closeSession: the session is marked closing so that nothing revives it. A second
    /// close of a session already closing is answered at once (false: nothing more to do).
    mutating func beginClose(_ id: ConnectionID, sessionId: SessionID, xid: Xid, now: Int64) -> Bool {
        if sessions.sessions[sessionId]?.isClosing == true {
            enqueue(id, PendingRequest(xid: xid, opCode: .closeSession, receivedAtMs: now, state: .done(
                ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: 0), .none, closeAfter: true)))
            return false
        }
        sessions.markClosing(sessionId)
        return true
    }

    /// Opcodes that go through ZooKeeper's prep stage and so consume a zxid even when they fail.
    static func isWrite(_ opCode: OpCode) -> Bool {
        switch opCode {
        case .create, .create2, .createContainer, .createTTL, .delete, .setData, .setACL, .multi, .reconfig, .closeSession:
            return true
        default:
            return false
        }
    }

    /// Logs a failed write as an error txn; the client gets `code` once it is applied.
    mutating func appendError(_ code: ErrorCode, _ id: ConnectionID, sessionId: SessionID, xid: Xid, opCode: OpCode, now: Int64) {
        lastPreparedZxid += 1
        let zxid = lastPreparedZxid
        let header = TxnHeader(clientId: sessionId, cxid: xid, zxid: zxid, time: now, type: OpCode.error.rawValue)
        appendTxn(Txn(header: header, body: .error(code)), connection: id, now: now)
        enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now, state: .awaitingCommit(zxid)))
    }

    /// The write a request asks for, or nil for reads and session-local requests.
    func writeOp(for request: Request) -> WriteOp? {
        switch request {
        case .create(let create):
            return .create(opCode: create.opCode, path: create.path, data: create.data, acl: create.acl, flags: create.flags, ttl: create.ttl)
        case .delete(let path, let version): return .delete(path: path, version: version)
        case .setData(let path, let data, let version): return .setData(path: path, data: data, version: version)
        case .setACL(let path, let acl, let version): return .setACL(path: path, acl: acl, version: version)
        case .multi(let ops): return .multi(ops.map(writeOp(for:)))
        case .closeSession: return .closeSession
        default: return nil
        }
    }

    func writeOp(for op: MultiOp) -> WriteOp {
        switch op {
        case .create(let create):
            return .create(opCode: create.opCode, path: create.path, data: create.data, acl: create.acl, flags: create.flags, ttl: create.ttl)
        case .delete(let path, let version): return .delete(path: path, version: version)
        case .setData(let path, let data, let version): return .setData(path: path, data: data, version: version)
        case .check(let path, let version): return .check(path: path, version: version)
        case .getChildren, .getData: return .check(path: "", version: -1)
        }
    }

    /// Auth packets are answered at once, outside the request pipeline, as ZooKeeper does.
    mutating func handleAuth(_ id: ConnectionID, xid: Xid, scheme: String, auth: [UInt8]) {
        if scheme == "ip" {
            // The ip provider authenticates by the connection's own address, which every
            // connection already holds.
            actions.append(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: 0), .none))
            return
        }
        guard scheme == "digest", configuration.digestAuthEnabled else {
            actions.append(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: ErrorCode.authFailed.rawValue), .none))
            close(id)
            return
        }
        let digestId = DigestHash.digestId(forCredentials: String(decoding: auth, as: UTF8.self))
        var ids = connections[id]?.ids ?? []
        let newId = Id(scheme: "digest", id: digestId)
        if !ids.contains(newId) { ids.append(newId) }
        if let superDigest = configuration.superDigest, superDigest == digestId, !ids.contains(Id(scheme: "super", id: "")) {
            ids.append(Id(scheme: "super", id: ""))
        }
        connections[id]?.ids = ids
        actions.append(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: 0), .none))
    }

    mutating func enqueue(_ id: ConnectionID, _ request: PendingRequest) {
        connections[id]?.queue.append(request)
        connections[id]?.stats.lastOperation = request.opCode.shortName
        connections[id]?.stats.lastCxid = request.xid
        drain(id, now: request.receivedAtMs)
    }

    /// Sends every reply at the head of the queue that is ready, evaluating reads in turn.
    mutating func drain(_ id: ConnectionID, now: Int64) {
        while let head = connections[id]?.queue.first {
            switch head.state {
            case .awaitingCommit, .forwarded, .awaitingSync:
                return
            case .read(let request):
                guard let sessionId = connections[id]?.sessionId else { return }
                let (header, response) = evaluateRead(id, sessionId: sessionId, xid: head.xid, request)
                connections[id]?.queue.removeFirst()
                sendReply(id, header, response, receivedAtMs: head.receivedAtMs, now: now)
            case .done(let header, let response, let closeAfter):
                connections[id]?.queue.removeFirst()
                sendReply(id, header, response, receivedAtMs: head.receivedAtMs, now: now)
                if closeAfter {
                    close(id)
                    return
                }
            }
        }
    }

    mutating func sendReply(_ id: ConnectionID, _ header: ReplyHeader, _ response: Response, receivedAtMs: Int64, now: Int64) {
        actions.append(.sendReply(id, header, response))
        let latency = max(0, now - receivedAtMs)
        stats.recordLatency(latency)
        stats.packetsSent += 1
        guard var connection = connections[id] else { return }
        connection.stats.packetsSent += 1
        connection.stats.lastZxid = header.zxid
        connection.stats.lastResponseMs = now
        connection.stats.lastLatencyMs = latency
        connection.stats.minLatencyMs = min(connection.stats.minLatencyMs, latency)
        connection.stats.maxLatencyMs = max(connection.stats.maxLatencyMs, latency)
        connection.stats.totalLatencyMs += latency
        connection.stats.latencyCount += 1
        connections[id] = connection
    }
}

public struct ServerStats: Sendable {
    public var packetsReceived = 0
    public var packetsSent = 0
    public var minLatencyMs: Int64 = 0
    public var maxLatencyMs: Int64 = 0
    public var totalLatencyMs: Int64 = 0
    public var latencyCount: Int64 = 0

    mutating func recordLatency(_ latency: Int64) {
        minLatencyMs = latencyCount == 0 ? latency : min(minLatencyMs, latency)
        maxLatencyMs = max(maxLatencyMs, latency)
        totalLatencyMs += latency
        latencyCount += 1
    }

    public var averageLatencyMs: Double { latencyCount == 0 ? 0 : Double(totalLatencyMs) / Double(latencyCount) }
}
