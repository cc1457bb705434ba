import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// The write path, per-session ordering and per-opcode replies (reference §1.4–§1.7, §2.3, §7.1, §7.3).
@Suite struct WritePathTests {
    @Test func write_replyIsSentOnlyAfterLogPersisted() {
        var h = ReplicaHarness()
        h.connect(1)
        let sent = h.send(1, Req.create(7, "/a", data: [1]))
        #expect(sent.replies(to: 1).isEmpty)
        #expect(sent.appendedTxns.count == 1)
        let txn = sent.appendedTxns[0]
        #expect(txn.body == .create(path: "/a", data: [1], acl: open, ephemeral: false, parentCVersion: 1))
        #expect(txn.header.cxid == 7)
        #expect(txn.header.clientId == firstSession)
        #expect(txn.header.time == h.now)
        #expect(h.replica.tree.node("/a") == nil)
        let persisted = h.persist()
        #expect(persisted == [.sendReply(1, ReplyHeader(xid: 7, zxid: txn.zxid, err: 0), .create(path: "/a"))])
        #expect(h.replica.tree.node("/a")?.data == [1])
    }

    @Test func logPersisted_partially_releasesOnlyDurableReplies() {
        var h = ReplicaHarness()
        h.connect(1)
        let first = h.send(1, Req.create(1, "/a")).appendedTxns[0]
        let second = h.send(1, Req.create(2, "/b")).appendedTxns[0]
        h.unpersisted = []
        let partial = h.replica.logPersisted(upTo: first.zxid, now: h.time)
        #expect(partial.timeline(1) == ["reply:1:0"])
        let rest = h.replica.logPersisted(upTo: second.zxid, now: h.time)
        #expect(rest.timeline(1) == ["reply:2:0"])
    }

    @Test func create2AndContainerAndTTL_replyWithCreate2Response() {
        var h = ReplicaHarness { $0.extendedTypesEnabled = true }
        h.connect(1)
        let create2 = h.sendAndPersist(1, Req.create(1, "/c2", op: .create2)).reply(to: 1, xid: 1)
        #expect(create2?.response == .create2(path: "/c2", stat: h.replica.tree.node("/c2")!.stat))
        let container = h.sendAndPersist(1, Req.create(2, "/cc", flags: 4, op: .createContainer)).reply(to: 1, xid: 2)
        #expect(container?.response == .create2(path: "/cc", stat: h.replica.tree.node("/cc")!.stat))
        let ttl = h.sendAndPersist(1, Req.create(3, "/t", flags: 6, op: .createTTL, ttl: 1000)).reply(to: 1, xid: 3)
        guard case .create2(let path, let stat)? = ttl?.response else {
            Issue.record("not create2: \(String(describing: ttl))")
            return
        }
        #expect(path == "/t0000000002")
        #expect(stat.ephemeralOwner == 0)
    }

    @Test func failedWrite_consumesAZxidAndRepliesHeaderOnly() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, Req.create(1, "/missing/child"))
        #expect(actions.appendedTxns.map(\.body) == [.error(.noNode)])
        #expect(actions.appendedTxns.first?.header.type == OpCode.error.rawValue)
        #expect(actions.reply(to: 1, xid: 1)?.header == ReplyHeader(xid: 1, zxid: 2, err: ErrorCode.noNode.rawValue))
        #expect(h.replica.tree.lastProcessedZxid == 2)
    }

    @Test func create2Txn_isLoggedWithType15() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.create(1, "/a", op: .create2)).appendedTxns.first?.header.type == 15)
        #expect(h.send(1, Req.create(2, "/b")).appendedTxns.first?.header.type == 1)
    }

    @Test func readPipelinedBehindOwnWrite_waitsAndSeesTheWrite() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.create(1, "/a", data: [42])).replies(to: 1).isEmpty)
        #expect(h.send(1, Req.getData(2, "/a")).replies(to: 1).isEmpty)
        #expect(h.send(1, Req.ping()).replies(to: 1).isEmpty)
        let actions = h.persist()
        #expect(actions.timeline(1) == ["reply:1:0", "reply:2:0", "reply:-2:0"])
        guard case .data(let data, _)? = actions.reply(to: 1, xid: 2)?.response else {
            Issue.record("no getData reply")
            return
        }
        #expect(data == [42])
    }

    @Test func readOfAnotherSession_isNotHeldBackByThisSessionsWrite() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.send(1, Req.create(1, "/a"))
        let read = h.send(2, Req.exists(1, "/a"))
        #expect(read.reply(to: 2, xid: 1)?.header.err == ErrorCode.noNode.rawValue)
    }

    @Test func readReply_carriesLastProcessedZxid() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a"))
        let reply = h.send(1, Req.getData(2, "/a")).reply(to: 1, xid: 2)
        #expect(reply?.header.zxid == 2)
        #expect(h.send(1, Req.ping()).reply(to: 1, xid: -2)?.header == ReplyHeader(xid: -2, zxid: 2, err: 0))
    }

    @Test func multi_failure_headerZeroAndResultsZeroCodeMinusTwo() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, Req.multi(1, [
            (.create, Req.createRecord("/a")),
            (.delete, Req.pathVersionRecord("/missing", -1)),
            (.create, Req.createRecord("/b")),
        ]))
        let reply = actions.reply(to: 1, xid: 1)
        #expect(reply?.header.err == 0)
        #expect(reply?.header.zxid == 2)
        #expect(reply?.response == .multi([.error(.ok), .error(.noNode), .error(.runtimeInconsistency)]))
        #expect(h.replica.tree.node("/a") == nil)
    }

    @Test func multi_success_resultTypesFollowOpcodes() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, Req.multi(1, [
            (.create, Req.createRecord("/a")),
            (.create2, Req.createRecord("/b")),
            (.check, Req.pathVersionRecord("/a", 0)),
            (.setData, { $0.writeString("/a"); $0.writeBuffer([1]); $0.writeInt(0) }),
            (.delete, Req.pathVersionRecord("/b", -1)),
        ]))
        guard case .multi(let results)? = actions.reply(to: 1, xid: 1)?.response else {
            Issue.record("no multi reply: \(actions)")
            return
        }
        #expect(results.count == 5)
        #expect(results[0] == .create(path: "/a"))
        if case .create2(let path, let stat) = results[1] {
            #expect(path == "/b")
            #expect(stat.czxid == 2)
        } else {
            Issue.record("create2 op did not give a create2 result: \(results[1])")
        }
        #expect(results[2] == .check)
        if case .setData(let stat) = results[3] { #expect(stat.version == 1) } else { Issue.record("\(results[3])") }
        #expect(results[4] == .delete)
    }

    @Test func emptyMulti_consumesAZxid() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, Req.multi(1, []))
        #expect(actions.appendedTxns.map(\.body) == [.multi([])])
        #expect(actions.reply(to: 1, xid: 1)?.header == ReplyHeader(xid: 1, zxid: 2, err: 0))
        #expect(actions.reply(to: 1, xid: 1)?.response == .multi([]))
    }

    @Test func multiRead_opsFailIndependently() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a", data: [5]))
        let actions = h.send(1, Req.multi(2, kind: .multiRead, [
            (.getData, { $0.writeString("/missing"); $0.writeBool(false) }),
            (.getData, { $0.writeString("/a"); $0.writeBool(false) }),
            (.getChildren, { $0.writeString("/"); $0.writeBool(false) }),
        ]))
        #expect(actions.appendedTxns.isEmpty)
        guard case .multi(let results)? = actions.reply(to: 1, xid: 2)?.response else {
            Issue.record("no multiRead reply")
            return
        }
        #expect(results.first == .error(.noNode))
        if case .getData(let data, _) = results[1] { #expect(data == [5]) } else { Issue.record("\(results[1])") }
        #expect(results[2] == .getChildren(["a", "zookeeper"]))
    }

    @Test func reconfig_standaloneDisabled_minus123AndConsumesAZxid() {
        var h = ReplicaHarness()
        h.connect(1)
        let sent = h.send(1, requestFrame(3, .reconfig) {
            $0.writeString(nil)
            $0.writeString("2")
            $0.writeString(nil)
            $0.writeLong(-1)
        })
        #expect(sent.appendedTxns.map(\.body) == [.error(.reconfigDisabled)])
        #expect(sent.replies(to: 1).isEmpty)
        let reply = h.persist().reply(to: 1, xid: 3)
        #expect(reply?.header == ReplyHeader(xid: 3, zxid: 2, err: ErrorCode.reconfigDisabled.rawValue))
        #expect(h.replica.tree.lastProcessedZxid == 2)
    }

    @Test func reconfig_enabledButStandalone_unimplemented() {
        var h = ReplicaHarness { $0.reconfigEnabled = true }
        h.connect(1)
        let reply = h.sendAndPersist(1, requestFrame(3, .reconfig) {
            $0.writeString(nil)
            $0.writeString(nil)
            $0.writeString("server.1=a:1:2")
            $0.writeLong(-1)
        }).reply(to: 1, xid: 3)
        #expect(reply?.header.err == ErrorCode.unimplemented.rawValue)
    }
}

@Suite struct RefusedRequestTests {
    @Test(arguments: [77, 0, 10, 13, 20, -10, -1, 23, 999] as [Int32])
    func invalidOpcode_unimplementedWithZxidMinusOneThenClose(type: Int32) {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.send(1, requestFrame(5, type) {
            $0.writeString("/a")
            $0.writeInt(0)
        })
        #expect(actions == [.sendReply(1, ReplyHeader(xid: 5, zxid: -1, err: ErrorCode.unimplemented.rawValue), .none), .closeConnection(1)])
        #expect(h.log.count == 1)
        // Nothing more is read from a closed connection.
        #expect(h.send(1, Req.ping()).isEmpty)
    }

    @Test func topLevelCheck_isRefusedAndNeverLogged() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a"))
        let actions = h.send(1, Req.pathAndInt(2, .check, "/a", 0))
        #expect(actions.timeline(1) == ["reply:2:-6", "close"])
        #expect(actions.appendedTxns.isEmpty)
    }

    @Test(arguments: [OpCode.getData, .exists, .getChildren, .getChildren2])
    func nullPathInRead_marshallingErrorAndConnectionStaysOpen(op: OpCode) {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.send(1, Req.pathAndBool(4, op, nil, false))
        #expect(actions.timeline(1) == ["reply:4:-5"])
        #expect(h.send(1, Req.ping()).timeline(1) == ["reply:-2:0"])
    }

    @Test func nullPathInWrite_marshallingErrorAndConnectionStaysOpen() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, requestFrame(4, .create) {
            $0.writeString(nil)
            $0.writeBuffer([])
            $0.writeACLs(open)
            $0.writeInt(0)
        })
        #expect(actions.timeline(1) == ["reply:4:-5"])
        #expect(h.sendAndPersist(1, Req.create(5, "/ok")).timeline(1) == ["reply:5:0"])
    }

    @Test func undecodableMulti_isALoggedMarshallingError() {
        var h = ReplicaHarness()
        h.connect(1)
        let actions = h.sendAndPersist(1, Req.multi(1, [
            (.create, Req.createRecord("/a")),
            (.getData, { $0.writeString("/a"); $0.writeBool(false) }),
        ]))
        #expect(actions.appendedTxns.map(\.body) == [.error(.marshallingError)])
        #expect(actions.timeline(1) == ["reply:1:-5"])
        #expect(h.replica.tree.node("/a") == nil)
    }

    @Test func truncatedRequestHeader_closesTheConnection() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, ByteBuffer(bytes: [0, 0, 0, 1, 0])).closes(1))
    }

    @Test func unknownWatcherType_marshallingError() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.pathAndInt(1, .removeWatches, "/", 9)).timeline(1) == ["reply:1:-5"])
        #expect(h.send(1, Req.pathAndInt(2, .addWatch, "/", 2)).timeline(1) == ["reply:2:-5"])
    }
}

@Suite struct ReadRequestTests {
    @Test func exists_missingNode_noNodeButSetsAWatch() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        #expect(h.send(1, Req.exists(1, "/n", watch: true)).timeline(1) == ["reply:1:-101"])
        #expect(h.sendAndPersist(2, Req.create(1, "/n")).notifications(to: 1) == [WatchedEvent(type: .nodeCreated, path: "/n")])
    }

    @Test func getDataAndGetChildren_missingNode_setNoWatch() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        #expect(h.send(1, Req.getData(1, "/n", watch: true)).timeline(1) == ["reply:1:-101"])
        #expect(h.send(1, Req.getChildren(2, "/n", watch: true)).timeline(1) == ["reply:2:-101"])
        #expect(h.sendAndPersist(2, Req.create(1, "/n")).notifications(to: 1).isEmpty)
    }

    @Test func reads_doNotValidatePaths() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.getData(1, "bad//p")).timeline(1) == ["reply:1:-101"])
        #expect(h.send(1, Req.exists(2, "/a/")).timeline(1) == ["reply:2:-101"])
    }

    @Test func getData_withoutRead_noAuth() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/secret", acl: [ACL(perms: Permissions.write.rawValue, id: .anyone)]))
        #expect(h.send(1, Req.getData(2, "/secret")).timeline(1) == ["reply:2:-102"])
        #expect(h.send(1, Req.getChildren(3, "/secret")).timeline(1) == ["reply:3:-102"])
        #expect(h.send(1, Req.exists(4, "/secret")).timeline(1) == ["reply:4:-102"])
    }

    @Test func getACL_withoutAdmin_masksDigestIds() {
        var h = ReplicaHarness()
        h.connect(1)
        let digest = ACL(perms: Permissions.all.rawValue, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20="))
        let list = [digest, ACL(perms: Permissions.read.rawValue, id: .anyone)]
        h.sendAndPersist(1, Req.create(1, "/p", acl: list))
        guard case .acl(let shown, _)? = h.send(1, Req.path(2, .getACL, "/p")).reply(to: 1, xid: 2)?.response else {
            Issue.record("no getACL reply")
            return
        }
        #expect(shown == [ACL(perms: 31, id: Id(scheme: "digest", id: "user:x")), list[1]])
        h.send(1, Req.auth("digest", "user:pass"))
        guard case .acl(let full, _)? = h.send(1, Req.path(3, .getACL, "/p")).reply(to: 1, xid: 3)?.response else {
            Issue.record("no getACL reply")
            return
        }
        #expect(full == list)
    }

    @Test func getACL_withNeitherReadNorAdmin_noAuth() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/p", acl: [ACL(perms: Permissions.write.rawValue, id: .anyone)]))
        #expect(h.send(1, Req.path(2, .getACL, "/p")).timeline(1) == ["reply:2:-102"])
    }

    @Test func emptyPath_readsAsTheRoot() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.getChildren(1, "")).reply(to: 1, xid: 1)?.response == .children(["zookeeper"]))
        #expect(h.send(1, Req.exists(2, "")).reply(to: 1, xid: 2)?.response == .stat(h.replica.tree.node("/")!.stat))
        // ZooKeeper counts keys starting with "" + "/": everything but the "" alias.
        #expect(h.send(1, Req.path(3, .getAllChildrenNumber, "")).reply(to: 1, xid: 3)?.response == .allChildrenNumber(4))
    }

    @Test func sync_echoesThePathWithoutValidation() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, Req.path(1, .sync, "not a path")).reply(to: 1, xid: 1)?.response == .sync(path: "not a path"))
    }

    @Test func getEphemeralsAndAllChildrenNumber_answerForTheCaller() {
        var h = ReplicaHarness()
        h.connect(1)
        h.connect(2)
        h.sendAndPersist(1, Req.create(1, "/a"))
        h.sendAndPersist(1, Req.create(2, "/a/e1", flags: 1))
        h.sendAndPersist(1, Req.create(3, "/b", flags: 1))
        h.sendAndPersist(2, Req.create(1, "/a/other", flags: 1))
        #expect(h.send(1, Req.path(4, .getEphemerals, "/")).reply(to: 1, xid: 4)?.response == .ephemerals(["/a/e1", "/b"]))
        #expect(h.send(1, Req.path(5, .getEphemerals, "/a")).reply(to: 1, xid: 5)?.response == .ephemerals(["/a/e1"]))
        #expect(h.send(1, Req.path(6, .getAllChildrenNumber, "/a")).reply(to: 1, xid: 6)?.response == .allChildrenNumber(2))
        #expect(h.send(1, Req.path(7, .getAllChildrenNumber, "/")).reply(to: 1, xid: 7)?.response == .allChildrenNumber(7))
    }

    @Test func whoAmI_listsIpAndDigestIdentities() {
        var h = ReplicaHarness()
        h.connect(1)
        #expect(h.send(1, requestFrame(1, .whoAmI)).reply(to: 1, xid: 1)?.response == .whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1")]))
        h.send(1, Req.auth("digest", "user:pass"))
        #expect(
            h.send(1, requestFrame(2, .whoAmI)).reply(to: 1, xid: 2)?.response
                == .whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1"), ClientInfo(authScheme: "digest", user: "user")]))
    }

    @Test func builtInNodes_cannotBeDeleted() {
        var h = ReplicaHarness()
        h.connect(1)
        for (xid, path) in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"].enumerated() {
            #expect(h.sendAndPersist(1, Req.delete(Xid(xid), path)).timeline(1) == ["reply:\(xid):-8"])
        }
        #expect(h.sendAndPersist(1, Req.create(9, "/zookeeper/mine")).timeline(1) == ["reply:9:0"])
    }
}
