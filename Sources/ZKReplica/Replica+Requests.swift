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

    mutating func handleRequest(_ id: ConnectionID, sessionId: SessionID, _ frame: ByteBuffer, now: ReplicaTime) {
        var reader = JuteReader(frame, lengthMax: Int32(configuration.frameBytesMax))
        guard let xid = try? reader.readInt(), let type = try? reader.readInt() else {
            close(id)
            return
        }
        touch(sessionId, now: now)
        stats.packetsReceived += 1
        connections.peek(id) { $0.stats.packetsReceived += 1 }
        guard let opCode = OpCode(rawValue: type), Self.isAcceptedFromClient(opCode) else {
            send(.sendReply(id, ReplyHeader(xid: xid, zxid: -1, err: ErrorCode.unimplemented.rawValue), .none))
            close(id)
            return
        }
        let request: Request
        do {
            request = try Request.decode(type: type, from: &reader)
        } catch {
            // ZooKeeper decodes an auth packet as it arrives and drops the connection when it
            // cannot: no reply.
            if opCode == .auth { return close(id) }
            if Self.isWrite(opCode) {
                // ZooKeeper decodes writes in its prep stage: the failure is logged as an error txn.
                if peer != nil { return forwardWrite(id, sessionId: sessionId, xid: xid, opCode: opCode, frame, now: now) }
                appendError(.marshallingError, id, sessionId: sessionId, xid: xid, opCode: opCode, now: now)
                return
            }
            enqueueDone(id, xid: xid, opCode: opCode, .marshallingError, now: now)
            return
        }
        if case .auth(_, let scheme, let auth) = request {
            handleAuth(id, xid: xid, scheme: scheme, auth: auth)
            return
        }
        if let session = sessions.sessions[sessionId], session.isClosing, opCode != .closeSession {
            enqueueDone(id, xid: xid, opCode: opCode, .sessionExpired, now: now)
            return
        }
        if !readOnlySessions.isEmpty, isReadOnly(id) {
            if opCode == .closeSession { return closeReadOnlySession(id, xid: xid, now: now) }
            if let code = readOnlyRefusal(opCode) { return enqueueDone(id, xid: xid, opCode: opCode, code, now: now) }
            return enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .read(request)), now: now)
        }
        if opCode == .closeSession, isLocalSession(sessionId) { return closeLocalSession(id, sessionId: sessionId, xid: xid, now: now) }
        if writesRefused && Self.isWrite(opCode) {
            enqueueDone(id, xid: xid, opCode: opCode, .notReadOnly, now: now)
            return
        }
        if peer != nil {
            if isLocalSession(sessionId), Self.createsEphemeral(request) {
                guard configuration.localSessionsUpgradingEnabled else {
                    return enqueueDone(id, xid: xid, opCode: opCode, .ephemeralOnLocalSession, now: now)
                }
                upgradeLocalSession(id, sessionId: sessionId, now: now)
            }
            if Self.isWrite(opCode) {
                var multiOpCodes: [OpCode] = []
                if case .multi(let ops) = request { multiOpCodes = ops.map(\.opCode) }
                return forwardWrite(id, sessionId: sessionId, xid: xid, opCode: opCode, frame, multiOpCodes: multiOpCodes, now: now)
            }
            if case .sync = request { return startSync(id, xid: xid, request, now: now) }
        }
        if let op = writeOp(for: request) {
            if case .closeSession = op, !beginClose(id, sessionId: sessionId, xid: xid, now: now) { return }
            let ids = connections.peek(id, { $0.ids }) ?? []
            let zxid = submit(op, sessionId: sessionId, cxid: xid, ids: ids, connection: id, now: now)
            var entry = PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .awaitingCommit(zxid))
            if case .multi(let ops) = request { entry.multiOpCodes = ops.map(\.opCode) }
            enqueue(id, entry, now: now)
        } else if case .reconfig = request {
            // Standalone: reconfig is refused; the failure is logged and consumes a zxid as in ZooKeeper.
            let code: ErrorCode = configuration.reconfigEnabled ? .unimplemented : .reconfigDisabled
            appendError(code, id, sessionId: sessionId, xid: xid, opCode: opCode, now: now)
        } else {
            enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .read(request)), now: now)
        }
    }

    /// Queues a reply already known (an error found before any work), in request order.
    mutating func enqueueDone(_ id: ConnectionID, xid: Xid, opCode: OpCode, _ code: ErrorCode, now: ReplicaTime) {
        let header = ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: code.rawValue)
        enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .done(header, .none, closeAfter: false)), now: now)
    }

    /// A closeSession: the session is marked closing so that nothing revives it. A second
    /// close of a session already closing is answered at once (false: nothing more to do).
    mutating func beginClose(_ id: ConnectionID, sessionId: SessionID, xid: Xid, now: ReplicaTime) -> Bool {
        if sessions.sessions[sessionId]?.isClosing == true {
            enqueue(id, PendingRequest(xid: xid, opCode: .closeSession, receivedAtMs: now.elapsedMs, state: .done(
                ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: 0), .none, closeAfter: true)), now: now)
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
    mutating func appendError(_ code: ErrorCode, _ id: ConnectionID, sessionId: SessionID, xid: Xid, opCode: OpCode, now: ReplicaTime) {
        lastPreparedZxid += 1
        let zxid = lastPreparedZxid
        let header = TxnHeader(clientId: sessionId, cxid: xid, zxid: zxid, time: now.wallMs, type: OpCode.error.rawValue)
        appendTxn(Txn(header: header, body: .error(code)), connection: id, now: now)
        enqueue(id, PendingRequest(xid: xid, opCode: opCode, receivedAtMs: now.elapsedMs, state: .awaitingCommit(zxid)), now: now)
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
            send(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: 0), .none))
            return
        }
        guard scheme == "digest", configuration.digestAuthEnabled else {
            stats.authFailed += 1
            send(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: ErrorCode.authFailed.rawValue), .none))
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
        guard ids.count <= configuration.connectionAuthIdsMax else {
            actions.append(.notice(id, "more than \(configuration.connectionAuthIdsMax) authenticated ids (connectionAuthIdsMax); closing"))
            stats.authFailed += 1
            send(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: ErrorCode.authFailed.rawValue), .none))
            close(id)
            return
        }
        connections[id]?.ids = ids
        send(.sendReply(id, ReplyHeader(xid: xid, zxid: 0, err: 0), .none))
    }

    mutating func enqueue(_ id: ConnectionID, _ request: PendingRequest, now: ReplicaTime) {
        let added = connections.peek(id) { connection in
            connection.queue.append(request)
            connection.stats.lastOperation = request.opCode.shortName
            connection.stats.lastCxid = request.xid
        }
        guard added != nil else { return }
        outstandingRequests += 1
        drain(id, now: now)
    }

    /// Sends every reply at the head of the queue that is ready, evaluating reads in turn,
    /// while the client keeps reading what it was sent (`connectionUnsentBytesPause`).
    mutating func drain(_ id: ConnectionID, now: ReplicaTime) {
        var answered = false
        defer {
            if answered, connections.peek(id, { !$0.heldFrames.isEmpty }) == true { backlogShrank.append(id) }
        }
        let pause = configuration.connectionUnsentBytesPause
        // A closed connection answers nothing more (its client is gone or told to go).
        while let (head, sessionId) = connections.peek(id, { connection -> (PendingRequest, SessionID?)? in
            guard let head = connection.queue.first, !connection.phase.isClosed, connection.unsentReplyBytes < pause else { return nil }
            return (head, connection.sessionId)
        }) ?? nil {
            switch head.state {
            case .awaitingCommit, .forwarded, .awaitingSync:
                return
            case .read(let request):
                guard let sessionId else { return }
                let (header, response) = evaluateRead(id, sessionId: sessionId, xid: head.xid, request)
                dequeueHead(id)
                answered = true
                // Results share the tree's buffers, so measuring costs nothing; encoding a
                // reply past the bound (a multiRead of 2,000 large nodes: over 2 GiB) would.
                let frameBytes = EncodedSize.reply(header, response)
                let replyBytes = frameBytes - EncodedSize.framePrefix
                guard replyBytes <= configuration.replyBytesMax else {
                    actions.append(.notice(id, "a \(head.opCode.shortName) reply of \(replyBytes) bytes exceeds replyBytesMax \(configuration.replyBytesMax); closing"))
                    close(id)
                    return
                }
                sendReply(id, header, response, frameBytes: frameBytes, opCode: head.opCode, receivedAtMs: head.receivedAtMs, now: now)
            case .done(let header, let response, let closeAfter):
                dequeueHead(id)
                answered = true
                sendReply(id, header, response, opCode: head.opCode, receivedAtMs: head.receivedAtMs, now: now)
                if closeAfter {
                    close(id)
                    return
                }
            }
        }
    }

    /// Requests whose answer waits for a txn (ZooKeeper's requests with a txn header).
    static let txnOpCodes: Set<OpCode> = [
        .create, .create2, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .setACL,
        .multi, .reconfig, .closeSession, .createSession,
    ]

    mutating func dequeueHead(_ id: ConnectionID) {
        connections.peek(id) { _ = $0.queue.removeFirst() }
        outstandingRequests -= 1
    }

    /// `frameBytes`: the reply's encoded size when the caller measured it already.
    mutating func sendReply(
        _ id: ConnectionID, _ header: ReplyHeader, _ response: Response, frameBytes: Int? = nil, opCode: OpCode,
        receivedAtMs: Int64, now: ReplicaTime
    ) {
        let action = ReplicaAction.sendReply(id, header, response)
        let bytes = frameBytes ?? action.frameBytes ?? EncodedSize.framePrefix
        send(action, frameBytes: bytes)
        stats.recordResponse(bytes: Int64(bytes - EncodedSize.framePrefix))
        metrics.count(.responseBytes, by: Int64(bytes))
        let latency = max(0, now.elapsedMs - receivedAtMs)
        stats.recordLatency(latency)
        // ZooKeeper: requests that made a txn count as updates, every other one (pings too) as a read.
        metrics.observe(Self.txnOpCodes.contains(opCode) ? .updatelatency : .readlatency, latency)
        stats.packetsSent += 1
        connections.peek(id) { $0.stats.recordReply(zxid: header.zxid, latencyMs: latency, now: now.elapsedMs) }
    }
}

public struct ServerStats: Sendable {
    /// Applied txns whose digest (from their leader) this member's tree did not reach.
    public var digestMismatches = 0
    public var packetsReceived = 0
    public var packetsSent = 0
    public var minLatencyMs: Int64 = 0
    public var maxLatencyMs: Int64 = 0
    public var totalLatencyMs: Int64 = 0
    public var latencyCount: Int64 = 0
    /// Sizes of reply bodies (without the length prefix); −1 until the first reply.
    public var lastResponseBytes: Int64 = -1
    public var minResponseBytes: Int64 = -1
    public var maxResponseBytes: Int64 = -1
    /// Log fsyncs slower than `fsync.warningthresholdms` (the shell's log counts them).
    public var fsyncThresholdExceeded = 0
    public var authFailed = 0

    mutating func recordResponse(bytes: Int64) {
        lastResponseBytes = bytes
        minResponseBytes = minResponseBytes < 0 ? bytes : min(minResponseBytes, bytes)
        maxResponseBytes = max(maxResponseBytes, bytes)
    }

    mutating func recordLatency(_ latency: Int64, times: Int) {
        guard times > 0 else { return }
        minLatencyMs = latencyCount == 0 ? latency : min(minLatencyMs, latency)
        maxLatencyMs = max(maxLatencyMs, latency)
        totalLatencyMs += latency * Int64(times)
        latencyCount += Int64(times)
    }

    mutating func recordLatency(_ latency: Int64) {
        minLatencyMs = latencyCount == 0 ? latency : min(minLatencyMs, latency)
        maxLatencyMs = max(maxLatencyMs, latency)
        totalLatencyMs += latency
        latencyCount += 1
    }

    public var averageLatencyMs: Double { latencyCount == 0 ? 0 : Double(totalLatencyMs) / Double(latencyCount) }
}
