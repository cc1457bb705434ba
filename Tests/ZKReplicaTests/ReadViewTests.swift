import NIOCore
import Testing
import ZKModel
import ZKReplica
import ZKWire

/// The view the connections' loops answer plain reads from (`ReadView`) answers exactly as
/// the replica does, and leaves to the replica everything it cannot answer alone.
@Suite struct ReadViewTests {
    static let userOnly = [ACL(perms: Permissions.all.rawValue, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20="))]

    /// A tree with data, children, an empty node, a node only one user may read.
    static func harness(_ configure: (inout ReplicaConfiguration) -> Void = { _ in }) -> ReplicaHarness {
        var h = ReplicaHarness(configure)
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a", data: Array("alpha".utf8)))
        h.sendAndPersist(1, Req.create(2, "/a/b", data: nil))
        h.sendAndPersist(1, Req.create(3, "/a/c", data: []))
        h.sendAndPersist(1, Req.setData(4, "/a", Array("beta".utf8)))
        h.sendAndPersist(1, Req.create(5, "/mine", data: [1], acl: userOnly))
        return h
    }

    static let plainReads: [ByteBuffer] = [
        Req.getData(10, "/a"), Req.getData(11, "/a/b"), Req.getData(12, "/missing"), Req.getData(13, "/"),
        Req.getData(14, "/zookeeper/config"), Req.exists(15, "/a/c"), Req.exists(16, "/missing"),
        Req.exists(17, "/a\u{0}b"), Req.getChildren(18, "/a"), Req.getChildren(19, "/missing"),
        Req.pathAndBool(20, .getChildren2, "/a", false), Req.pathAndBool(21, .getChildren2, "/", false),
        Req.getData(22, ""), Req.getData(23, "/mine/x"),
    ]

    @Test func plainReads_areAnsweredAsTheReplicaAnswersThem() throws {
        var h = Self.harness()
        let view = try #require(h.replica.readView)
        #expect(view.zxid == h.replica.tree.lastProcessedZxid)
        for request in Self.plainReads {
            let local = try #require(view.answer(request, frameBytesMax: 0xfffff), "\(hex(request))")
            let replica = try #require(h.send(1, request).replies(to: 1).first)
            #expect(local.0 == replica.header)
            #expect(local.1 == replica.response, "\(hex(request))")
        }
    }

    @Test func whatNeedsTheReplica_isLeftToIt() throws {
        var h = Self.harness()
        h.send(1, Req.auth("digest", "user:pass"))
        let view = try #require(h.replica.readView)
        let left: [ByteBuffer] = [
            Req.getData(1, "/a", watch: true), Req.exists(2, "/a", watch: true), Req.getChildren(3, "/a", watch: true),
            // Only the replica knows this connection's ids (here it may read the node).
            Req.getData(4, "/mine"), Req.exists(5, "/mine"),
            Req.setData(6, "/a", [1]), Req.path(7, .sync, "/a"), Req.path(8, .getACL, "/a"), Req.ping(),
            Req.path(9, .getAllChildrenNumber, "/a"), requestFrame(10, .getData) { $0.writeInt(7) },
            requestFrame(11, 9999), frame { $0.writeInt(12) },
        ]
        for request in left { #expect(view.answer(request, frameBytesMax: 0xfffff) == nil, "\(hex(request))") }
        // The replica answers the owner of /mine.
        #expect(h.send(1, Req.getData(4, "/mine")).replies(to: 1).first?.header.err == 0)
    }

    @Test func skipACL_letsTheViewAnswerEveryNode() throws {
        let h = Self.harness { $0.skipACL = true }
        let view = try #require(h.replica.readView)
        #expect(view.answer(Req.getData(1, "/mine"), frameBytesMax: 0xfffff)?.1 == .data([1], h.replica.tree.node("/mine")!.stat))
    }

    @Test func aReplyPastReplyBytesMax_isLeftToTheReplica() throws {
        var h = ReplicaHarness { $0.replyBytesMaxSetting = 1024 }
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/big", data: [UInt8](repeating: 7, count: 2000)))
        let view = try #require(h.replica.readView)
        #expect(view.answer(Req.getData(2, "/big"), frameBytesMax: 0xfffff) == nil)
        #expect(view.answer(Req.exists(3, "/big"), frameBytesMax: 0xfffff) != nil)
    }

    @Test func connectionLoopReadsOff_offersNoView() {
        let h = ReplicaHarness { $0.connectionLoopReads = false }
        #expect(h.replica.readView == nil)
        #expect(!h.replica.servesReadViews)
    }

    /// Reads answered on a connection's loop never reach the replica as frames: the loop's
    /// reports must keep the session alive as the requests themselves would.
    @Test func readsAnsweredLocally_keepTheSessionAndConnectionAlive() {
        var h = ReplicaHarness()
        let kept = h.connect(1, timeout: 6000)
        let idle = h.connect(2, timeout: 6000)
        var time = h.now
        for _ in 0..<10 {
            time += 1000
            h.now = time
            _ = h.record(h.replica.readsAnsweredLocally(1, count: 5, now: h.time))
            h.tick(at: time)
            h.persist()
        }
        #expect(h.replica.sessions.sessions[kept.sessionId] != nil)
        #expect(h.replica.sessions.sessions[idle.sessionId] == nil)
        #expect(h.replica.stats.packetsReceived >= 50)
    }
}
