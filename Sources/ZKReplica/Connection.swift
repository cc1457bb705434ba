import DequeModule
import NIOCore
import ZKModel
import ZKWire

/// A request in a connection's FIFO: replies leave strictly in request order.
struct PendingRequest: Sendable {
    enum State: Sendable {
        /// A write whose txn is not applied yet.
        case awaitingCommit(Zxid)
        /// Ensemble: a write handed to the leader, answered when the txn with this request's
        /// session and xid is applied here.
        case forwarded
        /// Ensemble: a `sync` waiting for the leader; then evaluated as a read.
        case awaitingSync(requestId: UInt64, Request)
        /// A read, evaluated only when it reaches the head (after the session's earlier writes).
        case read(Request)
        /// The reply is known.
        case done(ReplyHeader, Response, closeAfter: Bool)
    }
    var xid: Xid
    var opCode: OpCode
    /// Elapsed time the request was handled at (its latency starts there).
    var receivedAtMs: Int64
    var state: State
    /// For multi: the opcode of each op, which decides create vs create2 result records.
    var multiOpCodes: [OpCode] = []
}

struct ConnectionStats: Sendable {
    var packetsReceived = 0
    var packetsSent = 0
    var lastOperation = "NA"
    var lastCxid: Xid = -1
    var lastZxid: Zxid = -1
    /// Elapsed time of the last reply, as ZooKeeper's `lresp`.
    var lastResponseMs: Int64 = 0
    var lastLatencyMs: Int64 = 0
    var minLatencyMs: Int64 = Int64.max
    var maxLatencyMs: Int64 = 0
    var totalLatencyMs: Int64 = 0
    var latencyCount: Int64 = 0

    mutating func recordReply(zxid: Zxid, latencyMs: Int64, now: Int64) {
        packetsSent += 1
        lastZxid = zxid
        lastResponseMs = now
        lastLatencyMs = latencyMs
        minLatencyMs = min(minLatencyMs, latencyMs)
        maxLatencyMs = max(maxLatencyMs, latencyMs)
        totalLatencyMs += latencyMs
        latencyCount += 1
    }
}

struct Connection: Sendable {
    enum Phase: Sendable {
        case awaitingConnect
        /// Waiting for the createSession txn; frames that arrive meanwhile wait in `earlyFrames`.
        case awaitingSession(SessionID)
        /// Ensemble learner: reconnecting to a session, waiting for the leader's REVALIDATE answer.
        case awaitingRevalidation(SessionID)
        case established(SessionID)
        case closed

        var isAwaitingSession: Bool {
            if case .awaitingSession = self { return true } else { return false }
        }

        var isClosed: Bool {
            if case .closed = self { return true } else { return false }
        }
    }

    let id: ConnectionID
    let address: String
    let port: Int
    var phase: Phase = .awaitingConnect
    /// The client sent the readOnly byte (so the reply carries one too).
    var readOnlyByte: Bool?
    var ids: [Id]
    /// Requests handled and not answered yet, in request order.
    var queue: Deque<PendingRequest> = []
    /// Frames received and not handled yet, in arrival order: those that came before the
    /// session existed, and those waiting while the connection is over a limit.
    var heldFrames: Deque<ByteBuffer> = []
    var heldBytes = 0
    /// Bytes of replies and notifications handed to the shell that it has not yet reported
    /// written to the socket: what a client that stops reading makes the server keep.
    var unsentReplyBytes = 0
    /// The shell was told to stop reading this connection's socket.
    var readingPaused = false
    /// The connection was reported throttled once (one log line per connection).
    var throttleReported = false
    /// The connection is in `Replica.waitingForGlobalLimit`.
    var waitsForGlobalLimit = false
    var stats = ConnectionStats()
    /// Wall time the session was established here (`cons` shows it as `est`).
    var establishedAtMs: Int64 = 0
    var negotiatedTimeoutMs: Int32 = 0

    init(id: ConnectionID, address: String, port: Int) {
        self.id = id
        self.address = address
        self.port = port
        self.ids = [Id(scheme: "ip", id: address)]
    }

    var sessionId: SessionID? {
        switch phase {
        case .established(let id), .awaitingSession(let id): return id
        default: return nil
        }
    }
}

extension Dictionary where Key == ConnectionID, Value == Connection {
    /// Reads a connection's fields in place. The getter (`self[id]?.field`) copies the whole
    /// connection, retaining and releasing its queue, held frames and ids, on every read; the
    /// hot paths (each frame, each reply) read several fields per request.
    @inline(__always)
    mutating func peek<T>(_ id: ConnectionID, _ field: (inout Connection) -> T) -> T? {
        guard let index = index(forKey: id) else { return nil }
        return field(&values[index])
    }
}
