/// The two clocks every event carries, as ZooKeeper keeps `Time.currentElapsedTime` and
/// `Time.currentWallTime` apart. Elapsed (monotonic) time decides everything that waits:
/// session expiry, idle connections, handshake deadlines, ensemble timers, latencies. Wall
/// time only stamps what clients see as dates: txn time (mtime, ctime) and TTL ages, which
/// are measured against mtime. An NTP step of the wall clock therefore expires nothing.
public struct ReplicaTime: Hashable, Sendable, ExpressibleByIntegerLiteral {
    /// Monotonic milliseconds from an arbitrary origin (never compared across servers).
    public var elapsedMs: Int64
    /// Milliseconds since 1970.
    public var wallMs: Int64

    public init(elapsedMs: Int64, wallMs: Int64) {
        self.elapsedMs = elapsedMs
        self.wallMs = wallMs
    }

    /// Both clocks reading `ms` (tests, where the two clocks need not differ).
    public init(_ ms: Int64) { self.init(elapsedMs: ms, wallMs: ms) }

    public init(integerLiteral ms: Int64) { self.init(ms) }

    /// Both clocks `ms` later.
    public func advanced(byMs ms: Int64) -> ReplicaTime { ReplicaTime(elapsedMs: elapsedMs + ms, wallMs: wallMs + ms) }
}
