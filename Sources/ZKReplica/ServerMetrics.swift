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

/// ZooKeeper's ServerMetrics counters that SwiftKeeper counts; `name` is ZooKeeper's.
public enum MetricCounter: Int, CaseIterable, Sendable {
    case commitCount, proposalCount, lookingCount, diffCount, snapCount, learnerProposalReceivedCount, learnerCommitReceivedCount, bytesReceivedCount, responseBytes, watchBytes, connectionRequestCount, connectionRejected, sessionlessConnectionsExpired, revalidateCount, digestMismatchesCount, snapshotErrorCount, snapshotRateLimitedCount, restoreErrorCount, restoreRateLimitedCount

    public var name: String {
        switch self {
        case .commitCount: return "commit_count"
        case .proposalCount: return "proposal_count"
        case .lookingCount: return "looking_count"
        case .diffCount: return "diff_count"
        case .snapCount: return "snap_count"
        case .learnerProposalReceivedCount: return "learner_proposal_received_count"
        case .learnerCommitReceivedCount: return "learner_commit_received_count"
        case .bytesReceivedCount: return "bytes_received_count"
        case .responseBytes: return "response_bytes"
        case .watchBytes: return "watch_bytes"
        case .connectionRequestCount: return "connection_request_count"
        case .connectionRejected: return "connection_rejected"
        case .sessionlessConnectionsExpired: return "sessionless_connections_expired"
        case .revalidateCount: return "revalidate_count"
        case .digestMismatchesCount: return "digest_mismatches_count"
        case .snapshotErrorCount: return "snapshot_error_count"
        case .snapshotRateLimitedCount: return "snapshot_rate_limited_count"
        case .restoreErrorCount: return "restore_error_count"
        case .restoreRateLimitedCount: return "restore_rate_limited_count"
        }
    }
}

/// ZooKeeper's ServerMetrics summaries that SwiftKeeper observes; `name` is ZooKeeper's.
public enum MetricSummaryName: Int, CaseIterable, Sendable {
    case readlatency, updatelatency, fsynctime, snapshottime, dbinittime, startupTxnsLoaded, electionTime, nodeCreatedWatchCount, nodeDeletedWatchCount, nodeChangedWatchCount, nodeChildrenWatchCount, propagationLatency, proposalLatency, commitPropagationLatency, quorumAckLatency, followerSyncTime, observerSyncTime, syncProcessorBatchSize

    public var name: String {
        switch self {
        case .readlatency: return "readlatency"
        case .updatelatency: return "updatelatency"
        case .fsynctime: return "fsynctime"
        case .snapshottime: return "snapshottime"
        case .dbinittime: return "dbinittime"
        case .startupTxnsLoaded: return "startup_txns_loaded"
        case .electionTime: return "election_time"
        case .nodeCreatedWatchCount: return "node_created_watch_count"
        case .nodeDeletedWatchCount: return "node_deleted_watch_count"
        case .nodeChangedWatchCount: return "node_changed_watch_count"
        case .nodeChildrenWatchCount: return "node_children_watch_count"
        case .propagationLatency: return "propagation_latency"
        case .proposalLatency: return "proposal_latency"
        case .commitPropagationLatency: return "commit_propagation_latency"
        case .quorumAckLatency: return "quorum_ack_latency"
        case .followerSyncTime: return "follower_sync_time"
        case .observerSyncTime: return "observer_sync_time"
        case .syncProcessorBatchSize: return "sync_processor_batch_size"
        }
    }

    /// ZooKeeper's detail level for it.
    public var level: MetricSummary.Level {
        switch self {
        case .readlatency, .updatelatency, .propagationLatency, .proposalLatency, .commitPropagationLatency, .quorumAckLatency: return .advanced
        default: return .basic
        }
    }
}

/// The counters and summaries of ZooKeeper's `ServerMetrics` that SwiftKeeper measures
/// (the gauges come from the replica's state when reported). Indexed by the enums' raw
/// values: counting on the request path costs an array store, not a name's hash.
public struct ServerMetrics: Sendable {
    public private(set) var counters = [Int64](repeating: 0, count: MetricCounter.allCases.count)
    public private(set) var summaries = MetricSummaryName.allCases.map { MetricSummary(level: $0.level) }

    public init() {}

    public subscript(counter: MetricCounter) -> Int64 { counters[counter.rawValue] }
    public subscript(summary: MetricSummaryName) -> MetricSummary { summaries[summary.rawValue] }

    public mutating func count(_ counter: MetricCounter, by amount: Int64 = 1) {
        counters[counter.rawValue] += amount
    }

    public mutating func observe(_ summary: MetricSummaryName, _ value: Int64, times: Int = 1) {
        summaries[summary.rawValue].observe(value, times: times)
    }

    /// `srst`: the summaries' `mntr` figures restart; counters keep counting, as
    /// ZooKeeper's `ServerMetrics` do.
    public mutating func resetSummaries() {
        for index in summaries.indices { summaries[index].reset() }
    }

    /// The `mntr` lines of the counters and summaries, in ZooKeeper's groups: counters,
    /// then basic summaries, then advanced ones.
    public var monitorLines: [(String, String)] {
        var lines = MetricCounter.allCases.map { ($0.name, "\(self[$0])") }
        for level in [MetricSummary.Level.basic, .advanced] {
            for summaryName in MetricSummaryName.allCases where summaryName.level == level {
                let summary = self[summaryName]
                let name = summaryName.name
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
