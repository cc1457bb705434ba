import Testing
import ZKDataTree
import ZKModel

/// Stat maintenance (reference §2.5) and sequential names (§2.6, §7.2).
@Suite struct StatTests {
    @Test func create_stat_zxidsAndTimesComeFromTheCreatingTxn() {
        var h = TreeHarness()
        h.now = 1_700_000_000_000
        h.create("/a", data: [1, 2, 3])
        let zxid = h.lastZxid
        let stat = h.stat("/a")
        #expect(
            stat
                == Stat(
                    czxid: zxid, mzxid: zxid, ctime: 1_700_000_000_000, mtime: 1_700_000_000_000, version: 0, cversion: 0,
                    aversion: 0, ephemeralOwner: 0, dataLength: 3, numChildren: 0, pzxid: zxid))
    }

    @Test func create_parentStat_cversionNumChildrenAndPzxidOnly() {
        var h = TreeHarness()
        h.create("/p")
        let before = h.stat("/p")!
        h.now += 5
        h.create("/p/c")
        let after = h.stat("/p")!
        #expect(after.pzxid == h.lastZxid)
        #expect(after.cversion == 1)
        #expect(after.numChildren == 1)
        #expect(after.mzxid == before.mzxid)
        #expect(after.mtime == before.mtime)
        #expect(after.version == before.version)
    }

    @Test func setData_stat_updatesMzxidMtimeVersionAndLength() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/c", data: nil)
        let created = h.stat("/p/c")!
        let parentBefore = h.stat("/p")!
        h.now += 1000
        h.run(.setData(path: "/p/c", data: [9, 9], version: -1))
        let updated = h.stat("/p/c")!
        #expect(updated.mzxid == h.lastZxid)
        #expect(updated.mtime == h.now)
        #expect(updated.version == 1)
        #expect(updated.dataLength == 2)
        #expect(updated.czxid == created.czxid)
        #expect(updated.ctime == created.ctime)
        #expect(updated.pzxid == created.pzxid)
        // setData on a child does not touch the parent.
        #expect(h.stat("/p") == parentBefore)
    }

    @Test func setACL_stat_onlyAversionChanges() {
        var h = TreeHarness()
        h.create("/a")
        let before = h.stat("/a")!
        h.run(.setACL(path: "/a", acl: readOnlyACL, version: -1))
        var expected = before
        expected.aversion = 1
        #expect(h.stat("/a") == expected)
    }

    @Test func nullData_isKeptNullWithDataLengthZero() {
        var h = TreeHarness()
        h.create("/null", data: nil)
        h.create("/empty", data: [])
        #expect(h.tree.node("/null")?.data == nil)
        #expect(h.tree.node("/empty")?.data == [])
        #expect(h.stat("/null")?.dataLength == 0)
        h.run(.setData(path: "/empty", data: nil, version: -1))
        #expect(h.tree.node("/empty")?.data == nil)
    }

    @Test func createDeleteCreate_sequentialNamesUseStoredCversion_visibleCversionIsThree() {
        var h = TreeHarness()
        h.create("/p")
        #expect(h.createdPath("/p/n", flags: 2) == "/p/n0000000000")
        h.run(.delete(path: "/p/n0000000000", version: -1))
        #expect(h.createdPath("/p/n", flags: 2) == "/p/n0000000001")
        #expect(h.stat("/p")?.cversion == 3)
        #expect(h.stat("/p")?.numChildren == 1)
        #expect(h.tree.node("/p")?.cversion == 2)
    }

    @Test func cversion_visibleValue_isTwiceStoredMinusChildren() {
        var h = TreeHarness()
        h.create("/p")
        for name in ["a", "b", "c"] { h.create("/p/" + name) }
        h.run(.delete(path: "/p/b", version: -1))
        let node = h.tree.node("/p")!
        #expect(node.cversion == 3)
        #expect(node.stat.cversion == 2 * 3 - 2)
        #expect(node.stat.numChildren == 2)
        #expect(node.children.sorted() == ["a", "c"])
    }

    @Test func sequentialNames_allModesShareTheParentCounter() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/plain")
        #expect(h.createdPath("/p/s", flags: 2) == "/p/s0000000001")
        #expect(h.createdPath("/p/e", flags: 3) == "/p/e0000000002")
        #expect(h.createdPath("/p/ttl", flags: 6, opCode: .createTTL, ttl: 100) == "/p/ttl0000000003")
        #expect(h.createdPath("/p/c", flags: 4, opCode: .createContainer) == "/p/c")
    }

    @Test func sequentialName_generatedNameExists_nodeExists() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/s0000000001")  // bumps the counter to 1
        #expect(h.create("/p/s", flags: 2).error == .nodeExists)
        #expect(h.tree.node("/p")?.cversion == 1)
    }

    @Test func pzxid_deleteRaisesParentPzxid_setDataDoesNot() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/c")
        let afterCreate = h.stat("/p")!.pzxid
        h.run(.setData(path: "/p/c", data: [1], version: -1))
        #expect(h.stat("/p")?.pzxid == afterCreate)
        h.run(.delete(path: "/p/c", version: -1))
        #expect(h.stat("/p")?.pzxid == h.lastZxid)
        #expect(h.stat("/p")?.pzxid != afterCreate)
    }

    @Test func pzxid_replayedDeleteWithOlderZxid_doesNotLowerPzxid() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/a")
        h.create("/p/b")
        let pzxid = h.stat("/p")!.pzxid
        // Replay a delete of /p/a carrying an older zxid (fuzzy snapshot): only raised if larger.
        var triggers: [WatchTrigger] = []
        _ = h.tree.apply(
            Txn(header: TxnHeader(clientId: 0, cxid: 0, zxid: pzxid - 1, time: 0, type: OpCode.delete.rawValue), body: .delete(path: "/p/a")),
            triggers: &triggers)
        #expect(h.tree.node("/p/a") == nil)
        #expect(h.stat("/p")?.pzxid == pzxid)
    }

    @Test func create_replayWithSmallerParentCVersion_leavesCversionAndPzxid() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/a")
        h.create("/p/b")
        let before = h.tree.node("/p")!
        h.replay(.create(path: "/p/c", data: nil, acl: open, ephemeral: false, parentCVersion: 1))
        let after = h.tree.node("/p")!
        #expect(after.cversion == before.cversion)
        #expect(after.pzxid == before.pzxid)
        #expect(after.children.count == 3)
        // −1 means "stored + 1".
        h.replay(.create(path: "/p/d", data: nil, acl: open, ephemeral: false, parentCVersion: -1))
        #expect(h.tree.node("/p")?.cversion == before.cversion + 1)
        #expect(h.tree.node("/p")?.pzxid == h.lastZxid)
    }

    @Test func sequentialCounter_atIntMax_wrapsToNegativeNames() {
        var h = TreeHarness()
        h.create("/p")
        h.replay(.create(path: "/p/x", data: nil, acl: open, ephemeral: false, parentCVersion: Int32.max - 1))
        #expect(h.createdPath("/p/s", flags: 2) == "/p/s2147483646")
        // The counter is a Java int: the next pending create wraps (reference §2.6, §7.2).
        let last = h.prepare(createOp("/p/s", flags: 2))
        let wrapped = h.prepare(createOp("/p/s", flags: 2))
        #expect(last.body.createdPath == "/p/s2147483647")
        #expect(wrapped.body.createdPath == "/p/s-2147483648")
    }

    @Test func builtInNodes_haveZeroStatsAndReservedACLs() {
        let tree = DataTree()
        for path in ["/", "/zookeeper", "/zookeeper/quota"] {
            let stat = tree.node(path)!.stat
            #expect(stat.czxid == 0 && stat.mzxid == 0 && stat.pzxid == 0 && stat.ctime == 0 && stat.mtime == 0, "\(path)")
            #expect(stat.version == 0 && stat.aversion == 0 && stat.ephemeralOwner == 0 && stat.dataLength == 0, "\(path)")
            #expect(tree.node(path)?.acl == open, "\(path)")
        }
        let config = tree.node("/zookeeper/config")!
        #expect(config.stat.aversion == -1)
        #expect(config.stat.version == 0)
        #expect(config.acl == readOnlyACL)
        #expect(tree.node("/")?.children.sorted() == ["zookeeper"])
        #expect(tree.node("/zookeeper")?.children.sorted() == ["config", "quota"])
        // ZooKeeper counts the root twice.
        #expect(tree.nodeCount == 5)
        #expect(tree.lastProcessedZxid == 0)
    }
}

@Suite struct SequentialNameTests {
    @Test(arguments: [
        (0, "0000000000"), (1, "0000000001"), (42, "0000000042"), (1_234_567_890, "1234567890"),
        (Int32.max, "2147483647"), (-1, "-000000001"), (-123, "-000000123"), (-999_999_999, "-999999999"),
        (-1_000_000_000, "-1000000000"), (Int32.min, "-2147483648"),
    ] as [(Int32, String)])
    func suffix_formatsLikeJavaPercent010d(counter: Int32, expected: String) {
        #expect(SequentialName.suffix(counter) == expected)
    }
}

@Suite struct TreeQueryTests {
    @Test func descendantCount_countsAllLevels() {
        var h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        h.create("/a/b/c")
        h.create("/a/d")
        #expect(h.tree.descendantCount(of: "/a") == 3)
        #expect(h.tree.descendantCount(of: "/a/b/c") == 0)
        #expect(h.tree.descendantCount(of: "/missing") == 0)
        // Root: everything but the two root aliases.
        #expect(h.tree.descendantCount(of: "/") == h.tree.nodeCount - 2)
    }

    @Test func lastProcessedZxid_followsAppliedTxns() {
        var h = TreeHarness()
        h.create("/a")
        h.create("abc")  // a failure is a txn too
        #expect(h.tree.lastProcessedZxid == 2)
    }
}
