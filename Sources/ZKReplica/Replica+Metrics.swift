import ZKModel

/// One metric family as Prometheus shows it: its samples' suffixes, labels and values.
public struct MetricFamily: Sendable {
    public var name: String
    public var type: String
    public var samples: [(suffix: String, labels: [(String, String)], value: Double)]
}

extension Replica {
    /// Every numeric `mntr` gauge, the ServerMetrics counters, and the summaries with their
    /// quantiles (NaN while there is no recent observation), count and sum.
    public func metricFamilies(now: ReplicaTime) -> [MetricFamily] {
        var families: [MetricFamily] = []
        for (name, value) in standaloneMonitorReport(now: now) + quorumMonitorReport(now: now) {
            guard let number = Double(value) else { continue }  // version, server_state, peer_state
            families.append(MetricFamily(name: name, type: "gauge", samples: [("", [], number)]))
        }
        for counter in MetricCounter.allCases {
            families.append(MetricFamily(name: counter.name, type: "counter", samples: [("", [], Double(metrics[counter]))]))
        }
        for summaryName in MetricSummaryName.allCases {
            let summary = metrics[summaryName]
            let quantiles: [Double] = summaryName.level == .advanced ? [0.5, 0.9, 0.99] : [0.5]
            var samples: [(suffix: String, labels: [(String, String)], value: Double)] = quantiles.map { q in
                ("", [("quantile", "\(q)")], summary.quantile(q).map(Double.init) ?? .nan)
            }
            samples.append(("_count", [], Double(summary.totalCount)))
            samples.append(("_sum", [], Double(summary.totalSum)))
            families.append(MetricFamily(name: summaryName.name, type: "summary", samples: samples))
        }
        return families
    }

    /// `/metrics` in the Prometheus text format, with ZooKeeper's metric names; `extra`
    /// families (process figures) are appended.
    public func prometheusText(now: ReplicaTime, extra: String = "") -> String {
        metricFamilies(now: now).map(MetricsText.render).joined() + extra
    }

    /// `mntr` when ZooKeeper's Prometheus provider is configured: ZooKeeper then prints the
    /// provider's samples, `zk_<name><labels>` with every value a double.
    func prometheusMonitorLines(now: ReplicaTime) -> [(String, String)] {
        metricFamilies(now: now).flatMap { family in
            family.samples.map { sample in
                let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
                return (family.name + sample.suffix + labels, MetricsText.javaDouble(sample.value))
            }
        }
    }

    /// What the shell timed outside the replica (the log's fsyncs, snapshots, start-up).
    public mutating func observeDurations(_ name: MetricSummaryName, _ valuesMs: [Int64]) {
        for value in valuesMs { metrics.observe(name, value) }
    }
}
