import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// closeSession, expiry and ephemerals (reference §2.1, §7.5), and the session table.
@Suite struct SessionLifecycleTests {
    @Test func closeSession_repliesThenClosesAndRemovesEphemerals() {
        var h = ReplicaHarness()
        let session = h.connect(1)
        h.connect(2)
        h.sendAndPersist(1, Req.create(1, "/p"))
        h.sendAndPersist(1, Req.create(2, "/p/e", flags: 1))
        h.sendAndPersist(1, Req.create(3, "/p/s-", flags: 3))
        h.send(2, Req.exists(1, "/p/e", watch: true))
        let sent = h.send(1, Req.closeSession(4))
        #expect(sent.appendedTxns.map(\.body) == [.closeSession(pathsToDelete: ["/p/e", "/p/s-0000000001"])])
        #expect(sent.appendedTxns.first?.header.cxid == 4)
        #expect(sent.replies(to: 1).isEmpty)
        let applied = h.persist()
        let zxid = sent.appendedTxns[0].zxid
        #expect(applied.timeline(1) == ["reply:4:0", "close"])
        #expect(applied.reply(to: 1, xid: 4)?.header.zxid == zxid)
        #expect(applied.notifications(to: 2) == [WatchedEvent(type: .nodeDeleted, path: "/p/e")])
        #expect(h.replica.tree.node("/p")?.children.sorted() == [])
        #expect(h.replica.sessions.sessions[session.sessionId] == nil)
        // A closed session cannot be resumed.
        h.open(3)
        #expect(h.send(3, connectFrame(sessionId: session.sessionId, passwd: session.passwd)).connectResponses(to: 3) == [.invalid(readOnly: false)])
    }

    @Test func requestsAfterCloseSession_areNotAnswered() {
        var h = ReplicaHarness()
        h.connect(1)
        h.send(1, Req.closeSession(1))
        h.send(1, Req.create(2, "/late"))
        let applied = h.persist()
        #expect(applied.timeline(1) == ["reply:1:0", "close"])
        #expect(h.replica.tree.node("/late") == nil)
    }

    @Test func connectionClose_keepsTheSessionAndItsEphemerals() {
        var h = ReplicaHarness()
        let session = h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/e", flags: 1))
        _ = h.replica.connectionClosed(1, now: h.time)
        #expect(h.replica.tree.node("/e") != nil)
        h.open(2)
        #expect(h.send(2, connectFrame(sessionId: session.sessionId, passwd: session.passwd)).connectResponses(to: 2).first?.sessionId == session.sessionId)
    }

    @Test func sessionExpiry_tickIssuesCloseSessionThatRemovesEphemeralsAndFiresWatches() {
        var h = ReplicaHarness()
        let start = h.now
        let doomed = h.connect(1, timeout: 4000)
        h.connect(2, timeout: 40000)
        h.sendAndPersist(1, Req.create(1, "/e", flags: 1))
        h.send(2, Req.exists(1, "/e", watch: true))
        h.send(2, Req.getChildren(2, "/", watch: true))
        // Deadline = next multiple of tickTime after now + timeout (reference §2.1).
        let deadline = ((start + 4000) / 2000 + 1) * 2000
        let early = h.tick(at: deadline - 1)
        #expect(early.appendedTxns.isEmpty)
        let expired = h.tick(at: deadline)
        #expect(expired.appendedTxns.map(\.body) == [.closeSession(pathsToDelete: ["/e"])])
        #expect(expired.appendedTxns.first?.header.clientId == doomed.sessionId)
        #expect(expired.appendedTxns.first?.header.cxid == 0)
        let applied = h.persist()
        #expect(applied.timeline(2) == ["event:nodeDeleted:/e", "event:nodeChildrenChanged:/"])
        #expect((early + expired + applied).closes(1))
        #expect(h.replica.tree.node("/e") == nil)
        #expect(h.replica.sessions.sessions[doomed.sessionId] == nil)
        #expect(h.replica.sessions.sessions.count == 1)
    }

    @Test func sessionExpiry_activityPushesTheDeadline() {
        var h = ReplicaHarness()
        h.connect(1, timeout: 4000)
        h.now += 3000
        h.send(1, Req.ping())
        #expect(h.tick(at: h.now + 3000).appendedTxns.isEmpty)
        #expect(h.tick(at: h.now + 3000).appendedTxns.count == 1)
    }

    @Test func expiringSession_isNotRevivedByAReconnect() {
        var h = ReplicaHarness()
        let session = h.connect(1, timeout: 4000)
        _ = h.replica.connectionClosed(1, now: h.time)
        h.tick(at: h.now + 10_000)  // closeSession prepared, not yet durable
        h.open(2)
        let actions = h.send(2, connectFrame(sessionId: session.sessionId, passwd: session.passwd))
        #expect(actions.connectResponses(to: 2) == [.invalid(readOnly: false)])
        #expect(actions.closes(2))
    }
}

@Suite struct SessionTableTests {
    @Test func password_matchesZooKeeperForKnownSessions() {
        #expect(hex(SessionTable.password(for: 0x0100_000a_425f_0000)) == "53e01a01e4461531e9d2f0bdcd6b754f")
        #expect(hex(SessionTable.password(for: 0x0100_0008_c815_0000)) == "a1e9cae41a514d83e7afc156f3b71705")
        #expect(hex(SessionTable.password(for: 0x0100_000a_425f_0001)) == "660115018492f475de1558e9a1f4891c")
        #expect(SessionTable.password(for: 0).count == 16)
    }

    @Test func allocateId_layoutIsServerIdThenClockThenCounter() {
        var table = SessionTable(serverId: 1, monotonicMs: 0xa425f, tickTimeMs: 2000)
        #expect(table.allocateId() == 0x0100_000a_425f_0000)
        #expect(table.allocateId() == 0x0100_000a_425f_0001)
        var three = SessionTable(serverId: 3, monotonicMs: 0xc87c5, tickTimeMs: 2000)
        #expect(three.allocateId() == 0x0300_000c_87c5_0000)
        // Only the low 40 bits of the clock are used.
        var wide = SessionTable(serverId: 1, monotonicMs: 0x12_3456_7890_abcd, tickTimeMs: 2000)
        #expect(wide.allocateId() == 0x0156_7890_abcd_0000)
    }

    @Test func allocateId_containerMarker_isSkipped() {
        var table = SessionTable(serverId: 0x80, monotonicMs: 0, tickTimeMs: 2000)
        #expect(table.allocateId() == Int64.min + 1)
    }

    @Test func deadline_roundsUpToTheNextTickBucket() {
        var table = SessionTable(serverId: 1, monotonicMs: 0, tickTimeMs: 2000)
        table.add(7, timeoutMs: 4000, now: 1000)
        #expect(table.sessions[7]?.deadlineMs == 6000)
        table.add(8, timeoutMs: 4000, now: 2000)
        #expect(table.sessions[8]?.deadlineMs == 8000)
        #expect(table.expired(now: 5999) == [])
        #expect(table.expired(now: 6000) == [7])
        // A session handed out as expired leaves the queue (its closeSession is on the way).
        #expect(table.expired(now: 9000) == [8])
    }

    @Test func touch_movesTheDeadline_butNotForAClosingSession() {
        var table = SessionTable(serverId: 1, monotonicMs: 0, tickTimeMs: 2000)
        table.add(7, timeoutMs: 4000, now: 0)
        table.touch(7, now: 3000)
        #expect(table.sessions[7]?.deadlineMs == 8000)
        table.markClosing(7)
        table.touch(7, now: 10_000)
        #expect(table.sessions[7]?.deadlineMs == 8000)
        #expect(table.expired(now: 20_000) == [])
    }

    @Test func add_storesTheZooKeeperPassword() {
        var table = SessionTable(serverId: 1, monotonicMs: 0, tickTimeMs: 2000)
        table.add(0x0100_000a_425f_0000, timeoutMs: 30000, now: 0)
        #expect(table.sessions[0x0100_000a_425f_0000]?.passwd == SessionTable.password(for: 0x0100_000a_425f_0000))
        table.remove(0x0100_000a_425f_0000)
        #expect(table.sessions.isEmpty)
    }
}

/// Many sessions expiring in one tick: one closeSession each with exactly its own
/// ephemerals, found without scanning the others, and a live session goes on meanwhile.
@Suite struct MassExpiryTests {
    @Test func sessionsDroppedAtOnceAreExpiredTogether() {
        var h = ReplicaHarness()
        let count = 200
        for id in ConnectionID(1)...ConnectionID(count) {
            h.connect(id, timeout: 4_000)
            for index in 0..<20 { h.send(id, Req.create(Int32(index + 1), "/c\(id)-\(index)", flags: 1)) }
            h.persist()
            _ = h.replica.connectionClosed(id, now: h.time)
        }
        h.connect(1000, timeout: 40_000)
        #expect(h.replica.tree.ephemeralCount == count * 20)
        let expiry = h.tick(at: h.now + 10_000)
        let closes = expiry.appendedTxns.filter { $0.header.type == OpCode.closeSession.rawValue }
        #expect(closes.count == count)
        for close in closes {
            guard case .closeSession(let paths) = close.body else { continue }
            #expect(paths.count == 20)
            #expect(paths.allSatisfy { h.replica.tree.node($0)?.ephemeralOwner == close.header.clientId })
        }
        // The live session's read is answered in the same event as the expiries.
        let read = h.send(1000, Req.exists(1, "/c1-0"))
        #expect(read.reply(to: 1000, xid: 1)?.header.err == 0)
        h.persist()
        #expect(h.replica.tree.ephemeralCount == 0)
        #expect(h.replica.sessions.sessions.count == 1)
    }
}

/// Mass expiry is spread out: at most `sessionsExpiredPerTickMax` closeSessions per tick,
/// and durable txns applied at most `appliedChangesPerEventMax` node changes per event,
/// with other clients answered in between.
@Suite struct ExpirySliceTests {
    static func droppedSessions(_ h: inout ReplicaHarness, count: Int, ephemerals: Int) {
        for id in ConnectionID(1)...ConnectionID(count) {
            h.connect(id, timeout: 4_000)
            for index in 0..<ephemerals { h.send(id, Req.create(Int32(index + 1), "/c\(id)-\(index)", flags: 1)) }
            h.persist()
            _ = h.replica.connectionClosed(id, now: h.time)
        }
    }

    @Test func expiredSessionsAreClosedAFewHundredPerTick() {
        var h = ReplicaHarness { $0.sessionsExpiredPerTickMax = 30 }
        Self.droppedSessions(&h, count: 100, ephemerals: 1)
        var perTick: [Int] = []
        for step in 1...5 {
            perTick.append(h.tick(at: h.now + (step == 1 ? 10_000 : 100)).appendedTxns.count)
            h.persist()
        }
        #expect(perTick == [30, 30, 30, 10, 0])
        #expect(h.replica.tree.ephemeralCount == 0)
    }

    @Test func durableTxnsAreAppliedInSlicesWithOthersServedBetween() {
        var h = ReplicaHarness { $0.appliedChangesPerEventMax = 100 }
        Self.droppedSessions(&h, count: 20, ephemerals: 20)
        h.connect(500, timeout: 40_000)
        h.tick(at: h.now + 10_000)
        // 20 closeSessions of 21 changes each are durable; the first event applies five.
        let last = h.unpersisted.last!.zxid
        h.unpersisted = []
        let first = h.replica.logPersisted(upTo: last, now: h.time)
        #expect(first.contains(.resumeLater))
        #expect(h.replica.tree.ephemeralCount == 15 * 20)
        // Another client's read is answered before the rest is applied.
        #expect(h.replica.frameReceived(500, Req.exists(1, "/c20-0"), now: h.time).replies(to: 500).first?.header.err == 0)
        var resumes = 0
        while h.replica.resume(now: h.time).contains(.resumeLater) { resumes += 1 }
        #expect(resumes == 2)
        #expect(h.replica.tree.ephemeralCount == 0)
    }
}
