import Testing
import ZKModel
@testable import ZKConsensus

/// What a learner joining an established leader sees. ZooKeeper 3.8's learner takes nothing
/// but UPTODATE between NEWLEADER and UPTODATE (a COMMIT there crashes it, a PING makes it
/// exit), so the leader holds what it has for the learner until UPTODATE went out.
@Suite struct LearnerJoinTests {
    @Test func nothingReachesAJoiningLearnerBetweenNewLeaderAndUpToDate() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let leader = try #require(cluster.leader)
        let joiner: ServerID = leader == 1 ? 2 : 1
        cluster.crash(joiner)
        cluster.propose(at: leader)
        cluster.settle(ms: 500)
        cluster.start(joiner)
        // Deliver one message at a time, keeping what the leader sends the joiner; once
        // NEWLEADER is out, write, commit and sync while the joiner's ACK is held back.
        var toJoiner: [PeerMessage] = []
        func step(_ cluster: inout ScriptedCluster) {
            guard !cluster.outbox.isEmpty else { return }
            let next = cluster.outbox.first!
            if next.from == leader && next.to == joiner { toJoiner.append(next.message) }
            cluster.deliver(limit: 1)
        }
        var wroteInWindow = false
        for _ in 0..<400 {
            cluster.now += 10
            for id in cluster.peers.keys.sorted() where !cluster.down.contains(id) { cluster.run(id, cluster.peers[id]!.tick(now: cluster.now)) }
            guard let next = cluster.outbox.first else { continue }
            step(&cluster)
            cluster.syncDisks()
            guard case .newLeader = next.message, next.to == joiner, !wroteInWindow else { continue }
            wroteInWindow = true
            let fromJoiner = cluster.outbox.filter { $0.from == joiner }
            cluster.outbox.removeAll { $0.from == joiner }
            cluster.propose(at: leader)
            cluster.sync(at: leader, requestId: 7)
            for _ in 0..<50 {
                step(&cluster)
                cluster.syncDisks()
                cluster.outbox.removeAll { message in
                    guard message.from == joiner else { return false }
                    return true
                }
            }
            cluster.outbox += fromJoiner
        }
        #expect(wroteInWindow)
        let newLeader = try #require(toJoiner.firstIndex { if case .newLeader = $0 { return true } else { return false } })
        let upToDate = try #require(toJoiner.firstIndex { $0 == .upToDate })
        #expect(upToDate == newLeader + 1, "between NEWLEADER and UPTODATE the joiner got \(toJoiner[(newLeader + 1)..<upToDate])")
        // What was held follows UPTODATE: the proposal made in the window and its commit.
        #expect(toJoiner[(upToDate + 1)...].contains { if case .proposal = $0 { return true } else { return false } })
        cluster.settle(ms: 1_000)
        #expect(cluster.applied[joiner] == cluster.applied[leader])
    }

    @Test func aSyncPingsOnlyLearnersThatWereSentUpToDate() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let leader = try #require(cluster.leader)
        let joiner: ServerID = leader == 1 ? 2 : 1
        cluster.crash(joiner)
        cluster.start(joiner)
        // Deliver until the leader knows the joiner (FOLLOWERINFO) but has not synced it.
        for _ in 0..<200 where !(cluster.peers[leader]!.leaderLearners[joiner].map { if case .discovering = $0.stage { true } else { false } } ?? false) {
            cluster.now += 10
            for id in cluster.peers.keys.sorted() where !cluster.down.contains(id) { cluster.run(id, cluster.peers[id]!.tick(now: cluster.now)) }
            cluster.deliver(limit: 1)
        }
        cluster.outbox.removeAll()
        cluster.sync(at: leader, requestId: 9)
        let pinged = cluster.outbox.filter { if case .ping = $0.message { return true } else { return false } }.map(\.to)
        #expect(!pinged.contains(joiner))
        #expect(!pinged.isEmpty)
    }
}

/// A synced learner that falls silent (paused, or its answers lost) is dropped by the leader
/// after syncLimit ticks, as ZooKeeper's LearnerHandler drops it, instead of being sent every
/// proposal for ever.
@Suite struct SilentLearnerTests {
    @Test func leaderDropsALearnerSilentForSyncLimit() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3])
        cluster.settle()
        let leader = try #require(cluster.leader)
        let silent: ServerID = leader == 1 ? 2 : 1
        #expect(cluster.peers[leader]!.leaderLearners[silent] != nil)
        // Everything the learner sends is lost; it still hears the leader.
        cluster.blocked.insert([silent, leader])
        cluster.settle(ms: 700)
        #expect(cluster.peers[leader]!.leaderLearners[silent] != nil)
        cluster.settle(ms: 700)
        #expect(cluster.peers[leader]!.leaderLearners[silent] == nil)
        #expect(cluster.leader == leader)
    }
}

extension Peer {
    var leaderLearners: [ServerID: LearnerProgress] {
        if case .leading(let leader) = role { return leader.learners }
        return [:]
    }
}
