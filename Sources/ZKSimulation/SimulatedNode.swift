import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence
import ZKReplica

/// One ensemble member in the simulation: the real `Replica` (with its real `Peer`) on a
/// simulated data directory in ZooKeeper's formats.
struct SimulatedNode {
    let id: ServerID
    var replica: Replica
    var disk = SimulatedDisk()
    /// The node's clock is `offset + now × rate / 1000`.
    var clockOffsetMs: Int64 = 0
    var clockRatePerMille: Int64 = 1000
    var up = true
    /// Bumped by crashes and snapshots, so stale fsync completions are ignored.
    var diskGeneration = 0
    /// Txns logged since the last periodic snapshot, and how many trigger the next one.
    var txnsSinceSnapshot = 0
    var snapshotAfterTxns = Int.max

    var peer: Peer { replica.peer! }
    var tree: DataTree { replica.tree }
    var sessions: Set<SessionID> { Set(replica.sessions.sessions.keys) }

    init(id: ServerID, replicaConfiguration: ReplicaConfiguration, peerConfiguration: PeerConfiguration, now: ReplicaTime) {
        self.id = id
        replica = Replica(
            configuration: replicaConfiguration, peerConfiguration: peerConfiguration, durable: PeerDurableState(),
            tree: DataTree(), sessionTimeouts: [:], now: now, monotonicMs: now.elapsedMs)
        replica.appliedRecord = []
    }

    /// Power loss: what was fsynced stays, and of what was only written, whatever
    /// `extraBytes` says reached the disk (a torn tail when it ends mid-entry).
    mutating func crash(extraBytes: (Int) -> Int) {
        up = false
        disk.crash(extraBytes: extraBytes)
        diskGeneration += 1
    }

    /// Start-up through the server's recovery: newest valid snapshot, log replay, torn tail
    /// cut off.
    /// Returns whether recovery cut a torn tail.
    @discardableResult
    mutating func restart(replicaConfiguration: ReplicaConfiguration, peerConfiguration: PeerConfiguration, now: ReplicaTime) throws -> Bool {
        let (state, durable) = try disk.recover()
        replica = Replica(
            configuration: replicaConfiguration, peerConfiguration: peerConfiguration, durable: durable,
            tree: state.tree, sessionTimeouts: state.sessions, now: now, monotonicMs: now.elapsedMs)
        replica.appliedRecord = []
        up = true
        return state.tornTail != nil
    }

    /// SNAP: the leader's state replaces the disk's.
    mutating func installSnapshot(zxid: Zxid, _ snapshot: SyncSnapshot) {
        disk.installSnapshot(zxid: zxid, snapshot)
        diskGeneration += 1
    }
}
