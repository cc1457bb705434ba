import NIOCore
import ZKWire

/// Backpressure: nothing a client sends is handled faster than the server can answer it.
/// Every frame first joins its connection's held frames; one is taken only while the
/// connection is within its limits:
/// * its session exists (frames sent ahead of the handshake's answer wait for it);
/// * its unsent reply bytes are below `connectionUnsentBytesPause`: a client that stops
///   reading stops being served, and the server keeps at most about that much for it;
/// * its requests in flight are below `connectionRequestsInFlightMax`;
/// * it has nothing in flight, or all connections together have fewer than
///   `globalOutstandingLimit` (ZooKeeper's throttle: a connection with nothing in flight is
///   never held back, so one greedy client cannot starve the others).
/// While a connection holds frames the shell stops reading its socket (`setReading`), so
/// what it holds stays within about one read; past `connectionHeldBytesMax` (a shell that
/// kept reading) or `connectionUnsentBytesClose` (notifications piling up for a client that
/// reads nothing) the connection is closed.
extension Replica {
    /// Why a connection cannot take its next frame now.
    enum FrameWait: Equatable {
        case session
        case unsentBytes
        case connectionRequests
        case globalRequests
    }

    mutating func frameWait(_ id: ConnectionID) -> FrameWait? {
        guard let (phase, unsent, queued) = connections.peek(id, { ($0.phase, $0.unsentReplyBytes, $0.queue.count) }) else {
            return nil
        }
        switch phase {
        case .awaitingSession, .awaitingRevalidation: return .session
        case .awaitingConnect, .established, .closed: break
        }
        if unsent >= configuration.connectionUnsentBytesPause { return .unsentBytes }
        if queued >= configuration.connectionRequestsInFlightMax { return .connectionRequests }
        if queued > 0 && outstandingRequests >= configuration.globalOutstandingLimit { return .globalRequests }
        return nil
    }

    mutating func hold(_ id: ConnectionID, _ frame: ByteBuffer) {
        connections[id]!.heldFrames.append(frame)
        connections[id]!.heldBytes += frame.readableBytes
        let held = connections[id]!.heldBytes
        if held > configuration.connectionHeldBytesMax {
            actions.append(.notice(id, "kept sending while not read from: \(held) bytes of requests held (limit \(configuration.connectionHeldBytesMax)); closing"))
            close(id)
        }
    }

    /// Handles the connection's held frames in order for as long as its limits allow, and
    /// tells the shell whether to read its socket.
    mutating func pump(_ id: ConnectionID, now: ReplicaTime) {
        while let (phase, holds) = connections.peek(id, { ($0.phase, !$0.heldFrames.isEmpty) }), holds {
            if case .closed = phase {
                connections[id]!.heldFrames = []
                connections[id]!.heldBytes = 0
                return
            }
            if let wait = frameWait(id) {
                block(id, wait)
                return
            }
            let frame = connections[id]!.heldFrames.removeFirst()
            connections[id]!.heldBytes -= frame.readableBytes
            handleFrame(id, frame, now: now)
        }
        if connections.peek(id, { $0.readingPaused }) == true { setReading(id, true) }
    }

    mutating func handleFrame(_ id: ConnectionID, _ frame: ByteBuffer, now: ReplicaTime) {
        switch connections.peek(id, { $0.phase }) {
        case .awaitingConnect: handleConnect(id, frame, now: now)
        case .established(let sessionId): handleRequest(id, sessionId: sessionId, frame, now: now)
        case .awaitingSession, .awaitingRevalidation, .closed, nil:
            preconditionFailure("frame handled on connection \(id) in phase \(String(describing: connections[id]?.phase))")
        }
    }

    mutating func block(_ id: ConnectionID, _ wait: FrameWait) {
        if connections[id]?.readingPaused == false { setReading(id, false) }
        switch wait {
        case .session:
            return  // establishing the session pumps
        case .globalRequests:
            if connections[id]?.waitsForGlobalLimit == false {
                connections[id]!.waitsForGlobalLimit = true
                waitingForGlobalLimit.append(id)
            }
        case .unsentBytes, .connectionRequests:
            break  // `repliesWritten` and `drain` pump again
        }
        guard connections[id]?.throttleReported == false, let connection = connections[id] else { return }
        connections[id]!.throttleReported = true
        let reason: String
        switch wait {
        case .unsentBytes:
            reason = "\(connection.unsentReplyBytes) reply bytes not read by the client (connectionUnsentBytesPause \(configuration.connectionUnsentBytesPause))"
        case .connectionRequests:
            reason = "\(connection.queue.count) requests in flight (connectionRequestsInFlightMax \(configuration.connectionRequestsInFlightMax))"
        case .globalRequests, .session:
            reason = "\(outstandingRequests) requests in flight on all connections (globalOutstandingLimit \(configuration.globalOutstandingLimit))"
        }
        actions.append(.notice(id, "throttling: not reading from the client while \(reason)"))
    }

    mutating func setReading(_ id: ConnectionID, _ enabled: Bool) {
        connections[id]?.readingPaused = !enabled
        actions.append(.setReading(id, enabled: enabled))
    }

    /// Before an event's actions leave: connections whose backlog shrank, and those that
    /// waited for the global limit while it is not reached, take what they may.
    mutating func pumpUnblocked(now: ReplicaTime) {
        while true {
            if !backlogShrank.isEmpty {
                let shrank = backlogShrank
                backlogShrank = []
                for id in shrank { pump(id, now: now) }
                continue
            }
            guard outstandingRequests < configuration.globalOutstandingLimit, let id = waitingForGlobalLimit.popFirst() else { return }
            connections[id]?.waitsForGlobalLimit = false
            pump(id, now: now)
        }
    }

    /// Hands a reply, notification or connect response to the shell and counts its bytes
    /// (`frameBytes` when the caller measured them already) against the connection until the
    /// shell reports them written.
    mutating func send(_ action: ReplicaAction, frameBytes: Int? = nil) {
        actions.append(action)
        guard let id = action.connectionId, let bytes = frameBytes ?? action.frameBytes,
            let (unsent, closed) = connections.peek(id, { connection in
                connection.unsentReplyBytes += bytes
                return (connection.unsentReplyBytes, connection.phase.isClosed)
            })
        else { return }
        if unsent > configuration.connectionUnsentBytesClose, !closed {
            actions.append(.notice(id, "\(unsent) reply bytes not read by the client (connectionUnsentBytesClose \(configuration.connectionUnsentBytesClose)); closing"))
            close(id)
        }
    }
}

extension ReplicaAction {
    /// The connection a client-facing action is for.
    public var connectionId: ConnectionID? {
        switch self {
        case .sendConnectResponse(let id, _), .sendReply(let id, _, _), .sendNotification(let id, _, _), .sendText(let id, _),
            .closeConnection(let id), .setReading(let id, _), .notice(let id, _):
            return id
        case .appendLog, .peer, .resumeLater:
            return nil
        }
    }

    /// Bytes of the frame a send action puts on the wire (prefix included); nil for others.
    /// A shell reports these bytes back through `repliesWritten` once its socket took them.
    public var frameBytes: Int? {
        switch self {
        case .sendConnectResponse(_, let response): return EncodedSize.connectResponse(response)
        case .sendReply(_, let header, let response): return EncodedSize.reply(header, response)
        case .sendNotification(_, let event, _): return EncodedSize.notification(event)
        default: return nil
        }
    }
}
