import ZKModel

public struct Session: Sendable {
    public var id: SessionID
    public var timeoutMs: Int32
    public var passwd: [UInt8]
    /// Elapsed ms at which the session expires unless touched (a tick bucket boundary).
    public var deadlineMs: Int64
    /// Set once a closeSession is prepared: no request may revive it (ZOOKEEPER-1496).
    public var isClosing = false
    public var connection: ConnectionID?
}

/// Live sessions, their deadlines in ZooKeeper's `ExpiryQueue` (tickTime buckets of elapsed
/// time) and session id generation.
public struct SessionTable: Sendable {
    public private(set) var sessions: [SessionID: Session] = [:]
    private var expiry: ExpiryQueue<SessionID>
    private var nextSessionId: SessionID
    let tickTimeMs: Int64

    /// ZooKeeper's layout: server id in bits 63-56, clock ms in 55-16 (ZooKeeper reads its
    /// elapsed clock there too).
    public init(serverId: Int64, monotonicMs: Int64, tickTimeMs: Int64, now: Int64 = 0) {
        var base = Int64(bitPattern: (UInt64(bitPattern: monotonicMs) << 24) >> 8) | (serverId << 56)
        if base == Int64.min { base += 1 }
        nextSessionId = base
        self.tickTimeMs = tickTimeMs
        expiry = ExpiryQueue(intervalMs: max(1, tickTimeMs), now: now)
    }

    /// The next unused id: sessions recovered from disk may sit anywhere in the id space.
    public mutating func allocateId() -> SessionID {
        while sessions[nextSessionId] != nil { nextSessionId += 1 }
        defer { nextSessionId += 1 }
        return nextSessionId
    }

    public mutating func add(_ id: SessionID, timeoutMs: Int32, now: Int64) {
        sessions[id] = Session(id: id, timeoutMs: timeoutMs, passwd: Self.password(for: id), deadlineMs: 0)
        schedule(id, now: now)
    }

    private mutating func schedule(_ id: SessionID, now: Int64) {
        guard let timeoutMs = sessions[id]?.timeoutMs else { return }
        expiry.update(id, now: now, timeoutMs: Int64(timeoutMs))
        sessions[id]?.deadlineMs = expiry.deadlines[id] ?? 0
    }

    public mutating func remove(_ id: SessionID) {
        sessions[id] = nil
        expiry.remove(id)
    }

    public mutating func touch(_ id: SessionID, now: Int64) {
        guard let session = sessions[id], !session.isClosing else { return }
        schedule(id, now: now)
    }

    /// A new leader owns every session from now on: each gets a full timeout from now
    /// (ZooKeeper's leader starts its session tracker this way) and no close is in progress.
    public mutating func restartClocks(now: Int64) {
        for id in sessions.keys.sorted() {
            sessions[id]!.isClosing = false
            schedule(id, now: now)
        }
    }

    /// The state machine was replaced (SNAP, TRUNC): these are the live sessions now.
    public mutating func replaceAll(with timeouts: [SessionID: Int32], now: Int64) {
        for id in sessions.keys { expiry.remove(id) }
        sessions = [:]
        for (id, timeoutMs) in timeouts.sorted(by: { $0.key < $1.key }) { add(id, timeoutMs: timeoutMs, now: now) }
    }

    public mutating func setTimeout(_ id: SessionID, timeoutMs: Int32) { sessions[id]?.timeoutMs = timeoutMs }

    /// A closing session expires no more; its closeSession txn removes it.
    public mutating func markClosing(_ id: SessionID) {
        guard sessions[id] != nil else { return }
        sessions[id]?.isClosing = true
        expiry.remove(id)
    }

    public mutating func bind(_ id: SessionID, to connection: ConnectionID?) { sessions[id]?.connection = connection }

    /// Sessions whose deadline has passed, in id order; they leave the expiry queue (the
    /// caller marks them closing). Costs only what expired.
    public mutating func expired(now: Int64) -> [SessionID] {
        expiry.poll(now: now).filter { sessions[$0]?.isClosing == false }
    }

    /// ZooKeeper's password: 16 bytes of `java.util.Random(sessionId ^ 0xB3415C00)`, so any
    /// server (and Apache ZooKeeper) derives the same bytes.
    public static func password(for sessionId: SessionID) -> [UInt8] {
        let multiplier: UInt64 = 0x5_DEEC_E66D
        let mask: UInt64 = (1 << 48) - 1
        var seed = (UInt64(bitPattern: sessionId ^ 0xB341_5C00) ^ multiplier) & mask
        var bytes: [UInt8] = []
        while bytes.count < 16 {
            seed = (seed &* multiplier &+ 0xB) & mask
            var value = Int32(truncatingIfNeeded: Int64(bitPattern: seed >> 16))
            for _ in 0..<4 where bytes.count < 16 {
                bytes.append(UInt8(truncatingIfNeeded: value))
                value >>= 8
            }
        }
        return bytes
    }
}
