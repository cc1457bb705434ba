import Testing
import ZKModel
@testable import ZKConsensus

/// A learner older than the leader's in-memory window (`commitLogCount`) is synced from
/// the leader's on-disk log when the shell can read it (`snapshotSizeFactor`), by SNAP
/// otherwise.
@Suite struct DiffFromLogTests {
    /// A follower misses 40 txns while the window holds 5.
    static func laggingFollower(_ cluster: inout ScriptedCluster) throws -> (leader: ServerID, joiner: ServerID) {
        cluster.settle()
        let leader = try #require(cluster.leader)
        let joiner: ServerID = leader == 1 ? 2 : 1
        // The joiner shares some history with the leader before it goes down.
        for _ in 0..<3 { cluster.propose(at: leader) }
        cluster.settle(ms: 500)
        #expect(cluster.disks[joiner]!.log.count == 3)
        cluster.crash(joiner)
        for _ in 0..<40 {
            cluster.propose(at: leader)
            cluster.settle(ms: 100)
        }
        #expect(cluster.peers[leader]!.baseZxid > cluster.disks[joiner]!.log.last?.zxid ?? 0, "the window must have moved past the joiner")
        cluster.start(joiner)
        cluster.settle(ms: 2_000)
        return (leader, joiner)
    }

    @Test func aLearnerBehindTheWindowGetsADiffFromTheLog() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3], commitLogCount: 5, diffFromLog: true)
        let (leader, joiner) = try Self.laggingFollower(&cluster)
        #expect(cluster.logReads[leader] == 1)
        #expect(cluster.snapshotsInstalled[joiner, default: 0] == 0)
        #expect(cluster.applied[joiner] == cluster.applied[leader])
        #expect(cluster.disks[joiner]!.log.map(\.zxid) == cluster.disks[leader]!.log.map(\.zxid))
    }

    @Test func withoutALogThatReachesBackItGetsASnap() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3], commitLogCount: 5, diffFromLog: true)
        cluster.logReadAnswer = { _, _, _ in nil }
        let (leader, joiner) = try Self.laggingFollower(&cluster)
        #expect(cluster.logReads[leader] == 1)
        #expect(cluster.snapshotsInstalled[joiner] == 1)
        #expect(cluster.applied[joiner]?.last == cluster.applied[leader]?.last)
    }

    /// A log read that stops short of the window (the log thread had not written the newest
    /// committed txns yet) cannot be joined to it: SNAP.
    @Test func aLogReadShortOfTheWindowFallsBackToSnap() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3], commitLogCount: 5, diffFromLog: true)
        cluster.logReadAnswer = { _, after, logged in
            guard let index = logged.lastIndex(where: { $0.zxid <= after }) else { return nil }
            return Array(logged[index...].prefix(3))
        }
        let (leader, joiner) = try Self.laggingFollower(&cluster)
        #expect(cluster.logReads[leader] == 1)
        #expect(cluster.snapshotsInstalled[joiner] == 1)
        #expect(cluster.applied[joiner]?.last == cluster.applied[leader]?.last)
    }

    @Test func turnedOffItIsSnapWithoutReading() throws {
        var cluster = ScriptedCluster(voters: [1, 2, 3], commitLogCount: 5, diffFromLog: false)
        let (leader, joiner) = try Self.laggingFollower(&cluster)
        #expect(cluster.logReads[leader, default: 0] == 0)
        #expect(cluster.snapshotsInstalled[joiner] == 1)
    }
}
