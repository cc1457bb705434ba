import Testing
// `WatchTrigger` has no public initializer; driving the table on its own needs hand-made triggers.
@testable import ZKDataTree
import ZKModel

private func trigger(_ path: String, _ type: EventType) -> WatchTrigger { WatchTrigger(path: path, type: type, acl: open) }

/// The watch tables (reference §2.8, §7.4).
@Suite struct WatchTableTests {
    @Test func standardWatch_firesOnceThenIsGone() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [])
        #expect(table.totalWatchCount == 0)
    }

    @Test func dataTable_firesOnCreatedChangedDeleted_notOnChildrenChanged() {
        for type in [EventType.nodeCreated, .nodeDataChanged, .nodeDeleted] {
            var table = WatchTable()
            table.add(1, path: "/a", table: .data, mode: .standard)
            #expect(table.fire(trigger("/a", type)) == [1], "\(type)")
        }
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [])
        #expect(table.contains(1, path: "/a", type: .data))
    }

    @Test func childTable_firesOnChildrenChangedAndDeleted_notOnCreatedOrDataChanged() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeCreated)) == [])
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [])
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [1])
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeDeleted)) == [1])
    }

    @Test func delete_withDataAndChildWatches_notifiesEachConnectionOnceAndRemovesBoth() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        table.add(2, path: "/a", table: .child, mode: .standard)
        table.add(3, path: "/a", table: .data, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeDeleted)) == [1, 2, 3])
        #expect(!table.contains(1, path: "/a", type: .any))
        #expect(table.totalWatchCount == 0)
    }

    @Test func fire_manyWatchers_returnedSorted() {
        var table = WatchTable()
        for watcher in [9, 3, 7, 1, 5] as [WatcherID] { table.add(watcher, path: "/a", table: .data, mode: .standard) }
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1, 3, 5, 7, 9])
    }

    @Test func standardWatch_otherPath_doesNotFire() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        #expect(table.fire(trigger("/a/b", .nodeDataChanged)) == [])
        #expect(table.fire(trigger("/ab", .nodeDataChanged)) == [])
        #expect(table.fire(trigger("/", .nodeDataChanged)) == [])
    }

    @Test func persistentWatch_seesAllFourEventsOfItsPathAndStays() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistent)
        for type in [EventType.nodeCreated, .nodeDataChanged, .nodeChildrenChanged, .nodeDeleted, .nodeCreated] {
            #expect(table.fire(trigger("/a", type)) == [1], "\(type)")
        }
        #expect(table.fire(trigger("/a/b", .nodeCreated)) == [])
        #expect(table.contains(1, path: "/a", type: .persistent))
    }

    @Test func persistentRecursiveWatch_seesDescendantsButNeverChildrenChanged() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistentRecursive)
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [])
        #expect(table.fire(trigger("/a/b", .nodeChildrenChanged)) == [])
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
        #expect(table.fire(trigger("/a/b", .nodeCreated)) == [1])
        #expect(table.fire(trigger("/a/b/c", .nodeDataChanged)) == [1])
        #expect(table.fire(trigger("/a/b", .nodeDeleted)) == [1])
        #expect(table.fire(trigger("/ab", .nodeCreated)) == [])
        #expect(table.fire(trigger("/", .nodeDataChanged)) == [])
        #expect(table.contains(1, path: "/a", type: .persistentRecursive))
    }

    @Test func persistentRecursiveOnRoot_seesEverything() {
        var table = WatchTable()
        table.addPersistent(4, path: "/", mode: .persistentRecursive)
        #expect(table.fire(trigger("/x/y/z", .nodeCreated)) == [4])
        #expect(table.fire(trigger("/", .nodeDataChanged)) == [4])
    }

    @Test func recursiveAndStandardOnAncestorAndPath_notifyOncePerConnection() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistentRecursive)
        table.add(1, path: "/a/b", table: .data, mode: .standard)
        table.add(2, path: "/a/b", table: .data, mode: .standard)
        #expect(table.fire(trigger("/a/b", .nodeDataChanged)) == [1, 2])
        #expect(table.fire(trigger("/a/b", .nodeDataChanged)) == [1])
    }

    @Test func standardRegistration_doesNotDowngradePersistent() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistent)
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [1])
    }

    @Test func standardAndPersistentOnOnePath_coexist_removeDataTakesOnlyTheOneShot() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistent)
        table.add(1, path: "/a", table: .data, mode: .standard)
        #expect(table.contains(1, path: "/a", type: .data))
        #expect(table.remove(1, path: "/a", type: .data) == true)
        #expect(!table.contains(1, path: "/a", type: .data))
        #expect(table.contains(1, path: "/a", type: .persistent))
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
    }

    @Test func recursiveThenPersistentOnOnePath_bothKept() {
        var table = WatchTable()
        table.addPersistent(1, path: "/a", mode: .persistentRecursive)
        table.addPersistent(1, path: "/a", mode: .persistent)
        #expect(table.fire(trigger("/a/b/c", .nodeCreated)) == [1])
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [1])
        #expect(table.remove(1, path: "/a", type: .persistent) == true)
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [])
        #expect(table.fire(trigger("/a/b/c", .nodeCreated)) == [1])
    }

    @Test func checkWatches_byType_matchesTablesAndModes() {
        var table = WatchTable()
        table.add(1, path: "/d", table: .data, mode: .standard)
        table.add(1, path: "/c", table: .child, mode: .standard)
        table.addPersistent(1, path: "/p", mode: .persistent)
        table.addPersistent(1, path: "/r", mode: .persistentRecursive)
        #expect(table.contains(1, path: "/d", type: .data))
        #expect(!table.contains(1, path: "/d", type: .children))
        #expect(table.contains(1, path: "/d", type: .any))
        #expect(!table.contains(1, path: "/d", type: .persistent))
        #expect(table.contains(1, path: "/c", type: .children))
        #expect(!table.contains(1, path: "/c", type: .data))
        // Data and Children name one-shot watches only; persistent ones answer to their own types and Any (3.9).
        #expect(table.contains(1, path: "/p", type: .persistent))
        #expect(table.contains(1, path: "/p", type: .any))
        #expect(!table.contains(1, path: "/p", type: .data))
        #expect(!table.contains(1, path: "/p", type: .children))
        #expect(!table.contains(1, path: "/p", type: .persistentRecursive))
        #expect(table.contains(1, path: "/r", type: .persistentRecursive))
        #expect(table.contains(1, path: "/r", type: .any))
        #expect(!table.contains(1, path: "/r", type: .data))
        #expect(!table.contains(1, path: "/r", type: .children))
        #expect(!table.contains(1, path: "/r", type: .persistent))
        #expect(!table.contains(2, path: "/d", type: .any))
        #expect(!table.contains(1, path: "/missing", type: .any))
    }

    @Test func removeWatches_children_removesOnlyTheChildWatch() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.remove(1, path: "/a", type: .children) == true)
        #expect(table.remove(1, path: "/a", type: .children) == false)
        #expect(table.contains(1, path: "/a", type: .data))
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [])
        #expect(table.fire(trigger("/a", .nodeDataChanged)) == [1])
    }

    @Test func removeWatches_data_removesOnlyTheDataWatch() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.remove(1, path: "/a", type: .data) == true)
        #expect(!table.contains(1, path: "/a", type: .data))
        #expect(table.contains(1, path: "/a", type: .children))
    }

    @Test func removeWatches_any_removesBothAndThenReportsNothing() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        table.add(2, path: "/a", table: .data, mode: .standard)
        #expect(table.remove(1, path: "/a", type: .any) == true)
        #expect(table.remove(1, path: "/a", type: .any) == false)
        #expect(table.fire(trigger("/a", .nodeDeleted)) == [2])
    }

    @Test func removeWatches_persistentTypes_removeOnlyTheirMode() {
        var table = WatchTable()
        table.addPersistent(1, path: "/p", mode: .persistent)
        table.addPersistent(1, path: "/r", mode: .persistentRecursive)
        table.add(1, path: "/s", table: .data, mode: .standard)
        #expect(table.remove(1, path: "/s", type: .persistent) == false)
        #expect(table.remove(1, path: "/p", type: .persistentRecursive) == false)
        #expect(table.remove(1, path: "/r", type: .persistent) == false)
        #expect(table.remove(1, path: "/p", type: .persistent) == true)
        #expect(!table.contains(1, path: "/p", type: .any))
        #expect(table.remove(1, path: "/r", type: .persistentRecursive) == true)
        #expect(table.fire(trigger("/r/x", .nodeCreated)) == [])
        #expect(table.contains(1, path: "/s", type: .data))
    }

    @Test func removeWatches_unknownPathOrWatcher_reportsNothing() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        #expect(table.remove(1, path: "/b", type: .any) == false)
        #expect(table.remove(2, path: "/a", type: .any) == false)
        #expect(table.contains(1, path: "/a", type: .data))
    }

    @Test func removeWatcher_dropsEveryWatchOfThatConnection() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(1, path: "/a", table: .child, mode: .standard)
        table.addPersistent(1, path: "/p", mode: .persistent)
        table.addPersistent(1, path: "/r", mode: .persistentRecursive)
        table.add(2, path: "/a", table: .data, mode: .standard)
        table.removeWatcher(1)
        #expect(table.fire(trigger("/a", .nodeDeleted)) == [2])
        #expect(table.fire(trigger("/p", .nodeDataChanged)) == [])
        #expect(table.fire(trigger("/r/x", .nodeCreated)) == [])
        #expect(table.totalWatchCount == 0)
    }

    @Test func removeWatcher_afterFiredWatches_dropsTheRest() {
        // Fired one-shot watches and the remaining ones must both be gone after the connection closes.
        var table = WatchTable()
        table.add(1, path: "/a", table: .child, mode: .standard)
        table.add(1, path: "/b", table: .child, mode: .standard)
        _ = table.fire(trigger("/a", .nodeChildrenChanged))
        table.removeWatcher(1)
        #expect(table.totalWatchCount == 0)
        #expect(table.fire(trigger("/b", .nodeChildrenChanged)) == [])
        table.add(1, path: "/a", table: .child, mode: .standard)
        #expect(table.fire(trigger("/a", .nodeChildrenChanged)) == [1])
    }

    @Test func counts_reportDataTableForWchsAndBothForMntr() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(2, path: "/a", table: .data, mode: .standard)
        table.add(2, path: "/b", table: .data, mode: .standard)
        table.add(1, path: "/c", table: .child, mode: .standard)
        #expect(table.dataWatchCount == 3)
        #expect(table.totalWatchCount == 4)
        #expect(table.dataWatchedPathCount == 2)
        #expect(table.dataWatcherCount == 2)
        #expect(table.dataPathsByWatcher().map(\.0) == [1, 2])
        #expect(table.dataPathsByWatcher().map(\.1) == [["/a"], ["/a", "/b"]])
    }

    @Test func treeTriggers_deleteNode_notifyNodeWatchersOnceAndParentChildWatchers() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/c")
        var table = WatchTable()
        table.add(1, path: "/p/c", table: .data, mode: .standard)
        table.add(1, path: "/p/c", table: .child, mode: .standard)
        table.add(1, path: "/p", table: .child, mode: .standard)
        table.add(2, path: "/p", table: .data, mode: .standard)
        let (_, triggers) = h.apply(h.prepare(.delete(path: "/p/c", version: -1)))
        #expect(triggers.map(\.path) == ["/p/c", "/p"])
        #expect(triggers.map(\.type) == [.nodeDeleted, .nodeChildrenChanged])
        #expect(table.fire(triggers[0]) == [1])
        #expect(table.fire(triggers[1]) == [1])
        #expect(table.contains(2, path: "/p", type: .data))
    }

    @Test func treeTriggers_carryTheNodesACLForReadFiltering() {
        var h = TreeHarness()
        h.create("/p", acl: acl(.all, alice), ids: [alice])
        let (_, triggers) = h.apply(h.prepare(createOp("/p/c", acl: readOnlyACL), ids: [alice]))
        #expect(triggers == [
            WatchTrigger(path: "/p/c", type: .nodeCreated, acl: readOnlyACL),
            WatchTrigger(path: "/p", type: .nodeChildrenChanged, acl: acl(.all, alice)),
        ])
    }
}

/// The compact table: one watcher per path inline, several in a map, and the counts kept as
/// the table changes.
@Suite struct WatchTableBookkeepingTests {
    static func trigger(_ path: String, _ type: EventType) -> WatchTrigger { WatchTrigger(path: path, type: type, acl: ACL.openACLUnsafe) }

    @Test func pathsMoveBetweenOneAndManyWatchers() {
        var table = WatchTable()
        table.add(1, path: "/a", table: .data, mode: .standard)
        table.add(2, path: "/a", table: .data, mode: .standard)
        table.add(3, path: "/a", table: .data, mode: .standard)
        #expect(table.dataWatchCount == 3)
        table.removeWatcher(2)
        #expect(table.dataWatchCount == 2)
        #expect(table.dataWatchersByPath().map(\.1) == [[1, 3]])
        table.removeWatcher(1)
        #expect(table.contains(3, path: "/a", type: .data))
        #expect(table.fire(Self.trigger("/a", .nodeDataChanged)) == [3])
        #expect(table.totalWatchCount == 0)
        #expect(table.dataWatchedPathCount == 0)
    }

    @Test func countsFollowEveryChange() {
        var table = WatchTable()
        for index in 0..<1000 {
            table.add(Int64(index % 7), path: "/p\(index % 100)", table: index % 2 == 0 ? .data : .child, mode: .standard)
        }
        table.addPersistent(9, path: "/p1", mode: .persistent)
        table.addPersistent(9, path: "/", mode: .persistentRecursive)
        #expect(table.fire(Self.trigger("/p1", .nodeDeleted)).contains(9))
        _ = table.remove(3, path: "/p3", type: .any)
        let dataCount = table.dataWatchersByPath().reduce(0) { $0 + $1.1.count }
        #expect(table.dataWatchCount == dataCount)
        for watcher in Int64(0)...9 { table.removeWatcher(watcher) }
        #expect(table.totalWatchCount == 0)
        #expect(table.dataWatcherCount == 0)
        #expect(table.watchCount(of: 9) == 0)
    }

    @Test func oneWatcherHoldingAMillionWatchesIsRemovedWhole() {
        var table = WatchTable()
        for index in 0..<100_000 { table.add(1, path: "/w\(index)", table: .data, mode: .standard) }
        table.add(2, path: "/w5", table: .data, mode: .standard)
        #expect(table.watchCount(of: 1) == 100_000)
        table.removeWatcher(1)
        #expect(table.totalWatchCount == 1)
        #expect(table.fire(Self.trigger("/w5", .nodeCreated)) == [2])
    }
}

/// A closed connection's watches leave the counts at once and the tables in slices.
@Suite struct WatchSweepTests {
    @Test func closedWatcherLeavesCountsAtOnceAndTablesInSlices() {
        var table = WatchTable()
        for index in 0..<1000 { table.add(1, path: "/w\(index)", table: .data, mode: .standard) }
        table.add(2, path: "/w7", table: .data, mode: .standard)
        table.addPersistent(1, path: "/", mode: .persistentRecursive)
        table.removeWatcher(1)
        #expect(table.totalWatchCount == 1)
        #expect(table.sweepPending)
        // Not swept yet, yet nothing is delivered to the closed watcher.
        #expect(table.fire(WatchTrigger(path: "/w7", type: .nodeDeleted, acl: [])) == [2])
        #expect(table.fire(WatchTrigger(path: "/w8", type: .nodeCreated, acl: [])) == [])
        #expect(table.dataWatchersByPath().isEmpty)
        var slices = 0
        while table.sweep(budget: 300) { slices += 1 }
        #expect(slices == 3)
        #expect(!table.sweepPending)
        #expect(table.dataWatchedPathCount == 0)
    }
}
