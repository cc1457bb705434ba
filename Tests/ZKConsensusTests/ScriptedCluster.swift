import ZKDataTree
import ZKModel
@testable import ZKConsensus

/// A hand-driven ensemble for scripting classic failure cases step by step: messages wait in
/// an outbox until delivered, log writes wait until `syncDisks`, nothing happens by itself.
struct ScriptedCluster {
    struct Disk {
        var acceptedEpoch: Int64 = 0
        var currentEpoch: Int64 = 0
        var baseZxid: Zxid = 0
        var log: [Txn] = []
    }

    let quorum: QuorumConfiguration
    var peers: [ServerID: Peer] = [:]
    var disks: [ServerID: Disk] = [:]
    var unsynced: [ServerID: [Txn]] = [:]
    var applied: [ServerID: [Zxid]] = [:]
    var outbox: [(from: ServerID, to: ServerID, message: PeerMessage)] = []
    var down: Set<ServerID> = []
    var blocked: Set<[ServerID]> = []
    var now: Int64 = 0
    enum SyncResult: Equatable { case done(at: ServerID), failed(at: ServerID) }
    var syncs: [UInt64: SyncResult] = [:]

    /// `commitLogCount` and `diffFromLogEnabled` of every member.
    var commitLogCount = 500
    var diffFromLog = false
    /// How a leader's shell answers `readLogForLearner`; by default with its disk's log from
    /// the last txn at or before the learner's zxid.
    var logReadAnswer: ((ServerID, Zxid, [Txn]) -> [Txn]?)?
    /// SNAPs each member installed, and learners each leader synced from its log.
    var snapshotsInstalled: [ServerID: Int] = [:]
    var logReads: [ServerID: Int] = [:]

    init(voters: Set<ServerID>, observers: Set<ServerID> = [], logs: [ServerID: Disk] = [:], commitLogCount: Int = 500, diffFromLog: Bool = false) {
        self.commitLogCount = commitLogCount
        self.diffFromLog = diffFromLog
        quorum = QuorumConfiguration(voters: voters, observers: observers)
        for id in voters.union(observers).sorted() {
            disks[id] = logs[id] ?? Disk()
            start(id)
        }
    }

    func configuration(_ id: ServerID) -> PeerConfiguration {
        var configuration = PeerConfiguration(me: id, quorum: quorum)
        configuration.tickTimeMs = 200
        configuration.commitLogCount = commitLogCount
        configuration.diffFromLogEnabled = diffFromLog
        return configuration
    }

    /// (Re)starts a member from its disk; what was not synced is gone.
    mutating func start(_ id: ServerID) {
        let disk = disks[id]!
        unsynced[id] = []
        down.remove(id)
        applied[id] = disk.log.map(\.zxid)
        peers[id] = Peer(
            configuration: configuration(id),
            durable: PeerDurableState(acceptedEpoch: disk.acceptedEpoch, currentEpoch: disk.currentEpoch, baseZxid: disk.baseZxid, log: disk.log),
            now: now)
        outbox.removeAll { $0.to == id || $0.from == id }
    }

    mutating func crash(_ id: ServerID) {
        down.insert(id)
        unsynced[id] = []
        outbox.removeAll { $0.to == id || $0.from == id }
        for other in peers.keys.sorted() where other != id && !down.contains(other) {
            run(other, peers[other]!.connectionLost(to: id, now: now))
        }
    }

    mutating func run(_ id: ServerID, _ actions: [PeerAction]) {
        for action in actions {
            switch action {
            case .send(let to, let message): outbox.append((id, to, message))
            case .persistTxns(let txns): unsynced[id, default: []] += txns
            case .persistAcceptedEpoch(let epoch): disks[id]!.acceptedEpoch = epoch
            case .persistCurrentEpoch(let epoch): disks[id]!.currentEpoch = epoch
            case .truncateLog(let zxid):
                disks[id]!.log.removeAll { $0.zxid > zxid }
                unsynced[id]!.removeAll { $0.zxid > zxid }
                applied[id]!.removeAll { $0 > zxid }
            case .installSnapshot(let zxid, _):
                snapshotsInstalled[id, default: 0] += 1
                disks[id]!.baseZxid = zxid
                disks[id]!.log = []
                unsynced[id] = []
                applied[id] = [zxid]
            case .takeSnapshotForLearner(let learner):
                let zxid = peers[id]!.committedZxid
                run(id, peers[id]!.snapshotReady(for: learner, zxid: zxid, snapshot: SyncSnapshot(tree: DataTree(), sessions: [:]), now: now))
            case .readLogForLearner(let learner, let after):
                logReads[id, default: 0] += 1
                let logged = disks[id]!.log + unsynced[id]!
                let answer = logReadAnswer.map { $0(id, after, logged) } ?? {
                    guard let index = logged.lastIndex(where: { $0.zxid <= after }) else { return nil }
                    return Array(logged[index...])
                }()
                run(id, peers[id]!.logRead(for: learner, txns: answer, now: now))
            case .apply(let txn): applied[id, default: []].append(txn.zxid)
            case .closeConnection(let peer):
                outbox.removeAll { ($0.from == id && $0.to == peer) || ($0.from == peer && $0.to == id) }
                if !down.contains(peer) { run(peer, peers[peer]!.connectionLost(to: id, now: now)) }
            case .roleChanged, .notice: break
            case .syncDone(let requestId, _): syncs[requestId] = .done(at: id)
            case .syncFailed(let requestId): syncs[requestId] = .failed(at: id)
            }
        }
    }

    /// Delivers queued messages (and what they cause) until none are left or `limit` passed.
    mutating func deliver(limit: Int = 10_000) {
        var count = 0
        while !outbox.isEmpty && count < limit {
            let (from, to, message) = outbox.removeFirst()
            count += 1
            guard !down.contains(to), !blocked.contains([from, to]) else { continue }
            run(to, peers[to]!.receive(message, from: from, now: now))
        }
    }

    mutating func syncDisks(_ ids: [ServerID]? = nil) {
        for id in (ids ?? peers.keys.sorted()) where !down.contains(id) {
            guard let last = unsynced[id]?.last else { continue }
            disks[id]!.log += unsynced[id]!
            unsynced[id] = []
            run(id, peers[id]!.persisted(upTo: last.zxid, now: now))
        }
    }

    /// Lets time pass in 50 ms steps: ticks, deliveries and disk syncs everywhere.
    mutating func settle(ms: Int64 = 5_000, syncing: Bool = true) {
        let end = now + ms
        while now < end {
            now += 50
            for id in peers.keys.sorted() where !down.contains(id) { run(id, peers[id]!.tick(now: now)) }
            deliver()
            if syncing { syncDisks() }
            deliver()
        }
    }

    var leader: ServerID? {
        peers.keys.sorted().first { !down.contains($0) && peers[$0]!.state == .leading && peers[$0]!.phase == .broadcast }
    }

    /// The leader proposes a create; returns its zxid.
    @discardableResult
    mutating func propose(at leader: ServerID) -> Zxid {
        let zxid = peers[leader]!.nextZxid!
        let txn = Txn(
            header: TxnHeader(clientId: 0, cxid: 0, zxid: zxid, time: now, type: OpCode.create.rawValue),
            body: .create(path: "/n\(zxid)", data: [], acl: ACL.openACLUnsafe, ephemeral: false, parentCVersion: -1))
        run(leader, peers[leader]!.propose(txn, now: now))
        return zxid
    }

    /// A client asks member `id` to `sync`; the result lands in `syncs`.
    mutating func sync(at id: ServerID, requestId: UInt64) {
        let actions = peers[id]!.sync(requestId, now: now)
        run(id, actions)
    }

    static func txn(_ zxid: Zxid) -> Txn {
        Txn(
            header: TxnHeader(clientId: 0, cxid: 0, zxid: zxid, time: 0, type: OpCode.create.rawValue),
            body: .create(path: "/n\(zxid)", data: [], acl: ACL.openACLUnsafe, ephemeral: false, parentCVersion: -1))
    }
}
