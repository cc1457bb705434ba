import ZKModel

public struct Session: Sendable {
    public var id: SessionID
    public var timeoutMs: Int32
    public var passwd: [UInt8]
    /// Wall-clock ms at which the session expires unless touched.
    public var deadlineMs: Int64
    /// Set once a closeSession is prepared: no request may revive it (ZOOKEEPER-1496).
    public var isClosing = false
    public var connection: ConnectionID?
}

/// Live sessions, their deadlines (rounded up to tickTime buckets as ZooKeeper's ExpiryQueue
/// does) and session id generation.
public struct SessionTable: Sendable {
    public private(set) var sessions: [SessionID: Session] = [:]
    private var nextSessionId: SessionID
    let tickTimeMs: Int64

    /// ZooKeeper's layout: server id in bits 63-56, clock ms in 55-16.
    public init(serverId: Int64, monotonicMs: Int64, tickTimeMs: Int64) {
        var base = Int64(bitPattern: (UInt64(bitPattern: monotonicMs) << 24) >> 8) | (serverId << 56)
        if base == Int64.min { base += 1 }
        nextSessionId = base
        self.tickTimeMs = tickTimeMs
    }

    /// The next unused id: sessions recovered from disk may sit anywhere in the id space.
    public mutating func allocateId() -> SessionID {
        while sessions[nextSessionId] != nil { nextSessionId += 1 }
        defer { nextSessionId += 1 }
        return nextSessionId
    }

    func deadline(now: Int64, timeoutMs: Int32) -> Int64 {
        let expiry = now + Int64(timeoutMs)
        return (expiry / tickTimeMs + 1) * tickTimeMs
    }

    public mutating func add(_ id: SessionID, timeoutMs: Int32, now: Int64) {
        sessions[id] = Session(
            id: id, timeoutMs: timeoutMs, passwd: Self.password(for: id), deadlineMs: deadline(now: now, timeoutMs: timeoutMs))
    }

    public mutating func remove(_ id: SessionID) { sessions[id] = nil }

    public mutating func touch(_ id: SessionID, now: Int64) {
        guard var session = sessions[id], !session.isClosing else { return }
        session.deadlineMs = deadline(now: now, timeoutMs: session.timeoutMs)
        sessions[id] = session
    }

    /// A new leader owns every session from now on: each gets a full timeout from now
    /// (ZooKeeper's leader starts its session tracker this way) and no close is in progress.
    public mutating func restartClocks(now: Int64) {
        for id in sessions.keys {
            sessions[id]!.isClosing = false
            sessions[id]!.deadlineMs = deadline(now: now, timeoutMs: sessions[id]!.timeoutMs)
        }
    }

    /// The state machine was replaced (SNAP, TRUNC): these are the live sessions now.
    public mutating func replaceAll(with timeouts: [SessionID: Int32], now: Int64) {
        sessions = [:]
        for (id, timeoutMs) in timeouts { add(id, timeoutMs: timeoutMs, now: now) }
    }

    public mutating func setTimeout(_ id: SessionID, timeoutMs: Int32) { sessions[id]?.timeoutMs = timeoutMs }

    public mutating func markClosing(_ id: SessionID) { sessions[id]?.isClosing = true }

    public mutating func bind(_ id: SessionID, to connection: ConnectionID?) { sessions[id]?.connection = connection }

    /// Sessions past their deadline and not yet closing, in id order.
    public func expired(now: Int64) -> [SessionID] {
        sessions.values.filter { !$0.isClosing && $0.deadlineMs <= now }.map(\.id).sorted()
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
