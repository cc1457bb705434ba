import Testing
import ZKModel
import ZKReplica
import ZKWire

/// Two clocks: elapsed time decides expiry and idleness, wall time only stamps txns and
/// ages TTL nodes. A wall-clock step (NTP) expires nothing.
@Suite struct ClockTests {
    @Test func wallClockJumpOfHoursExpiresNoSession() {
        var h = ReplicaHarness()
        h.connect(1, timeout: 10_000)
        h.sendAndPersist(1, Req.create(1, "/e", flags: 1))
        h.wallOffsetMs = 6 * 3_600_000
        let forward = h.tick(at: h.now + 1_000)
        #expect(forward.appendedTxns.isEmpty)
        #expect(!forward.closes(1))
        h.wallOffsetMs = -6 * 3_600_000
        let backward = h.tick(at: h.now + 1_000)
        #expect(backward.appendedTxns.isEmpty)
        #expect(h.replica.tree.node("/e") != nil)
        // Elapsed time past the timeout does expire it, with a txn stamped by the wall clock.
        let expiry = h.tick(at: h.now + 30_000)
        #expect(expiry.appendedTxns.map(\.header.type) == [OpCode.closeSession.rawValue])
        #expect(expiry.appendedTxns.first?.header.time == h.now + h.wallOffsetMs)
    }

    @Test func txnTimeAndMtimeAreWallTime() {
        var h = ReplicaHarness()
        h.wallOffsetMs = 1_700_000_000_000
        h.connect(1)
        let created = h.sendAndPersist(1, Req.create(1, "/n"))
        #expect(created.reply(to: 1, xid: 1)?.header.err == 0)
        #expect(h.replica.tree.node("/n")?.mtime == h.now + h.wallOffsetMs)
        #expect(h.replica.tree.node("/n")?.ctime == h.now + h.wallOffsetMs)
    }

    /// TTL ages are wall-clock ages (mtime is wall time), as in ZooKeeper: elapsed time
    /// alone does not age them.
    @Test func ttlNodesAgeByWallClock() {
        var h = ReplicaHarness {
            $0.extendedTypesEnabled = true
            $0.maxSessionTimeoutMs = 400_000
            $0.containerCheckIntervalMs = 1_000
        }
        h.connect(1, timeout: 400_000)
        h.sendAndPersist(1, Req.create(1, "/t", flags: 5, op: .createTTL, ttl: 5_000))
        h.send(1, Req.ping())
        h.wallOffsetMs = -10_000
        #expect(h.tick(at: h.now + 10_000).appendedTxns.isEmpty)
        h.wallOffsetMs = 0
        #expect(h.tick(at: h.now + 2_000).appendedTxns.map(\.body) == [.deleteContainer(path: "/t")])
    }

    /// A connection that never completes its handshake is closed by elapsed time, whatever
    /// the wall clock does.
    @Test func handshakeDeadlineIsElapsedTime() {
        var h = ReplicaHarness()
        let opened = h.now
        h.open(1)
        h.wallOffsetMs = 24 * 3_600_000
        #expect(!h.tick(at: opened + 5_000).closes(1))
        #expect(h.tick(at: opened + 20_000).closes(1))
    }
}
