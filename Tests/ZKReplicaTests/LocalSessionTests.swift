import Testing
import ZKModel
import ZKReplica
import ZKWire

/// `localSessionsEnabled`: sessions that live on one member until they create an
/// ephemeral node (ZooKeeper's learner and leader session trackers).
@Suite struct LocalSessionTests {
    static func ensemble(upgrading: Bool = true) -> EnsembleHarness {
        var h = EnsembleHarness { configuration in
            configuration.localSessionsEnabled = true
            configuration.localSessionsUpgradingEnabled = upgrading
            configuration.fourLetterWordWhitelist = ["*"]
        }
        h.startServing()
        return h
    }

    static let ephemeral = CreateMode.ephemeral.rawValue

    @Test func aNewSessionIsLocalAndLogsNothing() throws {
        var h = Self.ensemble()
        let member = h.followers[0]
        let zxidBefore = h[member].tree.lastProcessedZxid
        let session = try h.establish(1, at: member)
        #expect(session.timeOut > 0)
        #expect(h.noMemberKnows(session.sessionId))
        #expect(h[member].tree.lastProcessedZxid == zxidBefore)
        // Its persistent writes go through the leader like anyone's.
        h.send(1, Req.create(1, "/a", data: [7]))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        #expect(h.everyMemberHas("/a", data: [7]))
        #expect(h.noMemberKnows(session.sessionId))
        var replica = h[member]
        let mntr = replica.fourLetterWordReceived(99, word: "mntr", now: h.time).compactMap { action -> String? in
            if case .sendText(_, let text) = action { return text } else { return nil }
        }.joined()
        #expect(mntr.contains("zk_local_sessions\t1"))
        #expect(mntr.contains("zk_global_sessions\t0"))
    }

    @Test func anEphemeralUpgradesTheSessionEverywhere() throws {
        var h = Self.ensemble()
        let session = try h.establish(1, at: h.followers[0])
        h.send(1, Req.create(1, "/e", flags: Self.ephemeral))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        #expect(h.everyMemberKnows(session.sessionId))
        for id in EnsembleHarness.ids { #expect(h[id].tree.node("/e")?.ephemeralOwner == session.sessionId) }
        // Global now: closing it is a txn that removes the ephemeral on every member.
        h.send(1, Req.closeSession(2))
        #expect(h.reply(1, xid: 2)?.header.err == 0)
        #expect(h.noMemberHas("/e"))
        #expect(h.noMemberKnows(session.sessionId))
    }

    @Test func anUpgradeOnTheLeaderPipelinedWithACloseLeavesNothing() throws {
        var h = Self.ensemble()
        let leader = try #require(h.leader)
        let session = try h.establish(1, at: leader)
        // The create, a multi holding an ephemeral create and the close arrive together.
        h.send(1, Req.create(1, "/e", flags: Self.ephemeral), delivering: false)
        h.send(1, Req.multi(2, [(.create, Req.createRecord("/m", flags: Self.ephemeral))]), delivering: false)
        h.send(1, Req.closeSession(3))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        #expect(h.reply(1, xid: 2)?.header.err == 0)
        #expect(h.reply(1, xid: 3)?.header.err == 0)
        #expect(h.noMemberHas("/e") && h.noMemberHas("/m"))
        #expect(h.noMemberKnows(session.sessionId))
        #expect(h.membersAgree)
    }

    @Test func anUpgradeThroughAFollowerPipelinedWithAClose() throws {
        var h = Self.ensemble()
        let session = try h.establish(1, at: h.followers[1])
        h.send(1, Req.multi(1, [(.create, Req.createRecord("/m", flags: Self.ephemeral))]), delivering: false)
        h.send(1, Req.closeSession(2))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        #expect(h.reply(1, xid: 2)?.header.err == 0)
        #expect(h.noMemberHas("/m"))
        #expect(h.noMemberKnows(session.sessionId))
    }

    @Test func withoutUpgradingAnEphemeralIsRefused() throws {
        var h = Self.ensemble(upgrading: false)
        let session = try h.establish(1, at: h.followers[0])
        h.send(1, Req.create(1, "/e", flags: Self.ephemeral))
        #expect(h.reply(1, xid: 1)?.header.err == ErrorCode.ephemeralOnLocalSession.rawValue)
        h.send(1, Req.multi(2, [(.create, Req.createRecord("/m", flags: Self.ephemeral))]))
        #expect(h.reply(1, xid: 2)?.header.err == ErrorCode.ephemeralOnLocalSession.rawValue)
        #expect(h.noMemberHas("/e") && h.noMemberHas("/m"))
        #expect(h.noMemberKnows(session.sessionId))
        // A persistent create still works.
        h.send(1, Req.create(3, "/p"))
        #expect(h.reply(1, xid: 3)?.header.err == 0)
    }

    @Test func itResumesOnItsMemberOnly() throws {
        var h = Self.ensemble()
        let (home, other) = (h.followers[0], h.followers[1])
        let session = try h.establish(1, at: home)
        h.clientCloses(1)
        let elsewhere = try h.establish(2, at: other, sessionId: session.sessionId, passwd: session.passwd)
        #expect(elsewhere.timeOut == 0, "another member must not know a local session")
        let leader = try #require(h.leader)
        let onLeader = try h.establish(3, at: leader, sessionId: session.sessionId, passwd: session.passwd)
        #expect(onLeader.timeOut == 0)
        let back = try h.establish(4, at: home, sessionId: session.sessionId, passwd: session.passwd)
        #expect(back.sessionId == session.sessionId && back.timeOut > 0)
        h.send(4, Req.getData(1, "/"))
        #expect(h.reply(4, xid: 1)?.header.err == 0)
        // A wrong password is refused even at home.
        let wrong = try h.establish(5, at: home, sessionId: session.sessionId, passwd: [UInt8](repeating: 1, count: 16))
        #expect(wrong.timeOut == 0)
    }

    @Test func itExpiresOnItsMemberAndClosingLogsNothing() throws {
        var h = Self.ensemble()
        let member = h.followers[0]
        let session = try h.establish(1, at: member, timeout: 2000)
        h.clientCloses(1)
        h.run(ms: 3000)
        let late = try h.establish(2, at: member, sessionId: session.sessionId, passwd: session.passwd)
        #expect(late.timeOut == 0, "the local session should have expired")
        // A fresh local session closes without a txn.
        _ = try h.establish(3, at: member)
        let zxid = h[member].tree.lastProcessedZxid
        h.send(3, Req.closeSession(1))
        #expect(h.reply(3, xid: 1)?.header.err == 0)
        #expect(h.isClosed(3))
        #expect(h[member].tree.lastProcessedZxid == zxid)
    }

    @Test func aLocalSessionKeptAliveByPingsDoesNotExpire() throws {
        var h = Self.ensemble()
        let session = try h.establish(1, at: h.followers[0], timeout: 2000)
        h.run(ms: 6000) { $0.send(1, Req.ping()) }
        #expect(!h.isClosed(1))
        h.send(1, Req.create(1, "/e", flags: Self.ephemeral))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        #expect(h.everyMemberKnows(session.sessionId))
    }
}
