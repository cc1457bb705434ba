import Testing
import ZKDataTree
import ZKModel

/// Ephemeral, container and TTL nodes (reference §2.7, §7.1) and session close.
@Suite struct NodeKindTests {
    @Test func ephemeral_ownerIsTheCreatingSession() {
        var h = TreeHarness()
        h.create("/e", flags: 1, session: 0x77)
        #expect(h.tree.node("/e")?.ephemeralOwner == 0x77)
        #expect(h.stat("/e")?.ephemeralOwner == 0x77)
        #expect(h.tree.ephemeralPaths(of: 0x77) == ["/e"])
        #expect(h.tree.ephemeralCount == 1)
    }

    @Test func container_storesLongMinValue_showsZero() {
        var h = TreeHarness()
        h.create("/c", flags: 4, opCode: .createContainer)
        #expect(h.tree.node("/c")?.ephemeralOwner == Int64.min)
        #expect(h.stat("/c")?.ephemeralOwner == 0)
        #expect(h.tree.containers.contains("/c"))
        #expect(h.tree.ephemeralCount == 0)
    }

    @Test(arguments: [0, 1, 2] as [Int32])
    func containerOpcode_anyNonTTLFlags_makesAContainer(flags: Int32) {
        var h = TreeHarness()
        _ = h.createdPath("/c", flags: flags, opCode: .createContainer)
        let path = h.tree.containers.first
        #expect(path != nil)
        #expect(path.flatMap { h.tree.node($0)?.ephemeralOwner } == EphemeralOwner.container)
        #expect(h.tree.ephemeralCount == 0)
    }

    @Test func ttl_storesMarkerWithTTL_showsZero() {
        var h = TreeHarness()
        h.create("/t", flags: 5, opCode: .createTTL, ttl: 5000)
        #expect(h.tree.node("/t")?.ephemeralOwner == Int64(bitPattern: 0xff00_0000_0000_1388))
        #expect(h.stat("/t")?.ephemeralOwner == 0)
        #expect(h.tree.ttls.contains("/t"))
    }

    @Test(arguments: [OpCode.create, .create2])
    func flagsFourWithPlainCreateOpcode_makesAPlainPersistentNode(opCode: OpCode) {
        var h = TreeHarness()
        let txn = h.prepare(createOp("/c", flags: 4, opCode: opCode))
        #expect(txn.body == .create(path: "/c", data: [], acl: open, ephemeral: false, parentCVersion: 1))
        h.apply(txn)
        #expect(h.tree.node("/c")?.ephemeralOwner == 0)
        #expect(h.tree.containers.isEmpty)
    }

    @Test func closeSession_removesCommittedAndPendingEphemeralsOfThatSessionOnly() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/e1", flags: 1, session: 0x1)
        h.create("/p/e2", flags: 1, session: 0x1)
        h.create("/p/other", flags: 1, session: 0x2)
        let pendingCreate = h.prepare(createOp("/p/e3", flags: 1), session: 0x1)
        let pendingDelete = h.prepare(.delete(path: "/p/e2", version: -1), session: 0x1)
        let close = h.prepare(.closeSession, session: 0x1)
        #expect(close.body == .closeSession(pathsToDelete: ["/p/e1", "/p/e3"]))
        h.apply(pendingCreate)
        h.apply(pendingDelete)
        let (outcome, triggers) = h.apply(close)
        #expect(outcome == .sessionClosed)
        #expect(h.tree.node("/p")?.children.sorted() == ["other"])
        #expect(h.tree.ephemeralPaths(of: 0x1) == [])
        #expect(h.tree.ephemeralPaths(of: 0x2) == ["/p/other"])
        #expect(triggers.filter { $0.type == .nodeDeleted }.map(\.path) == ["/p/e1", "/p/e3"])
        #expect(triggers.filter { $0.type == .nodeChildrenChanged }.map(\.path) == ["/p", "/p"])
        #expect(h.stat("/p")?.pzxid == close.zxid)
    }

    @Test func closeSession_pendingDeletesMakeParentDeletable() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/e", flags: 1, session: 0x1)
        _ = h.prepare(.closeSession, session: 0x1)
        #expect(h.prepare(.delete(path: "/p", version: -1), session: 0x2).body == .delete(path: "/p"))
    }

    @Test func deleteContainer_checksEmptinessAndEphemerality() {
        var h = TreeHarness()
        h.create("/c", flags: 4, opCode: .createContainer)
        h.create("/c/x")
        h.create("/e", flags: 1)
        #expect(h.run(.deleteContainer(path: "/c")).error == .notEmpty)
        #expect(h.run(.deleteContainer(path: "/e")).error == .badVersion)
        #expect(h.run(.deleteContainer(path: "/missing")).error == .noNode)
        h.run(.delete(path: "/c/x", version: -1))
        #expect(h.run(.deleteContainer(path: "/c")) == .deleted)
        #expect(h.tree.containers.isEmpty)
    }

    @Test func delete_ofTTLNode_forgetsIt() {
        var h = TreeHarness()
        h.create("/t", flags: 5, opCode: .createTTL, ttl: 10)
        h.run(.delete(path: "/t", version: -1))
        #expect(h.tree.ttls.isEmpty)
    }

    @Test func createSession_isATxnWithTheTimeout() {
        var h = TreeHarness()
        let txn = h.prepare(.createSession(timeoutMs: 30000))
        #expect(txn.body == .createSession(timeoutMs: 30000))
        #expect(h.apply(txn).outcome == .sessionCreated)
    }
}
