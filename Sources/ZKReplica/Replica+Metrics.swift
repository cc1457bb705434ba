import ZKModel

extension Replica {
    /// `/metrics` in the Prometheus text format, with ZooKeeper's metric names: every
    /// numeric `mntr` gauge, the ServerMetrics counters, and the summaries with their
    /// quantiles, count and sum. `extra` families (process figures) are appended.
    public func prometheusText(now: ReplicaTime, extra: String = "") -> String {
        var text = ""
        let gauges = standaloneMonitorReport(now: now) + quorumMonitorReport(now: now)
        for (name, value) in gauges {
            guard let number = Double(value) else { continue }  // version, server_state, peer_state
            text += MetricsText.family(name, type: "gauge", samples: [("", "", number)])
        }
        for name in ServerMetrics.counterNames {
            text += MetricsText.family(name, type: "counter", samples: [("", "", Double(metrics.counters[name]!))])
        }
        for (name, _) in ServerMetrics.summaryLevels {
            text += MetricsText.summary(name, metrics.summaries[name]!)
        }
        return text + extra
    }

    /// What the shell timed outside the replica (the log's fsyncs, snapshots, start-up).
    public mutating func observeDurations(_ name: String, _ valuesMs: [Int64]) {
        for value in valuesMs { metrics.observe(name, value) }
    }
}
