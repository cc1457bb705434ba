/// Latencies in nanoseconds, recorded in HDR histogram buckets: exact below 2048 ns, then
/// 1024 linear sub-buckets per power of two, so every value is kept to 3 significant
/// digits (at most 1/1024 off) in constant memory and O(1) per sample.
public struct LatencyHistogram: Sendable {
    static let subBucketBits = 11
    static let subBuckets = 1 << subBucketBits  // 2048
    static let halfSubBuckets = subBuckets / 2
    /// Powers of two above the exact range: up to 2^(11+32) ns, about 2.4 hours.
    static let exponentsMax = 32

    private var counts = [UInt64](repeating: 0, count: subBuckets + exponentsMax * halfSubBuckets)
    public private(set) var count: UInt64 = 0
    public private(set) var maxNs: UInt64 = 0
    public private(set) var minNs: UInt64 = .max
    public private(set) var sumNs: UInt64 = 0

    public init() {}

    public mutating func record(_ ns: UInt64) {
        counts[Self.index(of: ns)] += 1
        count += 1
        sumNs &+= ns
        maxNs = max(maxNs, ns)
        minNs = min(minNs, ns)
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices where other.counts[i] != 0 { counts[i] += other.counts[i] }
        count += other.count
        sumNs &+= other.sumNs
        maxNs = max(maxNs, other.maxNs)
        minNs = min(minNs, other.minNs)
    }

    /// The value at quantile `q` (0...1): the highest value of the bucket holding it, never
    /// above the largest value recorded.
    public func valueNs(atQuantile q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for i in counts.indices {
            seen += counts[i]
            if seen >= rank { return min(Self.highestValue(at: i), maxNs) }
        }
        return maxNs
    }

    public var meanNs: Double { count == 0 ? 0 : Double(sumNs) / Double(count) }

    static func index(of value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let shift = min((64 - value.leadingZeroBitCount) - subBucketBits, exponentsMax)
        let subBucket = min(Int(value >> UInt64(shift)), subBuckets - 1)
        return subBuckets + (shift - 1) * halfSubBuckets + (subBucket - halfSubBuckets)
    }

    static func highestValue(at index: Int) -> UInt64 {
        if index < subBuckets { return UInt64(index) }
        let shift = (index - subBuckets) / halfSubBuckets + 1
        let subBucket = (index - subBuckets) % halfSubBuckets + halfSubBuckets
        return (UInt64(subBucket + 1) << UInt64(shift)) - 1
    }
}
