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
    public var extendedTypesEnabled = false
    public var skipACL = false
    /// `DigestAuthenticationProvider.superDigest`: a digest id whose holder is super.
    public var superDigest: String?
    public var digestAuthEnabled = true
    public var reconfigEnabled = false
    /// Four-letter words that may run; `srvr` always may.
    public var fourLetterWordWhitelist: Set<String> = ["srvr"]
    /// `zookeeper.nio.sessionlessCnxnTimeout`: how long a connection may stay without a handshake.
    public var sessionlessConnectionTimeoutMs: Int64 = 10000
    public var containerCheckIntervalMs: Int64 = 60000
    public var containerMaxPerMinute: Int = 10000
    /// Containers that never had a child are removed after this long (0 = never).
    public var containerMaxNeverUsedIntervalMs: Int64 = 0
    /// Text shown by `conf` and `envi`, supplied by the shell.
    public var environment: [(String, String)] = []
    public var configurationReport: [(String, String)] = []
    public var version = "3.9.3-swiftkeeper"

    public init() {}
}
