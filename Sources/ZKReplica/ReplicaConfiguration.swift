import ZKModel

/// Every limit and switch the replica obeys. Values come from `zoo.cfg` in the shell.
public struct ReplicaConfiguration: Sendable {
    public var serverId: Int64 = 1
    public var tickTimeMs: Int64 = 2000
    public var minSessionTimeoutMs: Int32 = 4000
    public var maxSessionTimeoutMs: Int32 = 40000
    /// Concurrent connections allowed from one client address; 0 means unlimited.
    public var maxClientCnxns: Int = 60
    /// `jute.maxbuffer`: the largest frame accepted, and the longest buffer inside one.
    public var frameBytesMax: Int = 0xfffff
    /// The largest reply sent (without its length prefix). A read whose reply would be
    /// larger closes the connection, which is what ZooKeeper's own client does when it gets
    /// a frame past its `jute.maxbuffer`; nil: `jute.maxbuffer` plus 1 KiB, room for the
    /// reply to a getData of the largest node a create can store.
    public var replyBytesMaxSetting: Int?
    public var replyBytesMax: Int { replyBytesMaxSetting ?? frameBytesMax + 1024 }
    public var extendedTypesEnabled = false
    public var skipACL = false
    /// Plain reads are answered on the client connections' loops from a `ReadView`
    /// (`connectionLoopReads`); off, every request goes through the replica's loop.
    public var connectionLoopReads = true
    /// `digest.enabled`: an ensemble leader stamps each txn with the tree digest it leaves
    /// (`DigestProjection`), and every member counts txns whose digest it does not reach.
    public var digestEnabled = true
    /// `DigestAuthenticationProvider.superDigest`: a digest id whose holder is super.
    public var superDigest: String?
    public var digestAuthEnabled = true
    public var reconfigEnabled = false
    /// `readonlymode.enabled`: serve read-only clients while out of the quorum.
    public var readOnlyModeEnabled = false
    /// `leaderServes=no`: a leader takes no client connections (they go to the others).
    public var leaderServes = true
    /// `localSessionsEnabled`: an ensemble member creates new sessions locally, without a
    /// txn; they live on that member only (`Replica+LocalSessions`). Standalone ignores it.
    public var localSessionsEnabled = false
    /// `localSessionsUpgradingEnabled`: a local session that creates an ephemeral becomes a
    /// global one; without it that create fails with EPHEMERALONLOCALSESSION.
    public var localSessionsUpgradingEnabled = false
    /// Four-letter words that may run; `srvr` always may.
    public var fourLetterWordWhitelist: Set<String> = ["srvr"]
    /// `zookeeper.nio.sessionlessCnxnTimeout`: how long a connection may take to send its
    /// ConnectRequest (the handshake deadline).
    public var sessionlessConnectionTimeoutMs: Int64 = 10000
    /// `globalOutstandingLimit`: requests in flight on all connections beyond which a
    /// connection that already has one in flight is not read from (ZooKeeper's throttle).
    public var globalOutstandingLimit = 1000
    /// Requests in flight on one connection beyond which it is not read from.
    public var connectionRequestsInFlightMax = 1000
    /// Reply bytes the client has not read beyond which its connection is not read from.
    public var connectionUnsentBytesPause = 1 << 20
    /// Reply bytes the client has not read beyond which its connection is closed (only
    /// notifications can pile up that far: requests stop at the pause bound).
    public var connectionUnsentBytesClose = 64 << 20
    /// Node changes applied per event before the replica lets other events in
    /// (`resumeLater`); a txn is never split.
    public var appliedChangesPerEventMax = 2_000
    /// Expired sessions closed per tick; the rest wait for the next ticks.
    public var sessionsExpiredPerTickMax = 500
    /// Watch-table entries of closed connections removed per tick: a connection holding a
    /// million watches leaves in slices instead of stalling the server when it closes.
    public var watchesSweptPerTick = 50_000
    /// Authenticated ids one connection may hold (each `addauth` adds one); past it the
    /// auth fails and the connection is closed.
    public var connectionAuthIdsMax = 64
    /// Bytes of frames held for one connection beyond which it is closed. The shell stops
    /// reading as soon as frames are held, so only a shell that kept reading passes it.
    public var connectionHeldBytesMax: Int { 2 * frameBytesMax + (1 << 20) }
    public var containerCheckIntervalMs: Int64 = 60000
    public var containerMaxPerMinute: Int = 10000
    /// Containers that never had a child are removed after this long (0 = never).
    public var containerMaxNeverUsedIntervalMs: Int64 = 0
    /// Text shown by `conf` and `envi`, supplied by the shell.
    public var environment: [(String, String)] = []
    public var configurationReport: [(String, String)] = []
    /// Text `conf` prints after the key=value lines (an ensemble's `membership:` block).
    public var configurationReportTail = ""
    /// ZooKeeper's Prometheus provider is configured: `mntr` prints its samples.
    public var prometheusMetrics = false
    /// `admin.snapshot.enabled`: the AdminServer's `snapshot` command may run.
    public var adminSnapshotEnabled = true
    /// `admin.restore.enabled`: the AdminServer's `restore` command may run.
    public var adminRestoreEnabled = true
    /// `admin.rateLimiterIntervalInMS`: one `snapshot` per interval (ZooKeeper's snapshot
    /// limiter takes the number as microseconds, so 300000 means 300 ms there and here).
    public var adminRateLimiterIntervalMs: Int64 = 300_000
    /// The configuration file as read (`initial_configuration`); nil for an ensemble
    /// member, for which ZooKeeper answers null.
    public var initialConfigurationText: String?
    /// Every ensemble member's addresses (`voting_view`, `zabstate`, `leader`); empty standalone.
    public var members: [AdminMember] = []
    public var version = "3.9.3-swiftkeeper"

    public init() {}
}
