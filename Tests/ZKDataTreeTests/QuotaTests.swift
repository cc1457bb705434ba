import Testing
import ZKDataTree
import ZKModel

/// Quota bookkeeping (reference §2.10): `zookeeper_stats` under `/zookeeper/quota/<root>` is
/// rewritten in place, without a txn, on every create/delete/setData under the root.
@Suite struct QuotaTests {
    static let statsPath = "/zookeeper/quota/q/zookeeper_stats"

    /// /q ("abc") with /q/a ("xy"), then the quota nodes as `setquota` creates them.
    static func quotaTree() -> TreeHarness {
        var h = TreeHarness()
        h.create("/q", data: Array("abc".utf8))
        h.create("/q/a", data: Array("xy".utf8))
        h.create("/zookeeper/quota/q")
        h.create("/zookeeper/quota/q/zookeeper_limits", data: Array("count=10,bytes=-1".utf8))
        h.create(statsPath, data: Array("count=0,bytes=0".utf8))
        return h
    }

    static func stats(_ h: TreeHarness) -> String? {
        h.tree.node(statsPath)?.data.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func statsNodeCreation_recountsTheSubtreeIncludingTheRoot() {
        let h = Self.quotaTree()
        #expect(Self.stats(h) == "count=2,bytes=5")
        #expect(h.tree.quotaRoots == ["/q"])
    }

    @Test func createSetDataDelete_underQuotaRoot_updateStatsInPlace() {
        var h = Self.quotaTree()
        let statsStat = h.stat(Self.statsPath)
        h.create("/q/b", data: Array("1234".utf8))
        #expect(Self.stats(h) == "count=3,bytes=9")
        h.create("/q/a/deep", data: nil)
        #expect(Self.stats(h) == "count=4,bytes=9")
        h.run(.setData(path: "/q/a", data: Array("x".utf8), version: -1))
        #expect(Self.stats(h) == "count=4,bytes=8")
        h.run(.delete(path: "/q/b", version: -1))
        #expect(Self.stats(h) == "count=3,bytes=4")
        // In place: the stats node's own stat never changes (apart from dataLength).
        var expected = statsStat
        expected?.dataLength = Int32(Self.stats(h)!.utf8.count)
        #expect(h.stat(Self.statsPath) == expected)
    }

    @Test func changesOutsideTheQuotaRoot_leaveStatsAlone() {
        var h = Self.quotaTree()
        h.create("/other", data: [1, 2, 3])
        h.create("/qq", data: [1])
        h.run(.setData(path: "/q2", data: [1], version: -1))
        #expect(Self.stats(h) == "count=2,bytes=5")
    }

    @Test func deletingLimits_removesTheQuotaRoot() {
        var h = Self.quotaTree()
        h.run(.delete(path: "/zookeeper/quota/q/zookeeper_limits", version: -1))
        #expect(h.tree.quotaRoots.isEmpty)
        h.create("/q/c", data: [1])
        #expect(Self.stats(h) == "count=2,bytes=5")
    }
}
