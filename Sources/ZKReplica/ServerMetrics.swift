/// One of ZooKeeper's summaries: a value observed many times (a latency, a duration, a
/// count per event). `mntr` prints its average, minimum, maximum, count and sum since the
/// last reset (and percentiles for an advanced one); Prometheus shows quantiles over the
/// recent observations and the count and sum since start.
public struct MetricSummary: Sendable {
    public enum Level: Sendable {
        /// `mntr`: avg/min/max/cnt/sum; Prometheus: quantile 0.5.
        case basic
        /// Also `mntr`'s p50/p95/p99/p999 and Prometheus's 0.5/0.9/0.99.
        case advanced
    }

    public let level: Level
    public private(set) var count: Int64 = 0
    public private(set) var sum: Int64 = 0
    public private(set) var min: Int64 = 0
    public private(set) var max: Int64 = 0
    /// Since start, as Prometheus counts them (`mntr`'s figures above reset with `srst`).
    public private(set) var totalCount: Int64 = 0
    public private(set) var totalSum: Int64 = 0
    /// The last `recentMax` observations, oldest overwritten first: the quantiles' sample.
    private var recent: [Int64] = []
    private var nextSlot = 0
    /// ZooKeeper's advanced summaries keep a 4096-sample reservoir; this keeps the newest
    /// 4096 observations instead (a quantile then follows the current load).
    public static let recentMax = 4096

    public init(level: Level) { self.level = level }

    public mutating func observe(_ value: Int64) {
        min = count == 0 ? value : Swift.min(min, value)
        max = count == 0 ? value : Swift.max(max, value)
        count += 1
        sum += value
        totalCount += 1
        totalSum += value
        if recent.count < Self.recentMax {
            recent.append(value)
        } else {
            recent[nextSlot] = value
            nextSlot = (nextSlot + 1) % Self.recentMax
        }
    }

    /// `observe(value)` `times` times.
    public mutating func observe(_ value: Int64, times: Int) {
        for _ in 0..<times { observe(value) }
    }

    /// `mntr`'s figures restart (`srst`); Prometheus's totals do not.
    public mutating func reset() {
        count = 0
        sum = 0
        min = 0
        max = 0
    }

    public var average: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    /// The value at quantile `q` of the recent observations (nearest rank); nil without any.
    public func quantile(_ q: Double) -> Int64? {
        guard !recent.isEmpty else { return nil }
        let sorted = recent.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
    }
}

/// The counters and summaries of ZooKeeper's `ServerMetrics` that SwiftKeeper measures,
/// under ZooKeeper's names (the gauges come from the replica's state when reported).
public struct ServerMetrics: Sendable {
    /// Every counter ZooKeeper's dashboards read that has a meaning here, at 0 until counted.
    public static let counterNames = [
        "commit_count", "proposal_count", "looking_count", "diff_count", "snap_count",
        "learner_proposal_received_count", "learner_commit_received_count", "bytes_received_count",
        "response_bytes", "watch_bytes", "connection_request_count", "connection_rejected",
        "sessionless_connections_expired", "revalidate_count", "digest_mismatches_count",
        "snapshot_error_count", "snapshot_rate_limited_count",
    ]

    /// Every summary, with ZooKeeper's level for it.
    public static let summaryLevels: [(String, MetricSummary.Level)] = [
        ("readlatency", .advanced), ("updatelatency", .advanced), ("fsynctime", .basic), ("snapshottime", .basic),
        ("dbinittime", .basic), ("startup_txns_loaded", .basic), ("election_time", .basic), ("node_created_watch_count", .basic),
        ("node_deleted_watch_count", .basic), ("node_changed_watch_count", .basic),
        ("node_children_watch_count", .basic), ("propagation_latency", .advanced), ("proposal_latency", .advanced),
        ("commit_propagation_latency", .advanced), ("quorum_ack_latency", .advanced), ("follower_sync_time", .basic),
        ("observer_sync_time", .basic), ("sync_processor_batch_size", .basic),
    ]

    public private(set) var counters: [String: Int64]
    public private(set) var summaries: [String: MetricSummary]

    public init() {
        counters = Dictionary(uniqueKeysWithValues: Self.counterNames.map { ($0, 0) })
        summaries = Dictionary(uniqueKeysWithValues: Self.summaryLevels.map { ($0.0, MetricSummary(level: $0.1)) })
    }

    public mutating func count(_ name: String, by amount: Int64 = 1) {
        precondition(counters[name] != nil, "counter \(name) is not one of ServerMetrics.counterNames")
        counters[name]! += amount
    }

    public mutating func observe(_ name: String, _ value: Int64, times: Int = 1) {
        precondition(summaries[name] != nil, "summary \(name) is not one of ServerMetrics.summaryLevels")
        summaries[name]!.observe(value, times: times)
    }

    /// `srst`: the summaries' `mntr` figures restart; counters keep counting, as
    /// ZooKeeper's `ServerMetrics` do.
    public mutating func resetSummaries() {
        for name in summaries.keys { summaries[name]!.reset() }
    }

    /// The `mntr` lines of the counters and summaries, in ZooKeeper's groups: counters,
    /// then basic summaries, then advanced ones.
    public var monitorLines: [(String, String)] {
        var lines = Self.counterNames.map { ($0, "\(counters[$0]!)") }
        for level in [MetricSummary.Level.basic, .advanced] {
            for (name, summaryLevel) in Self.summaryLevels where summaryLevel == level {
                let summary = summaries[name]!
                lines += [
                    ("avg_\(name)", MetricsText.decimal4(summary.average)), ("min_\(name)", "\(summary.min)"),
                    ("max_\(name)", "\(summary.max)"), ("cnt_\(name)", "\(summary.count)"), ("sum_\(name)", "\(summary.sum)"),
                ]
                if level == .advanced {
                    for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                        lines.append(("\(label)_\(name)", "\(summary.quantile(q) ?? 0)"))
                    }
                }
            }
        }
        return lines
    }
}
