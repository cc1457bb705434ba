import NIOCore
import Testing
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// The replica as an ensemble member: three real `Replica`s on real `Peer`s, clients on
/// any member, writes through the leader, sessions owned by the leader.
@Suite struct EnsembleTests {
    let hello = Array("hello".utf8)

    /// A serving ensemble, its leader and its two followers.
    func ensemble() -> (EnsembleHarness, leader: ServerID, followers: [ServerID]) {
        var h = EnsembleHarness()
        let leader = h.startServing()
        return (h, leader, h.followers)
    }

    @Test func writeThroughFollower_isCommittedOnEveryMember() throws {
        var (h, leader, followers) = ensemble()
        #expect(leader == 3)
        let follower = followers[0]
        #expect(h[follower].peer?.state == .following)

        let response = try h.establish(1, at: follower)
        #expect(response.sessionId != 0)
        #expect(response.sessionId >> 56 == follower)
        #expect(response.timeOut == 30000)
        #expect(response.passwd == SessionTable.password(for: response.sessionId))
        #expect(h.everyMemberKnows(response.sessionId))

        h.send(1, Req.create(1, "/a", data: hello))
        let reply = try #require(h.reply(1, xid: 1))
        #expect(reply.header.err == 0)
        #expect(reply.response == .create(path: "/a"))
        #expect(reply.header.zxid >> 32 >= 1)
        #expect(h.everyMemberHas("/a", data: hello))
        #expect(EnsembleHarness.ids.allSatisfy { h[$0].tree.node("/a")?.czxid == reply.header.zxid })
        #expect(h.membersAgree)
        let digests = Set(EnsembleHarness.ids.map { h[$0].tree.digest })
        #expect(digests.count == 1)
        // Only the leader stamped txns: every member logged the same ones.
        let logs = EnsembleHarness.ids.map { h.members[$0]!.log.map(\.zxid) }
        #expect(logs.allSatisfy { $0 == logs[0] })
    }

    @Test func pipelinedRequestsOnFollower_answerInXidOrder() throws {
        var (h, _, followers) = ensemble()
        _ = try h.establish(1, at: followers[0])
        h.send(1, Req.create(1, "/x", data: Array("v0".utf8)), delivering: false)
        h.send(1, Req.setData(2, "/x", Array("v1".utf8)), delivering: false)
        h.send(1, Req.getData(3, "/x"), delivering: false)
        // Nothing is answered before the leader committed the writes.
        #expect(h.replies(1).isEmpty)
        h.deliver()
        let replies = h.replies(1)
        #expect(replies.map(\.header.xid) == [1, 2, 3])
        #expect(replies.map(\.header.err) == [0, 0, 0])
        #expect(replies.map(\.header.zxid) == replies.map(\.header.zxid).sorted())
        guard case .data(let data, let stat) = replies.last?.response else {
            Issue.record("getData answered \(String(describing: replies.last))")
            return
        }
        #expect(data == Array("v1".utf8))
        #expect(stat.version == 1)
        #expect(h.everyMemberHas("/x", data: Array("v1".utf8)))
        #expect(h.membersAgree)
    }

    @Test func watchSetOnOneFollower_firesForChangeThroughAnotherMember() throws {
        var (h, leader, followers) = ensemble()
        _ = try h.establish(1, at: followers[0])
        _ = try h.establish(2, at: followers[1])
        _ = try h.establish(3, at: leader)
        h.send(1, Req.create(1, "/w", data: hello))
        h.send(1, Req.getData(2, "/w", watch: true))
        h.send(1, Req.exists(3, "/w/child", watch: true))
        #expect(h.replies(1).map(\.header.err) == [0, 0, ErrorCode.noNode.rawValue])

        // A client of the other follower changes the node.
        h.send(2, Req.setData(1, "/w", Array("changed".utf8)))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        #expect(h.notifications(1) == [WatchedEvent(type: .nodeDataChanged, path: "/w")])
        #expect(h.notifications(2).isEmpty)

        // A client of the leader creates the watched child.
        h.send(3, Req.create(1, "/w/child"))
        #expect(h.reply(3, xid: 1)?.header.err == 0)
        #expect(h.notifications(1) == [
            WatchedEvent(type: .nodeDataChanged, path: "/w"), WatchedEvent(type: .nodeCreated, path: "/w/child"),
        ])
        // The notification carries the zxid of the txn that fired it.
        let zxids = h.received[1]!.compactMap { if case .sendNotification(_, _, let zxid) = $0 { return zxid } else { return nil } }
        #expect(zxids == [h.reply(2, xid: 1)!.header.zxid, h.reply(3, xid: 1)!.header.zxid])
    }

    @Test func syncOnFollower_thenReadSeesWriteThroughAnotherMember() throws {
        var (h, leader, followers) = ensemble()
        let reader = followers[0]
        _ = try h.establish(1, at: reader)
        _ = try h.establish(2, at: leader)
        h.send(2, Req.create(1, "/s", data: Array("old".utf8)))
        try #require(h.everyMemberHas("/s", data: Array("old".utf8)))

        // The writer is answered as soon as a quorum has the txn: the reader's member may not
        // have applied it yet.
        h.send(2, Req.setData(2, "/s", Array("new".utf8)), delivering: false)
        let answered = h.deliver(until: { $0.reply(2, xid: 2) != nil })
        try #require(answered)
        let written = h.reply(2, xid: 2)!.header.zxid
        try #require(h[reader].tree.lastProcessedZxid < written, "the reader's member already applied the write; the test proves nothing")

        h.send(1, Req.getData(1, "/s"), delivering: false)
        h.send(1, Req.path(2, .sync, "/s"), delivering: false)
        h.send(1, Req.getData(3, "/s"), delivering: false)
        // Without sync the read is stale (allowed: sequential consistency, not linearizability).
        guard case .data(let stale, _)? = h.reply(1, xid: 1)?.response else {
            Issue.record("plain getData: \(h.replies(1))")
            return
        }
        #expect(stale == Array("old".utf8))
        #expect(h.reply(1, xid: 3) == nil)

        h.deliver()
        h.run(ms: 200)
        let replies = h.replies(1)
        #expect(replies.map(\.header.xid) == [1, 2, 3])
        #expect(h.reply(1, xid: 2)?.response == .sync(path: "/s"))
        #expect(h.reply(1, xid: 2)?.header.err == 0)
        guard case .data(let fresh, _)? = h.reply(1, xid: 3)?.response else {
            Issue.record("getData after sync: \(replies)")
            return
        }
        #expect(fresh == Array("new".utf8))
        #expect(h.reply(1, xid: 3)!.header.zxid >= written)
    }

    @Test func silentSessionOnFollower_isExpiredByLeaderEverywhere() throws {
        var (h, leader, followers) = ensemble()
        let start = h.now
        let session = try h.establish(1, at: followers[0], timeout: 1000).sessionId
        let survivor = try h.establish(2, at: followers[1], timeout: 20000).sessionId
        h.send(1, Req.create(1, "/e", flags: 1))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        h.send(2, Req.exists(1, "/e", watch: true))
        #expect(h.everyMemberHas("/e", data: []))
        #expect(h.everyMemberKnows(session))

        // Not before its timeout…
        h.run(ms: 700)
        #expect(h.everyMemberKnows(session))
        #expect(h.everyMemberHas("/e", data: []))
        // …but soon after it, on every member.
        h.run(ms: 2000 - (h.now - start))
        #expect(h.noMemberKnows(session))
        #expect(h.noMemberHas("/e"))
        #expect(h.membersAgree)
        #expect(h.notifications(2) == [WatchedEvent(type: .nodeDeleted, path: "/e")])
        // The leader proposed the closeSession (cxid 0, listing the ephemeral).
        let closes = h.members[leader]!.log.filter { $0.header.clientId == session && $0.header.type == OpCode.closeSession.rawValue }
        #expect(closes.count == 1)
        #expect(closes.first?.header.cxid == 0)
        #expect(closes.first?.body == .closeSession(pathsToDelete: ["/e"]))
        #expect(h.isClosed(1))
        // The other session, long-lived, is untouched.
        #expect(h.everyMemberKnows(survivor))
    }

    @Test func sessionExpiredByLeader_closesItsConnectionOnFollower() throws {
        var (h, leader, followers) = ensemble()
        let follower = followers[0]
        let session = try h.establish(1, at: follower, timeout: 1000).sessionId
        h.send(1, Req.create(1, "/e", flags: 1))
        #expect(h.reply(1, xid: 1)?.header.err == 0)
        // The client goes quiet. Only the leader's timer fires (the follower's is late), so the
        // connection is not closed for idleness: the leader's expiry must close it.
        let end = h.now + 3000
        while h[follower].sessions.sessions[session] != nil && h.now < end {
            h.tick(only: [leader])
        }
        try #require(h.noMemberKnows(session))
        #expect(h.noMemberHas("/e"))
        #expect(h.isClosed(1))
        // A frame on it changes nothing and is not answered as if the session lived.
        h.send(1, Req.ping())
        #expect(h.replies(1).filter { $0.header.xid == ReservedXid.ping && $0.header.err == 0 }.isEmpty)
    }

    @Test func closeSessionThroughAnotherMember_closesTheSessionsOldConnection() throws {
        var (h, _, followers) = ensemble()
        let first = try h.establish(1, at: followers[0], timeout: 5000)
        // The client gave up on connection 1 (still open at that member) and resumed elsewhere.
        let resumed = try h.establish(2, at: followers[1], timeout: 5000, sessionId: first.sessionId, passwd: first.passwd)
        try #require(resumed.sessionId == first.sessionId)
        #expect(!h.isClosed(1))
        h.send(2, Req.closeSession(1))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        #expect(h.isClosed(2))
        #expect(h.noMemberKnows(first.sessionId))
        // The member that still held a connection of the closed session closes it.
        #expect(h.isClosed(1))
    }

    @Test func pingingSessionOnFollower_outlivesItsTimeout() throws {
        var (h, _, followers) = ensemble()
        let session = try h.establish(1, at: followers[0], timeout: 1000).sessionId
        h.send(1, Req.create(1, "/e", flags: 1))
        #expect(h.reply(1, xid: 1)?.header.err == 0)

        // Pings every 300 ms for four timeouts: only the follower hears them, and its PING
        // answers carry the touches to the leader, which owns expiry.
        var pings = 0
        h.run(ms: 4000) { h in
            if (h.now / 50) % 6 == 0 {
                h.send(1, Req.ping())
                pings += 1
            }
        }
        #expect(pings >= 12)
        #expect(h.replies(1).filter { $0.header.xid == ReservedXid.ping }.count == pings)
        #expect(h.everyMemberKnows(session))
        #expect(h.everyMemberHas("/e", data: []))
        #expect(!h.isClosed(1))

        // Once the pings stop, the session expires.
        h.run(ms: 2000)
        #expect(h.noMemberKnows(session))
        #expect(h.noMemberHas("/e"))
    }

    @Test func reconnectToAnotherMember_resumesTheSession() throws {
        var (h, leader, followers) = ensemble()
        let first = try h.establish(1, at: followers[0], timeout: 5000)
        h.send(1, Req.create(1, "/r", flags: 1))
        let created = try #require(h.reply(1, xid: 1)).header.zxid
        h.clientCloses(1)
        h.run(ms: 500)

        // The other follower asks the leader (REVALIDATE) before resuming.
        let resumed = try h.establish(2, at: followers[1], timeout: 5000, sessionId: first.sessionId, passwd: first.passwd, lastZxidSeen: created)
        #expect(resumed.sessionId == first.sessionId)
        #expect(resumed.passwd == first.passwd)
        #expect(resumed.timeOut == 5000)
        #expect(!h.isClosed(2))
        h.send(2, Req.getData(1, "/r"))
        guard case .data(_, let stat)? = h.reply(2, xid: 1)?.response else {
            Issue.record("getData on the resumed session: \(h.replies(2))")
            return
        }
        #expect(stat.ephemeralOwner == first.sessionId)
        // Writes on the resumed connection are answered there.
        h.send(2, Req.setData(2, "/r", hello))
        #expect(h.reply(2, xid: 2)?.header.err == 0)
        #expect(h.everyMemberHas("/r", data: hello))

        // Kept alive by that member's pings, then moved to the leader, which resumes it itself.
        h.run(ms: 3000) { h in
            if (h.now / 50) % 10 == 0 { h.send(2, Req.ping()) }
        }
        #expect(h.everyMemberKnows(first.sessionId))
        h.clientCloses(2)
        let atLeader = try h.establish(3, at: leader, timeout: 5000, sessionId: first.sessionId, passwd: first.passwd)
        #expect(atLeader.sessionId == first.sessionId)

        // A wrong password is refused.
        var wrong = first.passwd
        wrong[0] ^= 1
        #expect(h.connect(4, at: followers[0], sessionId: first.sessionId, passwd: wrong) == .invalid(readOnly: false))
        #expect(h.isClosed(4))
    }

    @Test func reconnectWithExpiredSession_getsTheInvalidResponse() throws {
        var (h, leader, followers) = ensemble()
        let doomed = try h.establish(1, at: followers[0], timeout: 1000)
        h.clientCloses(1)
        h.run(ms: 2000)
        try #require(h.noMemberKnows(doomed.sessionId))
        for (connection, member) in [(2, followers[1]), (3, leader), (4, followers[0])] as [(ConnectionID, ServerID)] {
            let response = h.connect(connection, at: member, sessionId: doomed.sessionId, passwd: doomed.passwd)
            #expect(response == .invalid(readOnly: false), "at member \(member)")
            #expect(response?.timeOut == 0 && response?.sessionId == 0)
            #expect(h.isClosed(connection))
        }
    }

    @Test func followersStaleCopyOfExpiringSession_isRefusedByLeader() throws {
        var (h, leader, followers) = ensemble()
        let doomed = try h.establish(1, at: followers[0], timeout: 1000)
        h.clientCloses(1)
        // Time passes until the leader decides to expire the session; its closeSession is not
        // delivered yet.
        var guardTicks = 0
        while h[leader].sessions.sessions[doomed.sessionId]?.isClosing != true {
            h.deliver()
            h.tick(delivering: false)
            guardTicks += 1
            try #require(guardTicks < 100, "the leader never expired the session")
        }
        let other = followers[1]
        try #require(h[other].sessions.sessions[doomed.sessionId].map { !$0.isClosing } == true)

        // The follower still holds the session, but the leader owns it and says no.
        let response = h.connect(2, at: other, sessionId: doomed.sessionId, passwd: doomed.passwd)
        #expect(response == .invalid(readOnly: false))
        #expect(h.isClosed(2))
        #expect(h.noMemberKnows(doomed.sessionId))
    }

    @Test func followerLosingItsLeader_dropsClientsAndRefusesNewOnesUntilServingAgain() throws {
        var (h, leader, followers) = ensemble()
        let cut = followers[0]
        let session = try h.establish(1, at: cut).sessionId
        _ = try h.establish(2, at: followers[1])
        h.send(1, Req.create(1, "/before"))
        #expect(h.reply(1, xid: 1)?.header.err == 0)

        // The link breaks, and stays down for a while.
        h.blocked.insert([cut, leader])
        h.disconnect(cut, leader)
        #expect(!h[cut].isServing)
        #expect(h.isClosed(1))
        #expect(!h.isClosed(2))

        var refused = 0
        var connection: ConnectionID = 100
        h.run(ms: 1000) { h in
            guard !h[cut].isServing else { return }
            connection += 1
            let response = h.connect(connection, at: cut)
            #expect(response == nil)
            #expect(h.isClosed(connection))
            refused += 1
        }
        #expect(refused == 20)
        // The rest of the ensemble serves on.
        h.send(2, Req.create(1, "/during"))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        #expect(h[cut].tree.node("/during") == nil)

        // The link heals: the member syncs and serves again, with what it missed.
        h.blocked = []
        let end = h.now + 5000
        while !h[cut].isServing && h.now < end {
            h.tick()
            if !h[cut].isServing {
                connection += 1
                #expect(h.connect(connection, at: cut) == nil)
            }
        }
        try #require(h[cut].isServing)
        #expect(h[cut].peer?.state == .following)
        #expect(h[cut].tree.node("/during") != nil)
        let fresh = try h.establish(200, at: cut)
        #expect(fresh.sessionId >> 56 == cut)
        h.send(200, Req.create(1, "/after"))
        #expect(h.reply(200, xid: 1)?.header.err == 0)
        #expect(h.membersAgree)
        // The dropped client resumes its session at the member it was on.
        let back = try h.establish(201, at: cut, sessionId: session, passwd: SessionTable.password(for: session))
        #expect(back.sessionId == session)
    }

    @Test func resumeOnFollowerThatHasNotAppliedTheSessionYet() throws {
        var (h, leader, followers) = ensemble()
        let (creator, lagging) = (followers[0], followers[1])
        // The leader's messages to the lagging follower are held back: it neither logs nor
        // applies the createSession, while the creator and the leader form the quorum.
        h.held = [lagging]
        let created = try h.establish(1, at: creator, timeout: 5000)
        try #require(h[leader].sessions.sessions[created.sessionId] != nil)
        try #require(h[lagging].sessions.sessions[created.sessionId] == nil, "the lagging follower already holds the session; the test proves nothing")

        // The client moves to the lagging follower (it has seen no zxid, so that member is
        // not behind it). The session is missing there, but the leader owns sessions: the
        // member asks it instead of refusing on its own.
        let early = h.connect(2, at: lagging, timeout: 5000, sessionId: created.sessionId, passwd: created.passwd)
        #expect(early == nil, "answered before the leader was asked")
        #expect(!h.isClosed(2))
        #expect(h.network.contains { $0.from == leader && $0.to == lagging && $0.message == .revalidateReply(sessionId: created.sessionId, valid: true) })

        // The held messages arrive in order: the createSession, then the leader's answer.
        h.held = []
        h.deliver()
        #expect(h[lagging].sessions.sessions[created.sessionId] != nil)
        let resumed = try #require(h.received[2]!.connectResponses(to: 2).first, "no ConnectResponse: \(h.received[2]!)")
        #expect(resumed.sessionId == created.sessionId)
        #expect(resumed.passwd == created.passwd)
        #expect(resumed.timeOut == 5000)
        #expect(!h.isClosed(2))
        // The resumed session works there.
        h.send(2, Req.create(1, "/resumed", flags: 1))
        #expect(h.reply(2, xid: 1)?.header.err == 0)
        #expect(EnsembleHarness.ids.allSatisfy { h[$0].tree.node("/resumed")?.ephemeralOwner == created.sessionId })
    }

    @Test func memberLeavingItsRoleAnswersNoClientForUncommittedTxns() throws {
        var (h, leader, followers) = ensemble()
        _ = try h.establish(1, at: leader)
        h.send(1, Req.create(1, "/before"))
        #expect(h.reply(1, xid: 1)?.header.err == 0)

        // Both followers are cut off: the leader proposes and logs the write, but no ACK
        // comes, so it is never committed.
        for follower in followers { h.blocked.insert([leader, follower]) }
        h.send(1, Req.create(2, "/uncommitted", data: hello))
        try #require(h.members[leader]!.log.contains {
            if case .create(let path, _, _, _, _) = $0.body { return path == "/uncommitted" } else { return false }
        }, "the leader did not log the write")
        #expect(h.reply(1, xid: 2) == nil)
        #expect(h.noMemberHas("/uncommitted"))

        // The leader hears nobody for syncLimit ticks and steps down; its peer applies its
        // whole log first (fast-forward), the uncommitted write included.
        let end = h.now + 3000
        while h[leader].peer?.state == .leading && h.now < end {
            h.tick(only: [leader])
        }
        try #require(h[leader].peer?.state != .leading, "the leader never stepped down")
        try #require(h[leader].tree.node("/uncommitted") != nil, "the leader did not fast-forward over the write; the test proves nothing")

        // The client was not told the write succeeded: its connection was only closed.
        let answers = h.replies(1).filter { $0.header.xid == 2 }
        #expect(answers.isEmpty, "the uncommitted write was answered: \(answers)")
        #expect(h.isClosed(1))

        // Rightly so: the followers elect a new leader without it, and once the links heal
        // the old leader is truncated back to what the quorum has.
        h.blocked = []
        let healed = h.now + 10_000
        while !(EnsembleHarness.ids.allSatisfy { h[$0].isServing } && h.leader != nil) && h.now < healed {
            h.tick()
        }
        try #require(EnsembleHarness.ids.allSatisfy { h[$0].isServing })
        #expect(h.leader != leader)
        #expect(h.noMemberHas("/uncommitted"))
        #expect(h.everyMemberHas("/before", data: []))
        #expect(h.membersAgree)
    }
}
