import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// Authentication and super users (reference §1.4, §2.9).
@Suite struct AuthTests {
    static let superDigest = "super:" + DigestHash.base64(DigestHash.sha1(Array("super:test".utf8)))

    @Test func digestAuth_repliesAtOnceWithXidMinusFourZxidZero() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a"))
        #expect(h.send(1, Req.auth("digest", "user:pass")) == [.sendReply(1, ReplyHeader(xid: -4, zxid: 0, err: 0), .none)])
    }

    @Test func digestAuth_grantsAccessToNodesWithThatDigestId() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        let mine = [ACL(perms: Permissions.all.rawValue, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20="))]
        h.sendAndPersist(1, Req.create(1, "/mine", data: [1], acl: mine))
        #expect(h.send(2, Req.getData(1, "/mine")).timeline(2) == ["reply:1:-102"])
        h.send(2, Req.auth("digest", "user:pass"))
        #expect(h.send(2, Req.getData(2, "/mine")).timeline(2) == ["reply:2:0"])
    }

    @Test func authSchemeACL_expandsToTheCallersDigest() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.sendAndPersist(1, Req.create(1, "/x", acl: ACL.creatorAllACL)).timeline(1) == ["reply:1:-114"])
        h.send(1, Req.auth("digest", "user:pass"))
        #expect(h.sendAndPersist(1, Req.create(2, "/x", acl: ACL.creatorAllACL)).timeline(1) == ["reply:2:0"])
        #expect(h.replica.tree.node("/x")?.acl == [ACL(perms: 31, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20="))])
    }

    @Test func superDigest_makesTheConnectionSuper() {
        var h = ReplicaHarness { $0.superDigest = Self.superDigest }
        h.connect(1)
        #expect(h.sendAndPersist(1, Req.setData(1, "/zookeeper/config", [1])).timeline(1) == ["reply:1:-102"])
        #expect(h.send(1, Req.auth("digest", "super:test")).timeline(1) == ["reply:-4:0"])
        #expect(h.sendAndPersist(1, Req.setData(2, "/zookeeper/config", [1])).timeline(1) == ["reply:2:0"])
        h.sendAndPersist(1, Req.create(3, "/locked", acl: [ACL(perms: 0, id: .anyone)]))
        #expect(h.send(1, Req.getData(4, "/locked")).timeline(1) == ["reply:4:0"])
    }

    @Test func wrongSuperPassword_isAnOrdinaryDigestIdentity() {
        var h = ReplicaHarness { $0.superDigest = Self.superDigest }
        h.connect(1)
        #expect(h.send(1, Req.auth("digest", "super:wrong")).timeline(1) == ["reply:-4:0"])
        #expect(h.sendAndPersist(1, Req.setData(2, "/zookeeper/config", [1])).timeline(1) == ["reply:2:-102"])
    }

    @Test(arguments: ["foo", "sasl", "world", "super", ""])
    func unknownAuthScheme_authFailedThenClose(scheme: String) {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.send(1, Req.auth(scheme, "whatever"))
        #expect(actions == [.sendReply(1, ReplyHeader(xid: -4, zxid: 0, err: ErrorCode.authFailed.rawValue), .none), .closeConnection(1)])
    }

    @Test func ipAuthPacket_succeedsAndKeepsTheConnection() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.auth("ip", "127.0.0.1")).timeline(1) == ["reply:-4:0"])
        #expect(h.send(1, Req.ping()).timeline(1) == ["reply:-2:0"])
    }

    @Test func digestAuthDisabled_authFailedThenClose() {
        var h = ReplicaHarness { $0.digestAuthEnabled = false }
        h.connect(1)
        #expect(h.send(1, Req.auth("digest", "user:pass")).timeline(1) == ["reply:-4:-115", "close"])
    }

    @Test func authReply_echoesTheRequestXid() {
        // Reference §1.4: the server echoes whatever xid it receives; −4 is only the client's convention.
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.send(1, Req.auth("digest", "user:pass", xid: 12))
        #expect(actions.timeline(1) == ["reply:12:0"])
    }
}

/// Notifications (reference §2.8, §7.4).
@Suite struct NotificationTests {
    @Test func notification_precedesTheReplyOfTheWriteThatCausedIt() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/n"))
        h.send(1, Req.getData(2, "/n", watch: true))
        let actions = h.sendAndPersist(1, Req.setData(3, "/n", [1]))
        #expect(actions.timeline(1) == ["event:nodeDataChanged:/n", "reply:3:0"])
    }

    @Test func notification_carriesTheTxnZxidAndSyncConnected() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.send(1, Req.exists(1, "/n", watch: true))
        let actions = h.sendAndPersist(2, Req.create(1, "/n"))
        let zxid = actions.appendedTxns[0].zxid
        #expect(actions.contains(.sendNotification(1, WatchedEvent(type: .nodeCreated, state: .syncConnected, path: "/n"), zxid: zxid)))
    }

    @Test func notification_precedesLaterReadRepliesOnTheWatchingConnection() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.sendAndPersist(1, Req.create(1, "/n"))
        h.send(2, Req.getData(1, "/n", watch: true))
        var actions = h.send(1, Req.setData(2, "/n", [7]))
        actions += h.send(2, Req.create(2, "/other"))
        actions += h.send(2, Req.getData(3, "/n"))
        actions += h.persist()
        #expect(actions.timeline(2) == ["event:nodeDataChanged:/n", "reply:2:0", "reply:3:0"])
    }

    @Test func delete_withDataAndChildWatches_sendsOneEventPerConnection() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.sendAndPersist(1, Req.create(1, "/n"))
        h.send(2, Req.exists(1, "/n", watch: true))
        h.send(2, Req.getData(2, "/n", watch: true))
        h.send(2, Req.getChildren(3, "/n", watch: true))
        h.send(2, Req.getChildren(4, "/", watch: true))
        let actions = h.sendAndPersist(1, Req.delete(2, "/n"))
        #expect(actions.timeline(2) == ["event:nodeDeleted:/n", "event:nodeChildrenChanged:/"])
        // The one-shot watches are gone.
        h.sendAndPersist(1, Req.create(3, "/n"))
        #expect(h.sendAndPersist(1, Req.delete(4, "/n")).notifications(to: 2).isEmpty)
    }

    @Test func persistentWatch_seesChildrenChanged_recursiveNever() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.connect(3)
        h.sendAndPersist(1, Req.create(1, "/p"))
        #expect(h.send(2, Req.pathAndInt(1, .addWatch, "/p", 0)).reply(to: 2, xid: 1)?.response == .errorResponse(0))
        #expect(h.send(3, Req.pathAndInt(1, .addWatch, "/p", 1)).timeline(3) == ["reply:1:0"])
        let create = h.sendAndPersist(1, Req.create(2, "/p/c"))
        #expect(create.notifications(to: 2) == [WatchedEvent(type: .nodeChildrenChanged, path: "/p")])
        #expect(create.notifications(to: 3) == [WatchedEvent(type: .nodeCreated, path: "/p/c")])
        let change = h.sendAndPersist(1, Req.setData(3, "/p", [1]))
        #expect(change.notifications(to: 2) == [WatchedEvent(type: .nodeDataChanged, path: "/p")])
        #expect(change.notifications(to: 3) == [WatchedEvent(type: .nodeDataChanged, path: "/p")])
        // Still there after firing.
        let delete = h.sendAndPersist(1, Req.delete(4, "/p/c"))
        #expect(delete.notifications(to: 2) == [WatchedEvent(type: .nodeChildrenChanged, path: "/p")])
        #expect(delete.notifications(to: 3) == [WatchedEvent(type: .nodeDeleted, path: "/p/c")])
    }

    @Test func notification_withoutReadPermissionOnTheNode_isDropped() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.send(2, Req.pathAndInt(1, .addWatch, "/", 1))
        let actions = h.sendAndPersist(1, Req.create(1, "/hidden", acl: [ACL(perms: Permissions.write.rawValue, id: .anyone)]))
        #expect(actions.notifications(to: 2) == [])
        let visible = h.sendAndPersist(1, Req.create(2, "/visible"))
        #expect(visible.notifications(to: 2) == [WatchedEvent(type: .nodeCreated, path: "/visible")])
    }

    @Test func removeAndCheckWatches_noWatcherWhenNothingMatches() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/n"))
        #expect(h.send(1, Req.pathAndInt(2, .checkWatches, "/n", 3)).timeline(1) == ["reply:2:-121"])
        h.send(1, Req.getData(3, "/n", watch: true))
        #expect(h.send(1, Req.pathAndInt(4, .checkWatches, "/n", 1)).timeline(1) == ["reply:4:-121"])
        #expect(h.send(1, Req.pathAndInt(5, .checkWatches, "/n", 2)).timeline(1) == ["reply:5:0"])
        #expect(h.send(1, Req.pathAndInt(6, .removeWatches, "/n", 2)).timeline(1) == ["reply:6:0"])
        #expect(h.send(1, Req.pathAndInt(7, .removeWatches, "/n", 2)).timeline(1) == ["reply:7:-121"])
        #expect(h.sendAndPersist(1, Req.setData(8, "/n", [1])).timeline(1) == ["reply:8:0"])
    }

    @Test func closedConnection_losesItsWatches() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.send(2, Req.exists(1, "/n", watch: true))
        _ = h.replica.connectionClosed(2, now: h.time)
        #expect(h.sendAndPersist(1, Req.create(1, "/n")).notifications(to: 2).isEmpty)
    }

    @Test func setWatches_firesMissedEventsBeforeItsReplyAndReRegistersTheRest() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/changed"))  // zxid 2
        h.sendAndPersist(1, Req.create(2, "/same"))  // zxid 3
        h.sendAndPersist(1, Req.create(3, "/parent"))  // zxid 4
        let seen = h.replica.tree.lastProcessedZxid
        h.sendAndPersist(1, Req.setData(4, "/changed", [1]))
        h.sendAndPersist(1, Req.create(5, "/parent/kid"))
        h.sendAndPersist(1, Req.create(6, "/appeared"))
        h.connect(2)  // the reconnected client
        let actions = h.send(2, Req.setWatches(
            relativeZxid: seen, data: ["/changed", "/same", "/gone"], exist: ["/appeared", "/absent"],
            child: ["/parent", "/same", "/gone"]))
        #expect(
            actions.timeline(2) == [
                "event:nodeDataChanged:/changed", "event:nodeDeleted:/gone", "event:nodeCreated:/appeared",
                "event:nodeChildrenChanged:/parent", "event:nodeDeleted:/gone", "reply:-8:0",
            ])
        #expect(actions.contains(.sendNotification(2, WatchedEvent(type: .nodeCreated, path: "/appeared"), zxid: -1)))
        // Re-registered watches fire later.
        let later = h.sendAndPersist(1, Req.create(7, "/absent"))
        #expect(later.notifications(to: 2) == [WatchedEvent(type: .nodeCreated, path: "/absent")])
        let same = h.sendAndPersist(1, Req.create(8, "/same/kid"))
        #expect(same.notifications(to: 2) == [WatchedEvent(type: .nodeChildrenChanged, path: "/same")])
        let sameData = h.sendAndPersist(1, Req.setData(9, "/same", [1]))
        #expect(sameData.notifications(to: 2) == [WatchedEvent(type: .nodeDataChanged, path: "/same")])
    }

    @Test func setWatches2_reRegistersPersistentWatches() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        let actions = h.send(2, Req.setWatches(relativeZxid: 0, persistent: ["/p"], recursive: ["/r"]))
        #expect(actions.timeline(2) == ["reply:-8:0"])
        h.sendAndPersist(1, Req.create(1, "/p"))
        h.sendAndPersist(1, Req.create(2, "/r"))
        #expect(h.sendAndPersist(1, Req.create(3, "/r/deep")).notifications(to: 2) == [WatchedEvent(type: .nodeCreated, path: "/r/deep")])
        #expect(h.sendAndPersist(1, Req.create(4, "/p/kid")).notifications(to: 2) == [WatchedEvent(type: .nodeChildrenChanged, path: "/p")])
    }

    @Test func setWatches_waitsBehindTheSessionsPendingWrite() {
        var h = ReplicaHarness()
        h.connect(1)
        h.send(1, Req.create(1, "/n"))
        #expect(h.send(1, Req.setWatches(relativeZxid: 0, exist: ["/n"])).replies(to: 1).isEmpty)
        #expect(h.persist().timeline(1) == ["reply:1:0", "event:nodeCreated:/n", "reply:-8:0"])
    }
}

/// Four-letter words (reference §3.1).
@Suite struct FourLetterWordTests {
    @Test func notWhitelisted_answersTheWhitelistMessageThenCloses() {
        var h = ReplicaHarness()
        h.open(1)
        #expect(
            h.replica.fourLetterWordReceived(1, word: "ruok", now: h.time) == [
                .sendText(1, "ruok is not executed because it is not in the whitelist.\n"), .closeConnection(1),
            ])
        h.open(2)
        #expect(h.replica.fourLetterWordReceived(2, word: "mntr", now: h.time).first == .sendText(2, "mntr is not executed because it is not in the whitelist.\n"))
    }

    @Test func srvr_isAlwaysAllowed() {
        var h = ReplicaHarness { $0.fourLetterWordWhitelist = [] }
        h.open(1)
        let actions = h.replica.fourLetterWordReceived(1, word: "srvr", now: h.time)
        guard case .sendText(1, let text)? = actions.first else {
            Issue.record("no text: \(actions)")
            return
        }
        #expect(text.hasPrefix("Zookeeper version: "))
        #expect(text.contains("Mode: standalone\n"))
        #expect(text.contains("Node count: 5\n"))
        #expect(actions.last == .closeConnection(1))
    }

    @Test func whitelisted_runsTheCommand() {
        var h = ReplicaHarness { $0.fourLetterWordWhitelist = ["ruok", "srvr"] }
        h.open(1)
        #expect(h.replica.fourLetterWordReceived(1, word: "ruok", now: h.time) == [.sendText(1, "imok"), .closeConnection(1)])
        var all = ReplicaHarness { $0.fourLetterWordWhitelist = ["*"] }
        all.open(1)
        #expect(all.replica.fourLetterWordReceived(1, word: "ruok", now: all.time).first == .sendText(1, "imok"))
        all.open(2)
        #expect(all.replica.fourLetterWordReceived(2, word: "isro", now: all.time).first == .sendText(2, "rw"))
    }
}
