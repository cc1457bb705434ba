import Testing
import ZKReplica

/// ZooKeeper's `ExpiryQueue`: deadlines in interval buckets, handed out whole.
@Suite struct ExpiryQueueTests {
    @Test func deadlinesRoundUpToTheNextBucket() {
        var queue = ExpiryQueue<Int>(intervalMs: 2000, now: 0)
        queue.update(1, now: 1000, timeoutMs: 4000)
        queue.update(2, now: 2000, timeoutMs: 4000)
        #expect(queue.deadlines == [1: 6000, 2: 8000])
        #expect(queue.poll(now: 5999) == [])
        #expect(queue.poll(now: 6000) == [1])
        #expect(queue.poll(now: 7999) == [])
        #expect(queue.poll(now: 8000) == [2])
        #expect(queue.count == 0)
    }

    @Test func updateMovesAndRemoveForgets() {
        var queue = ExpiryQueue<Int>(intervalMs: 100, now: 0)
        for element in 0..<10 { queue.update(element, now: 0, timeoutMs: 500) }
        queue.update(3, now: 400, timeoutMs: 500)
        queue.remove(4)
        #expect(queue.poll(now: 600) == [0, 1, 2, 5, 6, 7, 8, 9])
        #expect(queue.poll(now: 1000) == [3])
        #expect(queue.count == 0)
    }

    /// After a long gap (a process stopped for hours) one poll hands out everything due,
    /// sorted, without stepping through every bucket time in between.
    @Test func longGapHandsOutEverythingDue() {
        var queue = ExpiryQueue<Int>(intervalMs: 10, now: 0)
        for element in (0..<1000).reversed() { queue.update(element, now: Int64(element), timeoutMs: 100) }
        let due = queue.poll(now: 10 * 3_600_000)
        #expect(due == Array(0..<1000))
        #expect(queue.count == 0)
        // A deadline set with a clock read before the last poll still expires later.
        queue.update(5, now: 0, timeoutMs: 0)
        #expect(queue.poll(now: 10 * 3_600_000) == [])
        #expect(queue.poll(now: 10 * 3_600_000 + 10) == [5])
    }
}
