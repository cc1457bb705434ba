import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// Containers and TTL nodes removed by the server (reference §2.7), connections that vanish
/// mid-request, and the text reports (§3.2).
@Suite struct HousekeepingTests {
    @Test func usedEmptyContainer_isDeletedAtTheNextContainerCheck() {
        var h = ReplicaHarness { $0.maxSessionTimeoutMs = 200_000 }
        let start = h.now
        h.connect(1, timeout: 200_000)
        h.sendAndPersist(1, Req.create(1, "/used", op: .createContainer))
        h.sendAndPersist(1, Req.create(2, "/used/x"))
        h.sendAndPersist(1, Req.delete(3, "/used/x"))
        h.sendAndPersist(1, Req.create(4, "/never", op: .createContainer))
        h.sendAndPersist(1, Req.create(5, "/busy", op: .createContainer))
        h.sendAndPersist(1, Req.create(6, "/busy/x"))
        h.send(1, Req.ping())
        #expect(h.tick(at: start + 59_999).appendedTxns.isEmpty)
        let check = h.tick(at: start + 60_000)
        #expect(check.appendedTxns.map(\.body) == [.deleteContainer(path: "/used")])
        #expect(check.appendedTxns.first?.header.type == OpCode.deleteContainer.rawValue)
        h.persist()
        #expect(h.replica.tree.node("/used") == nil)
        #expect(h.replica.tree.node("/never") != nil)
        #expect(h.replica.tree.node("/busy") != nil)
    }

    @Test func neverUsedContainer_isDeletedAfterMaxNeverUsedInterval() {
        var h = ReplicaHarness {
            $0.containerMaxNeverUsedIntervalMs = 30_000
            $0.maxSessionTimeoutMs = 200_000
        }
        let start = h.now
        h.connect(1, timeout: 200_000)
        h.sendAndPersist(1, Req.create(1, "/never", op: .createContainer))
        #expect(h.tick(at: start + 60_000).appendedTxns.map(\.body) == [.deleteContainer(path: "/never")])
    }

    @Test func expiredTTLNode_isDeletedWhenChildless() {
        var h = ReplicaHarness {
            $0.extendedTypesEnabled = true
            $0.maxSessionTimeoutMs = 200_000
        }
        let start = h.now
        h.connect(1, timeout: 200_000)
        h.sendAndPersist(1, Req.create(1, "/short", flags: 5, op: .createTTL, ttl: 1000))
        h.sendAndPersist(1, Req.create(2, "/long", flags: 5, op: .createTTL, ttl: 100_000))
        h.sendAndPersist(1, Req.create(3, "/parent", flags: 5, op: .createTTL, ttl: 1000))
        h.sendAndPersist(1, Req.create(4, "/parent/kid"))
        let check = h.tick(at: start + 60_000)
        #expect(check.appendedTxns.map(\.body) == [.deleteContainer(path: "/short")])
        h.persist()
        #expect(h.replica.tree.node("/short") == nil)
    }

    @Test func connectionClosedWhileItsWriteIsPending_writeIsStillApplied() {
        var h = ReplicaHarness()
        h.connect(1)
        h.send(1, Req.create(1, "/a"))
        h.send(1, Req.getData(2, "/a"))
        _ = h.replica.connectionClosed(1, now: h.time)
        let actions = h.persist()
        #expect(actions.timeline(1).isEmpty)
        #expect(h.replica.tree.node("/a") != nil)
    }

    @Test func connectionClosedBeforeTheSessionIsDurable_sessionStillCreated() {
        var h = ReplicaHarness()
        h.open(1)
        h.send(1, connectFrame())
        _ = h.replica.connectionClosed(1, now: h.time)
        #expect(h.persist().isEmpty)
        #expect(h.replica.sessions.sessions[firstSession] != nil)
        // The client may resume it elsewhere.
        h.open(2)
        let response = h.send(2, connectFrame(sessionId: firstSession, passwd: SessionTable.password(for: firstSession)))
        #expect(response.connectResponses(to: 2).first?.sessionId == firstSession)
    }

    @Test func ephemeralCreatedInMulti_isOwnedByTheSession() {
        var h = ReplicaHarness()
        let session = h.connect(1)
        h.sendAndPersist(1, Req.multi(1, [(.create, Req.createRecord("/e", flags: 1))]))
        #expect(h.replica.tree.node("/e")?.ephemeralOwner == session.sessionId)
        h.sendAndPersist(1, Req.closeSession(2))
        #expect(h.replica.tree.node("/e") == nil)
    }

    @Test func wchs_countsDataWatchesOnly() {
        var h = ReplicaHarness { $0.fourLetterWordWhitelist = ["*"] }
        h.connect(1)
        h.send(1, Req.exists(1, "/a", watch: true))
        h.send(1, Req.getData(2, "/zookeeper", watch: true))
        h.send(1, Req.getChildren(3, "/", watch: true))
        h.open(2)
        #expect(h.replica.fourLetterWordReceived(2, word: "wchs", now: h.time).first == .sendText(2, "1 connections watching 2 paths\nTotal watches:2\n"))
    }

    @Test func mntr_reportsZooKeeperKeys() {
        var h = ReplicaHarness { $0.fourLetterWordWhitelist = ["mntr"] }
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/e", flags: 1))
        h.send(1, Req.getChildren(2, "/", watch: true))
        h.open(2)
        guard case .sendText(2, let text)? = h.replica.fourLetterWordReceived(2, word: "mntr", now: h.time).first else {
            Issue.record("no mntr text")
            return
        }
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains("zk_server_state\tstandalone"))
        #expect(lines.contains("zk_znode_count\t6"))
        #expect(lines.contains("zk_ephemerals_count\t1"))
        #expect(lines.contains("zk_watch_count\t1"))
        #expect(lines.contains("zk_num_alive_connections\t2"))
        #expect(lines.contains("zk_global_sessions\t1"))
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("zk_") && $0.contains("\t") })
    }

    @Test func srvr_reportsZxidAndNodeCount() {
        var h = ReplicaHarness()
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/a"))
        h.open(2)
        guard case .sendText(2, let text)? = h.replica.fourLetterWordReceived(2, word: "srvr", now: h.time).first else {
            Issue.record("no srvr text")
            return
        }
        #expect(text.contains("\nZxid: 0x2\n"))
        #expect(text.contains("\nNode count: 6\n"))
        #expect(text.contains("\nMode: standalone\n"))
        #expect(text.contains("\nLatency min/avg/max: "))
    }
}
