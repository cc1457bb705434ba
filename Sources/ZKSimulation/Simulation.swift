import ZKConsensus
import ZKDataTree
import NIOCore
import ZKModel
import ZKReplica

/// What one seed draws, printed first so a failure can be understood and replayed.
public struct SimulationSetup: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var nodes: Int
    public var observers: Int
    public var safetyMs: Int64
    public var livenessMs: Int64
    public var messageDelayMaxMs: Int64
    public var fsyncDelayMaxMs: Int64
    public var crashEveryMs: Int64
    public var partitionEveryMs: Int64
    public var resetEveryMs: Int64
    public var clogEveryMs: Int64
    public var clientStepMs: Int64
    public var injectedBug: InjectedBug?
    /// Voters that stay down through the liveness phase (at most a minority): the rest must
    /// make progress and converge without them.
    public var downInLiveness: Int
    /// `snapCount`: a member snapshots its applied state and rolls its log after
    /// snapCount/2 + random(snapCount/2) logged txns, as the server does.
    public var snapCount: Int
    /// The peers' in-memory window of committed txns (`commitLogCount`); small ones make
    /// learners that fell behind it sync by SNAP.
    public var commitLogCount: Int
    /// `localSessionsEnabled` and `localSessionsUpgradingEnabled`, as a member's zoo.cfg
    /// would set them: nil is off; true upgrades a local session at its first ephemeral,
    /// false refuses that create.
    public var localSessionsUpgrading: Bool?
    /// `snapshotSizeFactor`: nil turns DIFF from the on-disk log off; otherwise a learner
    /// older than the leader's window is synced from its log when that is at most this
    /// times its newest snapshot.
    public var snapshotSizeFactor: Double?
    /// `autopurge.snapRetainCount` after every snapshot a member takes (nil: no purge): older
    /// snapshots and the logs only they need are deleted, as the server's purge does.
    public var purgeRetainCount: Int?
    /// One fsync in this many fails (0: none); the member then leaves as the server does
    /// (exit, whatever was written but not synced may or may not be on disk) and restarts.
    public var fsyncFailureOneIn: Int
    /// Keep the event trace as text in the result (for reading a failure).
    public var keepsTrace = false

    public init(seed: UInt64, nodes: Int? = nil, safetyMs: Int64 = 60_000, injectedBug: InjectedBug? = nil) {
        var random = SeededGenerator(seed: seed)
        self.seed = seed
        self.nodes = nodes ?? (Bool.random(using: &random) ? 3 : 5)
        observers = Int.random(in: 0...1, using: &random)
        self.safetyMs = safetyMs
        livenessMs = 30_000
        messageDelayMaxMs = [2, 10, 50].randomElement(using: &random)!
        fsyncDelayMaxMs = [1, 5, 40].randomElement(using: &random)!
        crashEveryMs = [1_500, 4_000, 10_000].randomElement(using: &random)!
        partitionEveryMs = [2_000, 6_000, 20_000].randomElement(using: &random)!
        resetEveryMs = [1_000, 5_000].randomElement(using: &random)!
        clogEveryMs = [1_000, 4_000, 15_000].randomElement(using: &random)!
        clientStepMs = [5, 20, 50].randomElement(using: &random)!
        self.injectedBug = injectedBug
        downInLiveness = Int.random(in: 0...((self.nodes - 1) / 2), using: &random)
        snapCount = [40, 150, 100_000].randomElement(using: &random)!
        commitLogCount = [8, 60, 500].randomElement(using: &random)!
        // Drawn last, so that the draws above stay what they were for every seed.
        localSessionsUpgrading = [nil, true, false].randomElement(using: &random)!
        snapshotSizeFactor = [nil, 0.33, 1_000].randomElement(using: &random)!
        purgeRetainCount = [nil, 3, 1].randomElement(using: &random)!
        fsyncFailureOneIn = [0, 300, 3_000].randomElement(using: &random)!
    }

    public var description: String {
        "seed \(seed): \(nodes) voters + \(observers) observer(s), safety \(safetyMs / 1000) s then liveness \(livenessMs / 1000) s "
            + "with \(downInLiveness) voter(s) left down; snapCount \(snapCount), commitLogCount \(commitLogCount), "
            + "local sessions \(localSessionsUpgrading.map { $0 ? "upgrading" : "not upgrading" } ?? "off"), "
            + "DIFF from the log \(snapshotSizeFactor.map { "up to \($0) × a snapshot" } ?? "off"), "
            + "purge \(purgeRetainCount.map { "keeping \($0) snapshots" } ?? "off"), "
            + "fsync failures \(fsyncFailureOneIn == 0 ? "none" : "1 in \(fsyncFailureOneIn)"), "
            + "message delay ≤ \(messageDelayMaxMs) ms, fsync ≤ \(fsyncDelayMaxMs) ms, crash every ~\(crashEveryMs) ms, "
            + "partition every ~\(partitionEveryMs) ms, reset every ~\(resetEveryMs) ms, clog every ~\(clogEveryMs) ms, clocks ±5%, \(Simulation.clientCount) clients, a client step every ~\(clientStepMs) ms"
            + (injectedBug.map { "; INJECTED BUG \($0.rawValue)" } ?? "")
    }
}

/// The outcome of one seed.
public struct SimulationResult: Sendable {
    public var setup: SimulationSetup
    public var violation: String?
    public var traceHash: UInt64
    /// The event trace as text, when the setup asked for it.
    public var trace: [String]?
    public var committedTxns: Int
    /// Client operations on the shared paths with a known answer, and all of them recorded.
    public var clientAnswers: Int
    public var clientOperations: Int
    public var events: Int
    /// Sessions the leader expired (closeSession txns it made itself).
    public var expiredSessions: Int
    /// Restarts whose recovery cut a torn final log entry.
    public var tornTails: Int
    /// Learners a leader synced from its on-disk log (DIFF or TRUNC beyond its window).
    public var diffsFromLog: Int
    /// Members that left because an fsync failed.
    public var logFailures: Int
    public var nodeStatus: [String]
    public var simulatedMs: Int64

    public var replayCommand: String {
        "swiftkeeper sim --seed \(setup.seed)" + (setup.injectedBug.map { " --inject-bug \($0.rawValue)" } ?? "")
    }
}

/// Every ensemble member's real `Replica` (with its real `Peer`) in one process, with a
/// seeded network (delays, FIFO links, connection resets, one-way and two-way partitions,
/// clogged links), data directories in ZooKeeper's formats (unsynced writes lost or kept
/// on crash up to any byte, slow fsync), per-member clocks, crashes with restart through
/// the server's recovery code, and clients that speak the client protocol to
/// the members: sessions, every kind of write, multi, reads with and without `sync`, close
/// and expiry. Checkers run after every event. A safety phase with faults, then a liveness
/// phase with everything healed, in which every member must reach the same zxid, tree
/// digest and sessions, and every client must be served again.
public struct Simulation {
    enum Event {
        case deliver(from: ServerID, to: ServerID, PeerMessage, link: Int)
        case connectionLost(at: ServerID, peer: ServerID)
        case synced(ServerID, upTo: Zxid, file: Zxid, length: Int, generation: Int)
        case tick(ServerID)
        case crash
        case restart(ServerID)
        case partition
        case heal
        case reset
        case clog
        case clientStep
        case clientHeartbeat(Int)
        case clientFrame(ServerID, ConnectionID, ByteBuffer, incarnation: Int)
    }

    public let setup: SimulationSetup
    var random: SeededGenerator
    var now: Int64 = 0
    var queue = EventQueue<Event>()
    var nodes: [ServerID: SimulatedNode] = [:]
    let quorum: QuorumConfiguration
    var blocked: Set<[ServerID]> = []
    /// Per directed link: when its last message arrives (links are FIFO, like TCP) and its
    /// incarnation (a reset starts a new one and drops what was in flight).
    var linkBusyUntil: [[ServerID]: Int64] = [:]
    var linkIncarnation: [[ServerID]: Int] = [:]
    var cloggedUntil: [[ServerID]: Int64] = [:]
    /// Bumped when a member restarts: client frames sent to its previous life are lost.
    var nodeIncarnation: [ServerID: Int] = [:]
    var trace = TraceHash()
    var events = 0
    var healed = false
    /// Voters kept down through the liveness phase.
    var leftDown: Set<ServerID> = []
    // Checker state.
    var committed: [Zxid: Txn] = [:]
    /// Txns a serving leader applied (so a quorum logged them) or a client was told succeeded.
    var acknowledged: [Zxid: Txn] = [:]
    var leaderOfEpoch: [Int64: ServerID] = [:]
    var lastApplied: [ServerID: Zxid] = [:]
    var digestAt: [Zxid: UInt64] = [:]
    var diskBusyUntil: [ServerID: Int64] = [:]
    var violation: String?
    // Clients.
    var clients: [SimulatedClient] = Array(repeating: SimulatedClient(), count: Simulation.clientCount)
    var clientOfConnection: [ConnectionID: Int] = [:]
    var nextConnectionId: ConnectionID = 1
    var history: [HistoryOperation] = []
    var nextName = 0
    /// Sessions the members expired or closed: they must never be seen alive again.
    var endedSessions: Set<SessionID> = []
    var expiredSessions = 0
    var tornTails = 0
    var diffsFromLog = 0
    var logFailures = 0

    public init(_ setup: SimulationSetup) {
        self.setup = setup
        random = SeededGenerator(seed: setup.seed ^ 0x5157_4b45_4550_4552)
        if setup.keepsTrace { trace.lines = [] }
        let voters = Set((1...setup.nodes).map { ServerID($0) })
        let observers = Set((0..<setup.observers).map { ServerID(setup.nodes + 1 + $0) })
        quorum = QuorumConfiguration(voters: voters, observers: observers)
        for id in quorum.members.sorted() {
            let offset = Int64.random(in: 0...100_000, using: &random)
            // The same two clocks `clock(id)` reads, at time 0.
            let start = ReplicaTime(elapsedMs: Int64(id) * 1_000_000_000, wallMs: offset)
            nodes[id] = SimulatedNode(
                id: id, replicaConfiguration: replicaConfiguration(for: id), peerConfiguration: configuration(for: id), now: start)
            nodes[id]!.clockOffsetMs = offset
            nodes[id]!.clockRatePerMille = Int64.random(in: 950...1050, using: &random)
            queue.push(.tick(id), at: Int64.random(in: 0..<50, using: &random))
        }
        queue.push(.crash, at: setup.crashEveryMs)
        queue.push(.partition, at: setup.partitionEveryMs)
        queue.push(.reset, at: setup.resetEveryMs)
        queue.push(.clog, at: setup.clogEveryMs)
        queue.push(.clientStep, at: 100)
        for index in 0..<Self.clientCount { queue.push(.clientHeartbeat(index), at: 100 + Int64(index)) }
    }

    static let clientCount = 4
    static let paths = ["/k0", "/k1", "/k2"]
    /// What clients ask for; members negotiate it within 2 and 20 ticks.
    static let sessionTimeoutMs: Int32 = 2_000

    func configuration(for id: ServerID) -> PeerConfiguration {
        var configuration = PeerConfiguration(me: id, quorum: quorum)
        configuration.tickTimeMs = 200
        configuration.initLimit = 10
        configuration.syncLimit = 5
        configuration.maxNotificationIntervalMs = 2_000
        // A small window, so that learners that fall behind it are synced by SNAP.
        configuration.commitLogCount = setup.commitLogCount
        configuration.diffFromLogEnabled = setup.snapshotSizeFactor != nil
        configuration.injectedBug = setup.injectedBug
        return configuration
    }

    func replicaConfiguration(for id: ServerID) -> ReplicaConfiguration {
        var configuration = ReplicaConfiguration()
        configuration.serverId = id
        configuration.tickTimeMs = 200
        configuration.minSessionTimeoutMs = 400
        configuration.maxSessionTimeoutMs = 4_000
        configuration.maxClientCnxns = 0
        // TTL nodes, and a container cleanup often enough to run many times per seed.
        configuration.extendedTypesEnabled = true
        configuration.containerCheckIntervalMs = 1_000
        configuration.localSessionsEnabled = setup.localSessionsUpgrading != nil
        configuration.localSessionsUpgradingEnabled = setup.localSessionsUpgrading ?? false
        return configuration
    }

    public mutating func run() -> SimulationResult {
        let end = setup.safetyMs + setup.livenessMs
        while violation == nil, let (time, event) = queue.pop(), time <= end {
            now = time
            if !healed && now >= setup.safetyMs { heal() }
            events += 1
            handle(event)
        }
        if violation == nil { checkLiveness() }
        return SimulationResult(
            setup: setup, violation: violation, traceHash: trace.value, trace: trace.lines, committedTxns: acknowledged.count,
            clientAnswers: history.filter { $0.returnTime != nil }.count, clientOperations: history.count, events: events, expiredSessions: expiredSessions, tornTails: tornTails, diffsFromLog: diffsFromLog, logFailures: logFailures,
            nodeStatus: nodes.keys.sorted().map(status), simulatedMs: now)
    }

    func status(_ id: ServerID) -> String {
        let node = nodes[id]!
        let peer = node.peer
        return "node \(id): \(node.up ? "up" : "DOWN") \(peer.state) \(peer.phase.rawValue) leader \(peer.leaderId.map(String.init) ?? "-") "
            + "epochs \(node.disk.acceptedEpoch)/\(node.disk.currentEpoch) logged 0x\(String(peer.lastLoggedZxid, radix: 16)) "
            + "committed 0x\(String(peer.committedZxid, radix: 16)) digest \(String(node.tree.digest, radix: 16)) "
            + "sessions \(node.sessions.count)"
    }
}
