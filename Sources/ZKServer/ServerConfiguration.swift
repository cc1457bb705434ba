import Foundation
import ZKReplica

/// A start-up configuration problem: the message names the key. The process exits with 2.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
}

/// `zoo.cfg` as SwiftKeeper understands it (a Java properties file).
public struct ServerConfiguration: Sendable {
    public var tickTimeMs: Int64 = 3000
    public var dataDir = "swiftkeeper-data"
    public var dataLogDir: String?
    public var clientPort = 2181
    public var clientPortAddress = "0.0.0.0"
    public var maxClientCnxns = 60
    public var minSessionTimeoutMs: Int32?
    public var maxSessionTimeoutMs: Int32?
    public var fourLetterWordWhitelist: Set<String> = ["srvr"]
    public var extendedTypesEnabled = false
    public var juteMaxBuffer = 0xfffff
    public var superDigest: String?
    public var skipACL = false
    /// `digest.enabled` (ZooKeeper's `zookeeper.digest.enabled`, default on): an ensemble
    /// leader puts the tree digest after each txn in its PROPOSAL and log entry.
    public var digestEnabled = true
    public var reconfigEnabled = false
    public var containerCheckIntervalMs: Int64 = 60000
    public var containerMaxPerMinute = 10000
    public var containerMaxNeverUsedIntervalMs: Int64 = 0
    /// A snapshot is taken after snapCount/2 + a random share of snapCount/2 logged txns.
    public var snapCount = 100_000
    /// `preAllocSize` (KiB): the log file grows in blocks of this size; 0 turns it off.
    public var preAllocSizeKb = 65536
    /// `forceSync=no` skips the fsync after each group commit (replies no longer wait for the disk).
    public var forceSync = true
    /// The most txns one fsync covers (`zookeeper.maxBatchSize`).
    public var maxBatchSize = 1000
    /// `fsync.warningthresholdms`: an fsync slower than this is logged.
    public var fsyncWarningThresholdMs = 1000
    public var snapRetainCount = 3
    /// `autopurge.purgeInterval` in hours; 0 turns the purge task off.
    public var purgeIntervalHours = 0
    /// `snapshot.trust.empty`: replay logs that have no snapshot from an empty tree.
    public var trustEmptySnapshot = false
    /// `clientPortListenBacklog`: the listen backlog of the client port (−1: 1024).
    public var clientPortListenBacklog = -1
    /// Limits on what one client can make the server hold (see the README's table).
    public var globalOutstandingLimit = 1000
    public var connectionRequestsInFlightMax = 1000
    public var connectionUnsentBytesPause = 1 << 20
    public var connectionUnsentBytesClose = 64 << 20
    public var connectionAuthIdsMax = 64
    public var connectionInTransitBytesMax = 64 * 1024
    public var connectionCloseLingerMs: Int64 = 2000
    /// `connectionLoopReads`: plain reads answered on the connections' loops (`ReadView`).
    public var connectionLoopReads = true
    /// `shutdownTimeoutMs`: how long a graceful stop (SIGTERM) may take before the process
    /// exits anyway (status 1).
    public var shutdownTimeoutMs = 10_000
    /// `admin.*`: the AdminServer (on by default on port 8080, as ZooKeeper's).
    var admin = AdminServerConfiguration()
    public var adminSnapshotEnabled = true
    public var adminRestoreEnabled = true
    public var adminRateLimiterIntervalMs: Int64 = 300_000
    /// `metricsProvider.*`: the Prometheus endpoint.
    var metrics = MetricsConfiguration()
    /// The file as read, for `initial_configuration`.
    public var initialConfigurationText = ""
    /// `replyBytesMax`; nil: jute.maxbuffer + 1024.
    public var replyBytesMax: Int?
    /// `zookeeper.nio.sessionlessCnxnTimeout`: the handshake deadline.
    public var sessionlessConnectionTimeoutMs: Int64 = 10000
    /// Keys seen that SwiftKeeper does not know; logged as warnings.
    public var unknownKeys: [String] = []
    /// `server.N` lines and the quorum settings.
    public var ensemble = EnsembleConfiguration()

    public init() {}

    /// ZooKeeper keys accepted without effect in standalone mode (quorum, TLS, metrics, …).
    static let acceptedKeys: Set<String> = [
        "initLimit", "syncLimit", "electionAlg", "quorumListenOnAllIPs", "peerType", "syncEnabled",
        "dynamicConfigFile", "standaloneEnabled", "snapSizeLimitInKb", "txnLogSizeLimitInKb", "commitLogCount",
        "maxCnxns", "metricsProvider.numWorkerThreads", "metricsProvider.maxQueueSize",
        "metricsProvider.workerShutdownTimeoutMs", "secureClientPort", "secureClientPortAddress",
        "digest.enabled", "localSessionsEnabled", "localSessionsUpgradingEnabled", "leaderServes", "cnxTimeout",
        "connectToLearnerMasterLimit", "serializeLastProcessedZxid.enabled",
        "closeSessionTxn.enabled", "enforceQuota", "audit.enable", "serverCnxnFactory",
        "authProvider.1", "authProvider.2", "authProvider.3", "sessionRequireClientSASLAuth", "enforce.auth.enabled",
        "enforce.auth.schemes", "maxResponseCacheSize", "maxGetChildrenResponseCacheSize", "multiAddress.enabled",
        "jute.maxbuffer.extrasize", "DigestAuthenticationProvider.enabled", "DigestAuthenticationProvider.digestAlg",
        "sslQuorum", "portUnification", "ssl.keyStore.location", "ssl.keyStore.password", "ssl.trustStore.location",
        "ssl.trustStore.password", "readonlymode.enabled", "tcpKeepAlive", "clientTcpKeepAlive",
    ]

    /// Parses the text of a `zoo.cfg`. Invalid values throw an error naming the key.
    public static func parse(_ text: String) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.initialConfigurationText = text
        for (rawKey, rawValue) in PropertiesFile.parse(text) {
            // ZooKeeper trims both after Java's parsing (`QuorumPeerConfig.parseProperties`).
            let trimmedKey = rawKey.trimmingCharacters(in: .whitespaces)
            let value = rawValue.trimmingCharacters(in: .whitespaces)
            let key = trimmedKey.hasPrefix("zookeeper.") ? String(trimmedKey.dropFirst("zookeeper.".count)) : trimmedKey
            try configuration.apply(key: key, value: value)
        }
        if let path = configuration.ensemble.dynamicConfigFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(description: "dynamicConfigFile: cannot read \(path)")
            }
            try configuration.ensemble.loadDynamicFile(text)
        }
        try configuration.validate()
        return configuration
    }

    mutating func apply(key: String, value: String) throws {
        switch key {
        case "tickTime": tickTimeMs = Int64(try Self.integer(key, value, minimum: 1))
        case "dataDir": dataDir = value
        case "dataLogDir": dataLogDir = value
        case "clientPort": clientPort = try Self.integer(key, value, minimum: 0, maximum: 65535)
        case "clientPortAddress": clientPortAddress = value
        case "maxClientCnxns": maxClientCnxns = try Self.integer(key, value, minimum: 0)
        case "minSessionTimeout": minSessionTimeoutMs = Int32(try Self.integer(key, value, minimum: -1, maximum: Int(Int32.max)))
        case "maxSessionTimeout": maxSessionTimeoutMs = Int32(try Self.integer(key, value, minimum: -1, maximum: Int(Int32.max)))
        case "4lw.commands.whitelist":
            let words = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            fourLetterWordWhitelist = Set(words).union(["srvr"])
        case "extendedTypesEnabled": extendedTypesEnabled = try Self.boolean(key, value)
        case "jute.maxbuffer": juteMaxBuffer = try Self.integer(key, value, minimum: 1024, maximum: Int(Int32.max))
        case "DigestAuthenticationProvider.superDigest": superDigest = value
        case "skipACL": skipACL = value.lowercased() == "yes" || value.lowercased() == "true"
        case "digest.enabled": digestEnabled = try Self.boolean(key, value)
        case "reconfigEnabled": reconfigEnabled = try Self.boolean(key, value)
        case "znode.container.checkIntervalMs": containerCheckIntervalMs = Int64(try Self.integer(key, value, minimum: 1))
        case "znode.container.maxPerMinute": containerMaxPerMinute = try Self.integer(key, value, minimum: 1)
        case "znode.container.maxNeverUsedIntervalMs": containerMaxNeverUsedIntervalMs = Int64(try Self.integer(key, value, minimum: 0))
        case "snapCount": snapCount = max(2, try Self.integer(key, value, minimum: 0))
        case "preAllocSize": preAllocSizeKb = try Self.integer(key, value, minimum: 0, maximum: 1 << 30)
        case "forceSync": forceSync = value != "no"
        case "maxBatchSize": maxBatchSize = try Self.integer(key, value, minimum: 1)
        case "fsync.warningthresholdms": fsyncWarningThresholdMs = try Self.integer(key, value, minimum: 0)
        case "autopurge.snapRetainCount": snapRetainCount = max(3, try Self.integer(key, value, minimum: 0))
        case "autopurge.purgeInterval": purgeIntervalHours = try Self.integer(key, value, minimum: 0)
        case "snapshot.trust.empty": trustEmptySnapshot = try Self.boolean(key, value)
        case "clientPortListenBacklog": clientPortListenBacklog = try Self.integer(key, value, minimum: -1, maximum: Int(Int32.max))
        case "globalOutstandingLimit": globalOutstandingLimit = try Self.integer(key, value, minimum: 1)
        case "connectionRequestsInFlightMax": connectionRequestsInFlightMax = try Self.integer(key, value, minimum: 1)
        case "connectionUnsentBytesPause": connectionUnsentBytesPause = try Self.integer(key, value, minimum: 1)
        case "connectionUnsentBytesClose": connectionUnsentBytesClose = try Self.integer(key, value, minimum: 1)
        case "connectionAuthIdsMax": connectionAuthIdsMax = try Self.integer(key, value, minimum: 1)
        case "connectionInTransitBytesMax": connectionInTransitBytesMax = try Self.integer(key, value, minimum: 1)
        case "connectionLoopReads": connectionLoopReads = try Self.boolean(key, value)
        case "metricsProvider.className": metrics.className = value
        case "metricsProvider.httpHost": metrics.httpHost = value
        case "metricsProvider.httpPort": metrics.httpPort = try Self.integer(key, value, minimum: 0, maximum: 65535)
        case "metricsProvider.exportJvmInfo": metrics.exportJvmInfo = try Self.boolean(key, value)
        case "admin.snapshot.enabled": adminSnapshotEnabled = try Self.boolean(key, value)
        case "admin.restore.enabled": adminRestoreEnabled = try Self.boolean(key, value)
        case "admin.restoreBytesMax": admin.restoreBytesMax = try Self.integer(key, value, minimum: 1)
        case "admin.rateLimiterIntervalInMS": adminRateLimiterIntervalMs = Int64(try Self.integer(key, value, minimum: 0))
        case "admin.enableServer": admin.enabled = try Self.boolean(key, value)
        case "admin.serverAddress": admin.address = value
        case "admin.serverPort": admin.port = try Self.integer(key, value, minimum: 0, maximum: 65535)
        case "admin.commandURL": admin.commandURL = value.hasPrefix("/") ? value : "/" + value
        case "admin.idleTimeout": admin.idleTimeoutMs = Int64(try Self.integer(key, value, minimum: 1))
        case "shutdownTimeoutMs": shutdownTimeoutMs = try Self.integer(key, value, minimum: 1)
        case "connectionCloseLingerMs": connectionCloseLingerMs = Int64(try Self.integer(key, value, minimum: 0))
        case "replyBytesMax": replyBytesMax = try Self.integer(key, value, minimum: 1024, maximum: Int(Int32.max) - 4)
        case "nio.sessionlessCnxnTimeout": sessionlessConnectionTimeoutMs = Int64(try Self.integer(key, value, minimum: 1))
        default:
            if try ensemble.apply(key: key, value: value) { return }
            if !Self.acceptedKeys.contains(key) { unknownKeys.append(key) }
        }
    }

    func validate() throws {
        try ensemble.validate()
        let minimum = effectiveMinSessionTimeoutMs, maximum = effectiveMaxSessionTimeoutMs
        if minimum > maximum {
            throw ConfigurationError(description: "minSessionTimeout: \(minimum) must not be larger than maxSessionTimeout \(maximum)")
        }
        if connectionUnsentBytesClose <= connectionUnsentBytesPause + juteMaxBuffer {
            throw ConfigurationError(description: "connectionUnsentBytesClose: \(connectionUnsentBytesClose) must exceed connectionUnsentBytesPause plus jute.maxbuffer (\(connectionUnsentBytesPause + juteMaxBuffer)), or a client that reads would be closed")
        }
    }

    public var effectiveMinSessionTimeoutMs: Int32 {
        if let value = minSessionTimeoutMs, value != -1 { return value }
        return Int32(clamping: tickTimeMs * 2)
    }
    public var effectiveMaxSessionTimeoutMs: Int32 {
        if let value = maxSessionTimeoutMs, value != -1 { return value }
        return Int32(clamping: tickTimeMs * 20)
    }

    static func integer(_ key: String, _ value: String, minimum: Int, maximum: Int = Int.max) throws -> Int {
        guard let number = Int(value), number >= minimum, number <= maximum else {
            throw ConfigurationError(description: "\(key): invalid value '\(value)' (expected an integer from \(minimum) to \(maximum))")
        }
        return number
    }

    static func boolean(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw ConfigurationError(description: "\(key): invalid value '\(value)' (expected true or false)")
        }
    }

    /// The replica's view of this configuration.
    public func replicaConfiguration(environment: [(String, String)]) -> ReplicaConfiguration {
        var replica = ReplicaConfiguration()
        replica.tickTimeMs = tickTimeMs
        replica.minSessionTimeoutMs = effectiveMinSessionTimeoutMs
        replica.maxSessionTimeoutMs = effectiveMaxSessionTimeoutMs
        replica.maxClientCnxns = maxClientCnxns
        replica.frameBytesMax = juteMaxBuffer
        replica.extendedTypesEnabled = extendedTypesEnabled
        replica.skipACL = skipACL
        replica.connectionLoopReads = connectionLoopReads
        replica.digestEnabled = digestEnabled
        replica.superDigest = superDigest
        replica.reconfigEnabled = reconfigEnabled
        replica.fourLetterWordWhitelist = fourLetterWordWhitelist
        replica.containerCheckIntervalMs = containerCheckIntervalMs
        replica.containerMaxPerMinute = containerMaxPerMinute
        replica.containerMaxNeverUsedIntervalMs = containerMaxNeverUsedIntervalMs
        replica.sessionlessConnectionTimeoutMs = sessionlessConnectionTimeoutMs
        replica.globalOutstandingLimit = globalOutstandingLimit
        replica.connectionRequestsInFlightMax = connectionRequestsInFlightMax
        replica.connectionUnsentBytesPause = connectionUnsentBytesPause
        replica.connectionUnsentBytesClose = connectionUnsentBytesClose
        replica.connectionAuthIdsMax = connectionAuthIdsMax
        replica.replyBytesMaxSetting = replyBytesMax
        replica.environment = environment
        replica.initialConfigurationText = initialConfigurationText
        replica.adminSnapshotEnabled = adminSnapshotEnabled
        replica.adminRestoreEnabled = adminRestoreEnabled
        replica.prometheusMetrics = metrics.enabled
        replica.adminRateLimiterIntervalMs = adminRateLimiterIntervalMs
        let dataPath = (dataDir as NSString).appendingPathComponent("version-2")
        let logPath = ((dataLogDir ?? dataDir) as NSString).appendingPathComponent("version-2")
        replica.configurationReport = [
            ("clientPort", "\(clientPort)"), ("secureClientPort", "-1"), ("dataDir", dataPath), ("dataDirSize", "0"),
            ("dataLogDir", logPath), ("dataLogSize", "0"), ("tickTime", "\(tickTimeMs)"),
            ("maxClientCnxns", "\(maxClientCnxns)"), ("minSessionTimeout", "\(effectiveMinSessionTimeoutMs)"),
            ("maxSessionTimeout", "\(effectiveMaxSessionTimeoutMs)"), ("clientPortListenBacklog", "\(clientPortListenBacklog)"),
            ("serverId", "0"),
        ]
        return replica
    }

    /// The listen backlog in effect.
    var effectiveListenBacklog: Int { clientPortListenBacklog > 0 ? clientPortListenBacklog : 1024 }

    /// What each client connection's handler enforces.
    var connectionLimits: ClientConnectionLimits {
        ClientConnectionLimits(
            frameBytesMax: juteMaxBuffer, inTransitBytesMax: connectionInTransitBytesMax, closeLingerMs: connectionCloseLingerMs,
            localReadsReportIntervalMs: max(1, min(500, Int64(tickTimeMs) / 2)))
    }
}
