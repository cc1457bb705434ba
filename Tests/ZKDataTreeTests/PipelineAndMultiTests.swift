import Testing
import ZKDataTree
import ZKModel

/// Validation against the committed tree plus pending changes (reference §2.3, §7.2) and
/// multi's all-or-nothing semantics (§1.7, §7.3).
@Suite struct PipelineTests {
    @Test func pipelinedCreates_samePath_secondGetsNodeExistsWhileFirstIsPending() {
        var h = TreeHarness()
        let first = h.prepare(createOp("/x"))
        let second = h.prepare(createOp("/x"))
        #expect(first.body.createdPath == "/x")
        #expect(second.body.errorCode == .nodeExists)
        #expect(h.apply(first).outcome.error == .ok)
        #expect(h.apply(second).outcome == .failed(.nodeExists))
        #expect(h.tree.node("/x") != nil)
    }

    @Test func pipelinedSequentialCreates_countPendingCreates() {
        var h = TreeHarness()
        h.create("/p")
        let txns = (0..<3).map { _ in h.prepare(createOp("/p/s-", flags: 2)) }
        #expect(txns.map(\.body.createdPath) == ["/p/s-0000000000", "/p/s-0000000001", "/p/s-0000000002"])
        for txn in txns { h.apply(txn) }
        #expect(h.tree.node("/p")?.children.sorted() == ["s-0000000000", "s-0000000001", "s-0000000002"])
        #expect(h.pending.isEmpty)
    }

    @Test func pipelinedCreate_childOfPendingParent_succeeds() {
        var h = TreeHarness()
        let parent = h.prepare(createOp("/a"))
        let child = h.prepare(createOp("/a/b"))
        #expect(child.body.createdPath == "/a/b")
        h.apply(parent)
        h.apply(child)
        #expect(h.tree.node("/a/b") != nil)
    }

    @Test func pipelinedDeleteThenCreate_samePath_succeeds() {
        var h = TreeHarness()
        h.create("/x")
        let delete = h.prepare(.delete(path: "/x", version: -1))
        let create = h.prepare(createOp("/x"))
        #expect(create.body.createdPath == "/x")
        h.apply(delete)
        h.apply(create)
        #expect(h.tree.node("/x")?.czxid == create.zxid)
    }

    @Test func pipelinedChildCreate_makesParentDeleteFailNotEmpty() {
        var h = TreeHarness()
        h.create("/p")
        _ = h.prepare(createOp("/p/c"))
        #expect(h.prepare(.delete(path: "/p", version: -1)).body.errorCode == .notEmpty)
    }

    @Test func pipelinedChildDelete_letsParentDeleteSucceed() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/c")
        let deleteChild = h.prepare(.delete(path: "/p/c", version: -1))
        let deleteParent = h.prepare(.delete(path: "/p", version: -1))
        #expect(deleteParent.body == .delete(path: "/p"))
        h.apply(deleteChild)
        h.apply(deleteParent)
        #expect(h.tree.node("/p") == nil)
    }

    @Test func pipelinedSetData_seesPendingVersion() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.prepare(.setData(path: "/a", data: [1], version: 0)).body == .setData(path: "/a", data: [1], version: 1))
        #expect(h.prepare(.setData(path: "/a", data: [2], version: 0)).body.errorCode == .badVersion)
        #expect(h.prepare(.setData(path: "/a", data: [2], version: 1)).body == .setData(path: "/a", data: [2], version: 2))
    }

    @Test func pipelinedDelete_makesSecondDeleteNoNode() {
        var h = TreeHarness()
        h.create("/a")
        _ = h.prepare(.delete(path: "/a", version: -1))
        #expect(h.prepare(.delete(path: "/a", version: -1)).body.errorCode == .noNode)
        #expect(h.prepare(.setData(path: "/a", data: nil, version: -1)).body.errorCode == .noNode)
    }

    @Test func pipelinedSetACL_appliesToLaterChecks() {
        var h = TreeHarness()
        h.create("/p")
        _ = h.prepare(.setACL(path: "/p", acl: acl(.read), version: -1))
        #expect(h.prepare(createOp("/p/c")).body.errorCode == .noAuth)
    }

    @Test func removeApplied_afterApplyingEverything_leavesNoPendingRecords() {
        var h = TreeHarness()
        let a = h.prepare(createOp("/a"))
        let b = h.prepare(createOp("/a/b"))
        #expect(!h.pending.isEmpty)
        h.apply(a)
        #expect(!h.pending.isEmpty)
        h.apply(b)
        #expect(h.pending.isEmpty)
    }

    @Test func failedWrite_leavesNoPendingRecord() {
        var h = TreeHarness()
        _ = h.prepare(createOp("/missing/x"))
        _ = h.prepare(.setData(path: "/missing", data: nil, version: -1))
        #expect(h.pending.isEmpty)
    }
}

@Suite struct MultiTests {
    @Test func failedMulti_rollsBackPendingSequentialCounter() {
        // ZOOKEEPER-1624: the failed multi's sequential create must not consume a number.
        var h = TreeHarness()
        h.create("/p")
        let failed = h.prepare(.multi([createOp("/p/s-", flags: 2), createOp("/missing/x")]))
        #expect(failed.body == .multi([.create(path: "/p/s-0000000000", data: [], acl: open, ephemeral: false, parentCVersion: 1), .error(.noNode)]))
        // Still pending (not applied): the next sequential create reuses the number.
        #expect(h.prepare(createOp("/p/s-", flags: 2)).body.createdPath == "/p/s-0000000000")
    }

    @Test func failedMulti_rollsBackPendingChildCount() {
        // ZOOKEEPER-2052: a failed multi's create must not make its parent look non-empty.
        var h = TreeHarness()
        h.create("/p")
        _ = h.prepare(.multi([createOp("/p/c"), .setData(path: "/p/c", data: nil, version: 7)]))
        #expect(h.prepare(.delete(path: "/p", version: -1)).body == .delete(path: "/p"))
    }

    @Test func failedMulti_results_zeroThenCodeThenRuntimeInconsistency() {
        var h = TreeHarness()
        h.create("/b")
        let txn = h.prepare(.multi([
            createOp("/a"),
            .setData(path: "/b", data: [1], version: -1),
            .delete(path: "/missing", version: -1),
            createOp("/c"),
            .check(path: "/b", version: 0),
        ]))
        guard case .multi(let bodies) = txn.body else {
            Issue.record("not a multi: \(txn.body)")
            return
        }
        #expect(bodies.count == 5)
        #expect(bodies[2] == .error(.noNode))
        #expect(bodies[3] == .error(.runtimeInconsistency))
        #expect(bodies[4] == .error(.runtimeInconsistency))
        let (outcome, triggers) = h.apply(txn)
        #expect(outcome == .multi([.failed(.ok), .failed(.ok), .failed(.noNode), .failed(.runtimeInconsistency), .failed(.runtimeInconsistency)]))
        #expect(outcome.error == .noNode)
        #expect(triggers.isEmpty)
        // Nothing happened, but the zxid was consumed.
        #expect(h.tree.node("/a") == nil)
        #expect(h.stat("/b")?.version == 0)
        #expect(h.tree.lastProcessedZxid == txn.zxid)
        #expect(h.pending.isEmpty)
    }

    @Test func successfulMulti_opsSeeEarlierOpsAndShareOneZxid() {
        var h = TreeHarness()
        let txn = h.prepare(.multi([
            createOp("/a"),
            createOp("/a/b", flags: 2),
            .setData(path: "/a", data: [7], version: 0),
            .check(path: "/a", version: 1),
            createOp("/tmp"),
            .delete(path: "/tmp", version: 0),
        ]))
        let (outcome, triggers) = h.apply(txn)
        guard case .multi(let outcomes) = outcome else {
            Issue.record("not a multi: \(outcome)")
            return
        }
        #expect(outcome.error == .ok)
        #expect(outcomes.count == 6)
        #expect(outcomes[3] == .checked)
        #expect(outcomes[5] == .deleted)
        if case .created(let path, _) = outcomes[1] { #expect(path == "/a/b0000000000") } else { Issue.record("\(outcomes[1])") }
        #expect(h.stat("/a")?.czxid == txn.zxid)
        #expect(h.stat("/a")?.mzxid == txn.zxid)
        #expect(h.stat("/a")?.version == 1)
        #expect(h.stat("/a/b0000000000")?.czxid == txn.zxid)
        #expect(h.tree.node("/tmp") == nil)
        #expect(triggers.contains { $0.path == "/a" && $0.type == .nodeDataChanged })
        #expect(h.pending.isEmpty)
    }

    @Test func multi_failingOpSeesEarlierOpsOfTheSameMulti() {
        var h = TreeHarness()
        h.create("/a")
        let txn = h.prepare(.multi([.delete(path: "/a", version: -1), .setData(path: "/a", data: nil, version: -1)]))
        #expect(txn.body == .multi([.delete(path: "/a"), .error(.noNode)]))
        h.apply(txn)
        #expect(h.tree.node("/a") != nil)
    }

    @Test func emptyMulti_isAnEmptyMultiTxn() {
        var h = TreeHarness()
        let txn = h.prepare(.multi([]))
        #expect(txn.body == .multi([]))
        #expect(h.apply(txn).outcome == .multi([]))
        #expect(h.tree.lastProcessedZxid == txn.zxid)
    }

    @Test func multi_createsAcrossPendingMultis_stayConsistent() {
        var h = TreeHarness()
        let first = h.prepare(.multi([createOp("/a"), createOp("/a/b")]))
        let second = h.prepare(.multi([createOp("/a/c"), .delete(path: "/a/b", version: -1)]))
        #expect(second.body.errorCode == nil)
        h.apply(first)
        h.apply(second)
        #expect(h.tree.node("/a")?.children.sorted() == ["c"])
    }
}
