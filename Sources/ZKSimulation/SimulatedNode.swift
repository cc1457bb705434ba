import ZKConsensus
import ZKDataTree
import ZKModel
import ZKReplica

/// One ensemble member in the simulation: the real `Replica` (with its real `Peer`) and a
/// disk (durable epochs, snapshot and log, plus writes not yet synced, which a crash may lose).
struct SimulatedNode {
    let id: ServerID
    var replica: Replica
    /// The node's clock is `offset + now × rate / 1000`.
    var clockOffsetMs: Int64 = 0
    var clockRatePerMille: Int64 = 1000
    var up = true
    // Durable.
    var acceptedEpoch: Int64 = 0
    var currentEpoch: Int64 = 0
    var baseTree = DataTree()
    var baseSessions: [SessionID: Int32] = [:]
    var durableLog: [Txn] = []
    // Volatile: written, not yet fsynced.
    var unsynced: [Txn] = []
    /// Bumped by crashes, truncations and snapshots, so stale fsync completions are ignored.
    var diskGeneration = 0

    var peer: Peer { replica.peer! }
    var tree: DataTree { replica.tree }
    var sessions: Set<SessionID> { Set(replica.sessions.sessions.keys) }

    init(id: ServerID, replicaConfiguration: ReplicaConfiguration, peerConfiguration: PeerConfiguration, now: Int64) {
        self.id = id
        replica = Replica(
            configuration: replicaConfiguration, peerConfiguration: peerConfiguration, durable: PeerDurableState(),
            tree: DataTree(), sessionTimeouts: [:], now: now, monotonicMs: now)
        replica.appliedRecord = []
    }

    /// Loses what was never written and starts again from the disk: the snapshot, then the
    /// log replayed with the rules recovery uses. Writes not yet fsynced may have reached the
    /// disk anyway: `survivors` of them (a prefix) did.
    mutating func crash(survivors: Int) {
        up = false
        durableLog += unsynced.prefix(survivors)
        unsynced = []
        diskGeneration += 1
    }

    mutating func restart(replicaConfiguration: ReplicaConfiguration, peerConfiguration: PeerConfiguration, now: Int64) {
        let (tree, sessions) = recoveredState(upTo: nil)
        let durable = PeerDurableState(
            acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch, baseZxid: baseTree.lastProcessedZxid, log: durableLog)
        replica = Replica(
            configuration: replicaConfiguration, peerConfiguration: peerConfiguration, durable: durable,
            tree: tree, sessionTimeouts: sessions, now: now, monotonicMs: now)
        replica.appliedRecord = []
        up = true
    }

    /// The snapshot with every logged txn (up to `zxid`) replayed on it, as recovery does;
    /// sessions follow createSession and closeSession.
    func recoveredState(upTo zxid: Zxid?) -> (DataTree, [SessionID: Int32]) {
        var tree = baseTree
        var sessions = baseSessions
        for txn in durableLog + unsynced where zxid.map({ txn.zxid <= $0 }) ?? true {
            switch txn.body {
            case .createSession(let timeoutMs): sessions[txn.header.clientId] = timeoutMs
            case .closeSession: sessions[txn.header.clientId] = nil
            default: break
            }
            tree.replay(txn)
        }
        return (tree, sessions)
    }

    /// TRUNC: the log is cut back to `zxid` and the state rebuilt from what is left.
    mutating func truncate(to zxid: Zxid) -> (DataTree, [SessionID: Int32]) {
        durableLog.removeAll { $0.zxid > zxid }
        unsynced.removeAll { $0.zxid > zxid }
        return recoveredState(upTo: zxid)
    }

    /// SNAP: the leader's state replaces the disk's.
    mutating func installSnapshot(_ snapshot: SyncSnapshot) {
        baseTree = snapshot.tree
        baseSessions = snapshot.sessions
        durableLog = []
        unsynced = []
        diskGeneration += 1
    }
}
