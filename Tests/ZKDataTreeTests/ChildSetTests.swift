import Testing
@testable import ZKDataTree

/// ChildSet lists names as Java's HashSet<String>(8) iterates them (checked against Apache
/// ZooKeeper 3.8.0 by Tests/Interop/test_children_order.py).
@Suite struct ChildSetTests {
    @Test func javaStringHashCode() {
        #expect(ChildSet.javaHash("") == 0)
        #expect(ChildSet.javaHash("a") == 97)
        #expect(ChildSet.javaHash("hello") == 99_162_322)
        // Wraps like Java's int arithmetic; UTF-16 code units, so a surrogate pair counts twice.
        #expect(ChildSet.javaHash("zookeeper") == 1_600_681_804)
        #expect(ChildSet.javaHash("😀") == 31 * 0xD83D + 0xDE00)
    }

    @Test func ordersByBucketThenInsertion() {
        // In a table of 8, "b" (98) lands in bucket 2, "a" (97) in 1, "i" (105) in 1 after "a".
        var set: ChildSet = []
        for name in ["b", "i", "a"] { set.insert(name) }
        #expect(set.javaOrder == ["i", "a", "b"])
        set.remove("i")
        set.insert("i")
        #expect(set.javaOrder == ["a", "i", "b"])
    }

    @Test func growsPastThreeQuartersFull() {
        // Pairs 8 apart ("a" 97, "i" 105) share a bucket in a table of 8, not in one of 16.
        var set: ChildSet = []
        for name in ["a", "i", "b", "j", "c", "k"] { set.insert(name) }
        #expect(set.javaOrder == ["a", "i", "b", "j", "c", "k"])
        // The seventh name passes the threshold of 6: the table doubles.
        set.insert("d")
        #expect(set.javaOrder == ["a", "b", "c", "d", "i", "j", "k"])
        #expect(set.count == 7 && set.contains("i") && !set.contains("z"))
    }
}
