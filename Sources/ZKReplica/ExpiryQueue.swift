/// ZooKeeper's `ExpiryQueue`: deadlines rounded up to the next multiple of `intervalMs`, each
/// bucket holding what expires at that time. Moving a deadline costs O(1), and `poll` costs
/// only what it hands out, so nothing scans every session or connection on each tick.
/// Times are elapsed (monotonic) milliseconds.
public struct ExpiryQueue<Element: Hashable & Comparable & Sendable>: Sendable {
    public let intervalMs: Int64
    public private(set) var deadlines: [Element: Int64] = [:]
    private var buckets: [Int64: Set<Element>] = [:]
    /// The earliest bucket time `poll` has not looked at yet.
    private var nextBucketMs: Int64

    public init(intervalMs: Int64, now: Int64) {
        precondition(intervalMs > 0, "expiry interval must be positive, not \(intervalMs)")
        self.intervalMs = intervalMs
        nextBucketMs = Self.roundUp(now, intervalMs)
    }

    static func roundUp(_ time: Int64, _ interval: Int64) -> Int64 { (time / interval + 1) * interval }

    public var count: Int { deadlines.count }

    /// Sets `element` to expire `timeoutMs` after `now` (rounded up to the next bucket).
    public mutating func update(_ element: Element, now: Int64, timeoutMs: Int64) {
        // Never a bucket `poll` has passed already (a clock read before the last poll).
        let deadline = max(nextBucketMs, Self.roundUp(now + max(0, timeoutMs), intervalMs))
        guard let old = deadlines.updateValue(deadline, forKey: element) else {
            buckets[deadline, default: []].insert(element)
            return
        }
        guard old != deadline else { return }
        removeFromBucket(element, old)
        buckets[deadline, default: []].insert(element)
    }

    public mutating func remove(_ element: Element) {
        guard let old = deadlines.removeValue(forKey: element) else { return }
        removeFromBucket(element, old)
    }

    private mutating func removeFromBucket(_ element: Element, _ deadline: Int64) {
        buckets[deadline]?.remove(element)
        if buckets[deadline]?.isEmpty == true { buckets[deadline] = nil }
    }

    /// Everything whose deadline has passed, sorted; those elements leave the queue.
    public mutating func poll(now: Int64) -> [Element] {
        guard now >= nextBucketMs else { return [] }
        var times: [Int64]
        if buckets.count < Int((now - nextBucketMs) / intervalMs) {
            // A long gap (a paused process): fewer buckets exist than times to step through.
            times = buckets.keys.filter { $0 <= now }.sorted()
        } else {
            times = Array(stride(from: nextBucketMs, through: now, by: Int(intervalMs)))
        }
        nextBucketMs = Self.roundUp(now, intervalMs)
        var expired: [Element] = []
        for time in times {
            guard let bucket = buckets.removeValue(forKey: time) else { continue }
            for element in bucket { deadlines[element] = nil }
            expired.append(contentsOf: bucket)
        }
        return expired.sorted()
    }
}
