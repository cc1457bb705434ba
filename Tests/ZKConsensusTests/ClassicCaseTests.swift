import Testing
import ZKModel
@testable import ZKConsensus

/// The classic ZAB failure cases, scripted message by message.
@Suite struct ClassicCaseTests {
    static func e(_ epoch: Int64, _ counter: Int64) -> Zxid { ZxidLayout.make(epoch: epoch, counter: counter) }

    static func disk(epoch: Int64, zxids: [Zxid], base: Zxid = 0) -> ScriptedCluster.Disk {
        ScriptedCluster.Disk(acceptedEpoch: epoch, currentEpoch: epoch, baseZxid: base, log: zxids.map(ScriptedCluster.txn))
    }

    @Test func threeServersElectTheBestAndCommit() {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let leader = try! #require(cluster.leader)
        #expect(leader == 3)
        #expect(cluster.peers[leader]!.currentEpoch == 1)
        let zxid = cluster.propose(at: leader)
        #expect(zxid == Self.e(1, 1))
        cluster.settle(ms: 500)
        for id: ServerID in [1, 2, 3] { #expect(cluster.applied[id] == [zxid]) }
    }

    /// An observer accepted epoch 7 from a leader that never established it; the voters then
    /// elect a leader for epoch 4. The observer follows epoch 4 (its promise counts in no
    /// quorum) instead of waiting for an election that may never come (found by the
    /// simulator, seed 2429).
    @Test func observerFollowsALeaderBelowItsAcceptedEpoch() {
        let voters = Self.disk(epoch: 3, zxids: [Self.e(3, 1)])
        var observer = Self.disk(epoch: 3, zxids: [Self.e(3, 1)])
        observer.acceptedEpoch = 7
        var cluster = ScriptedCluster(voters: [1, 2, 3], observers: [9], logs: [1: voters, 2: voters, 3: voters, 9: observer])
        cluster.settle()
        let leader = try! #require(cluster.leader)
        #expect(cluster.peers[leader]!.currentEpoch == 4)
        #expect(cluster.peers[9]!.state == ServerState.observing)
        #expect(cluster.peers[9]!.phase == ZabPhase.broadcast)
        let zxid = cluster.propose(at: leader)
        cluster.settle(ms: 500)
        #expect(cluster.applied[9]!.contains(zxid))
        #expect(cluster.peers[9]!.acceptedEpoch == 4)
    }

    /// The leader logs a proposal and dies before anyone saw it: the proposal is gone, the
    /// others elect a new leader, and the old one rejoins without it.
    @Test func leaderCrashRightAfterProposing() {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let old = cluster.leader!
        let lost = cluster.propose(at: old)
        cluster.crash(old)
        cluster.settle()
        let new = try! #require(cluster.leader)
        #expect(new != old)
        let kept = cluster.propose(at: new)
        cluster.settle(ms: 500)
        cluster.start(old)
        cluster.settle()
        for id: ServerID in [1, 2, 3] {
            #expect(!cluster.applied[id]!.contains(lost))
            #expect(cluster.applied[id]!.contains(kept))
        }
    }

    /// The proposal reached a follower's disk but no COMMIT went out before the leader died:
    /// being on a quorum of disks, it survives into the next epoch.
    @Test func proposalOnAQuorumSurvivesTheLeader() {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let old = cluster.leader!
        let zxid = cluster.propose(at: old)
        cluster.deliver()           // the PROPOSAL reaches both followers …
        cluster.syncDisks()         // … who log it; their ACKs wait in the outbox
        cluster.outbox.removeAll()  // and are lost with the leader
        cluster.crash(old)
        cluster.settle()
        #expect(cluster.leader != nil)
        for id: ServerID in [1, 2, 3] where id != old { #expect(cluster.applied[id]!.contains(zxid)) }
        cluster.start(old)
        cluster.settle()
        #expect(cluster.applied[old]!.contains(zxid))
    }

    /// A follower got proposals but crashed before its fsync: it restarts without them and
    /// catches up by DIFF.
    @Test func followerRestartWithAnUnsyncedTail() {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let leader = cluster.leader!
        let follower = ([1, 2, 3] as [ServerID]).first { $0 != leader }!
        let first = cluster.propose(at: leader)
        cluster.settle(ms: 300)
        let second = cluster.propose(at: leader)
        cluster.deliver()
        cluster.syncDisks([leader] + ([1, 2, 3] as [ServerID]).filter { $0 != leader && $0 != follower })
        cluster.crash(follower)
        cluster.settle(ms: 300)
        cluster.start(follower)
        #expect(cluster.applied[follower] == [first])
        cluster.settle()
        #expect(cluster.applied[follower] == [first, second])
        #expect(cluster.applied[leader] == [first, second])
    }

    /// Server 1 led epoch 1 and logged two proposals nobody else saw. Servers 2 and 3 move on
    /// to epoch 2; when 1 comes back it must TRUNC those two away.
    @Test func returningOldLeaderIsTruncated() {
        let shared = [Self.e(1, 1), Self.e(1, 2), Self.e(1, 3)]
        var cluster = ScriptedCluster(
            voters: [1, 2, 3],
            logs: [1: Self.disk(epoch: 1, zxids: shared + [Self.e(1, 4), Self.e(1, 5)]), 2: Self.disk(epoch: 1, zxids: shared), 3: Self.disk(epoch: 1, zxids: shared)])
        cluster.crash(1)
        cluster.settle()
        let leader = try! #require(cluster.leader)
        #expect(leader == 3)
        #expect(cluster.peers[3]!.currentEpoch == 2)
        let next = cluster.propose(at: leader)
        #expect(next == Self.e(2, 1))
        cluster.settle(ms: 500)
        cluster.start(1)
        cluster.settle()
        #expect(cluster.peers[1]!.leaderId == 3)
        #expect(cluster.disks[1]!.log.map(\.zxid) == shared + [next])
        #expect(cluster.applied[1] == shared + [next])
    }

    /// A learner whose log ends before the leader's snapshot gets the whole state (SNAP).
    @Test func laggingLearnerGetsASnapshot() {
        let base = Self.e(1, 10)
        let tail = [Self.e(1, 11), Self.e(1, 12)]
        var cluster = ScriptedCluster(
            voters: [1, 2, 3],
            logs: [1: Self.disk(epoch: 1, zxids: tail, base: base), 2: Self.disk(epoch: 1, zxids: tail, base: base), 3: Self.disk(epoch: 0, zxids: [])])
        cluster.settle()
        #expect(cluster.leader == 2)
        #expect(cluster.disks[3]!.baseZxid == Self.e(1, 12))
        let next = cluster.propose(at: 2)
        cluster.settle(ms: 500)
        #expect(cluster.applied[3] == [Self.e(1, 12), next])
    }

    /// A leader cut off with one follower out of five keeps proposing but never commits; the
    /// majority side elects its own leader and commits; after healing, the minority's
    /// proposals are gone everywhere.
    @Test func minorityPartitionMustNotCommit() {
        var cluster = ScriptedCluster(voters: [1, 2, 3, 4, 5])
        cluster.settle()
        #expect(cluster.leader == 5)
        let minority: Set<ServerID> = [5, 4]
        for a in minority { for b: ServerID in [1, 2, 3] { cluster.blocked.insert([a, b]); cluster.blocked.insert([b, a]) } }
        let orphan = cluster.propose(at: 5)
        cluster.settle(ms: 300)
        #expect(!cluster.applied[5]!.contains(orphan))
        #expect(!cluster.applied[4]!.contains(orphan))
        cluster.settle(ms: 5_000)
        let majorityLeader = try! #require(cluster.leader)
        #expect(!minority.contains(majorityLeader))
        let committed = cluster.propose(at: majorityLeader)
        cluster.settle(ms: 500)
        cluster.blocked = []
        cluster.settle(ms: 5_000)
        for id: ServerID in 1...5 {
            #expect(cluster.applied[id]!.contains(committed), "server \(id)")
            #expect(!cluster.applied[id]!.contains(orphan), "server \(id)")
        }
    }

    /// `sync` at the leader and at a follower finishes while the ensemble is healthy. A leader
    /// cut off with a minority never answers one (no quorum echoes its ping round), and its
    /// pending syncs fail once it steps down, so a read after `sync` is never stale.
    @Test func staleLeaderNeverAnswersSync() {
        var cluster = ScriptedCluster(voters: [1, 2, 3, 4, 5])
        cluster.settle()
        #expect(cluster.leader == 5)
        cluster.sync(at: 5, requestId: 1)
        cluster.sync(at: 2, requestId: 2)
        cluster.settle(ms: 300)
        #expect(cluster.syncs[1] == .done(at: 5))
        #expect(cluster.syncs[2] == .done(at: 2))
        for a: ServerID in [5, 4] { for b: ServerID in [1, 2, 3] { cluster.blocked.insert([a, b]); cluster.blocked.insert([b, a]) } }
        cluster.sync(at: 5, requestId: 3)
        cluster.sync(at: 4, requestId: 4)
        cluster.settle(ms: 300)
        #expect(cluster.syncs[3] == nil)
        #expect(cluster.syncs[4] == nil)
        cluster.settle(ms: 5_000)
        #expect(cluster.syncs[3] == .failed(at: 5))
        #expect(cluster.syncs[4] == .failed(at: 4))
        // Meanwhile the majority serves syncs under its own leader.
        let leader = try! #require(cluster.leader)
        #expect([1, 2, 3].contains(leader))
        cluster.sync(at: 1, requestId: 5)
        cluster.settle(ms: 300)
        #expect(cluster.syncs[5] == .done(at: 1))
    }
}
