import ZKConsensus
import ZKDataTree
import ZKModel

/// One ensemble member in the simulation: the real `Peer`, a disk (durable epochs, snapshot
/// and log, plus writes not yet synced, which a crash loses), and the state machine.
struct SimulatedNode {
    let id: ServerID
    var peer: Peer
    /// The node's clock is `offset + now × rate / 1000`.
    var clockOffsetMs: Int64 = 0
    var clockRatePerMille: Int64 = 1000
    var up = true
    // Durable.
    var acceptedEpoch: Int64 = 0
    var currentEpoch: Int64 = 0
    var baseTree = DataTree()
    var baseSessions: Set<SessionID> = []
    var durableLog: [Txn] = []
    // Volatile.
    var unsynced: [Txn] = []
    var tree = DataTree()
    /// Live sessions, part of the state machine as in ZooKeeper's database.
    var sessions: Set<SessionID> = []
    /// The leader's view of its not yet applied proposals, for preparing client writes.
    var pending = PendingChanges()
    /// Sessions whose closeSession this leader proposed: no more requests for them.
    var closingSessions: Set<SessionID> = []
    /// Bumped by crashes, truncations and snapshots, so stale fsync completions are ignored.
    var diskGeneration = 0

    init(id: ServerID, configuration: PeerConfiguration, now: Int64) {
        self.id = id
        peer = Peer(configuration: configuration, durable: PeerDurableState(), now: now)
    }

    /// Loses everything not on disk and starts again from the disk, through the same
    /// replay rules recovery uses.
    mutating func restart(configuration: PeerConfiguration, now: Int64) {
        unsynced = []
        diskGeneration += 1
        tree = baseTree
        sessions = baseSessions
        for txn in durableLog { applyToStateMachine(txn) }
        peer = Peer(
            configuration: configuration,
            durable: PeerDurableState(acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch, baseZxid: baseTree.lastProcessedZxid, log: durableLog),
            now: now)
        up = true
    }

    mutating func crash() {
        up = false
        unsynced = []
        diskGeneration += 1
    }

    /// Rebuilds the state machine after a TRUNC from the snapshot and the remaining log.
    mutating func reload() {
        tree = baseTree
        sessions = baseSessions
        for txn in peer.log where txn.zxid <= peer.committedZxid { applyToStateMachine(txn) }
    }

    /// The tree and the session set, as recovery and apply change them.
    mutating func applyToStateMachine(_ txn: Txn) {
        switch txn.body {
        case .createSession: sessions.insert(txn.header.clientId)
        case .closeSession: sessions.remove(txn.header.clientId)
        default: break
        }
        tree.replay(txn)
    }
}
