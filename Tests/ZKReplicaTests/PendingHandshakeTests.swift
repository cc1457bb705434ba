import NIOCore
import Testing
import ZKConsensus
import ZKModel
import ZKReplica
import ZKWire

/// A connection whose createSession or REVALIDATE the leader never answers (the request was
/// lost with a leader change, or dropped) is closed once its session timeout passed, as
/// ZooKeeper's connection expiry closes it; the client then tries another server.
@Suite struct PendingHandshakeTests {
    func dropRequestsToTheLeader(_ h: inout EnsembleHarness, leader: ServerID) {
        h.network.removeAll { entry in
            guard entry.to == leader else { return false }
            switch entry.message {
            case .request, .revalidate: return true
            default: return false
            }
        }
    }

    @Test func unansweredCreateSessionClosesTheConnectionAfterItsTimeout() throws {
        var h = EnsembleHarness()
        let leader = h.startServing()
        let follower = h.followers[0]
        h.openConnection(1, at: follower)
        h.send(1, connectFrame(sessionId: 0, passwd: zeroPassword, timeout: 4000, lastZxidSeen: 0), delivering: false)
        dropRequestsToTheLeader(&h, leader: leader)
        h.deliver()
        #expect(!h.isClosed(1))
        h.run(ms: 3000)
        #expect(!h.isClosed(1))
        h.run(ms: 2000)
        #expect(h.isClosed(1))
    }

    @Test func unansweredRevalidateClosesTheConnectionAfterItsTimeout() throws {
        var h = EnsembleHarness()
        let leader = h.startServing()
        let follower = h.followers[0]
        let session = try h.establish(1, at: follower, timeout: 4000)
        h.clientCloses(1)
        let other = h.followers[1]
        h.openConnection(2, at: other)
        h.send(2, connectFrame(sessionId: session.sessionId, passwd: session.passwd, timeout: 4000, lastZxidSeen: 0), delivering: false)
        dropRequestsToTheLeader(&h, leader: leader)
        h.deliver()
        #expect(!h.isClosed(2))
        h.run(ms: 5000)
        #expect(h.isClosed(2))
    }
}

/// ZooKeeper's session owner: once a session was resumed on another member, a write still
/// coming through its old connection is refused with SESSIONMOVED.
@Suite struct SessionMovedTests {
    @Test func writeThroughTheOldConnectionGetsSessionMoved() throws {
        var h = EnsembleHarness()
        _ = h.startServing()
        let (first, second) = (h.followers[0], h.followers[1])
        let session = try h.establish(1, at: first)
        h.send(1, Req.create(1, "/a", data: []))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        // The client reattaches through the other follower; its old socket is still open.
        _ = try h.establish(2, at: second, sessionId: session.sessionId, passwd: session.passwd)
        h.send(2, Req.create(1, "/b", data: []))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        h.send(1, Req.create(2, "/c", data: []))
        #expect(h.reply(1, xid: 2)?.header.err == ErrorCode.sessionMoved.rawValue)
        #expect(h.noMemberHas("/c"))
    }

    /// Found by kazoo's partitioner test on a real ensemble: a session that moved from a
    /// follower to the leader itself got SESSIONMOVED on its new connection, because the
    /// leader resumed it locally without taking ownership.
    @Test func sessionMovedToTheLeaderWritesThere() throws {
        var h = EnsembleHarness()
        let leader = h.startServing()
        let session = try h.establish(1, at: h.followers[0])
        h.send(1, Req.create(1, "/a", data: []))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        h.clientCloses(1)
        _ = try h.establish(2, at: leader, sessionId: session.sessionId, passwd: session.passwd)
        h.send(2, Req.create(1, "/b", data: []))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        #expect(h.everyMemberHas("/b", data: []))
    }
}
