import Testing
import ZKModel
import ZKReplica

/// The text forms operators' tools parse: Jackson's JSON layout, Java's doubles, the
/// Prometheus exposition lines, and the figures behind them.
@Suite struct OperationsReportTests {
    @Test func jsonIsLaidOutAsJacksonsPrettyPrinter() {
        let json: AdminJSON = .object([
            ("connections", .array([.object([("remote", .string("127.0.0.1:1")), ("ops", .int(1))])])),
            ("empty_list", .array([])), ("empty_map", .object([])), ("ids", .array([.int(1), .int(2)])),
            ("avg", .double(0)), ("text", .string("a\"b\\c\nd\u{01}")), ("error", .null), ("ok", .bool(true)),
        ])
        let expected = """
            {
              "connections" : [ {
                "remote" : "127.0.0.1:1",
                "ops" : 1
              } ],
              "empty_list" : [ ],
              "empty_map" : { },
              "ids" : [ 1, 2 ],
              "avg" : 0.0,
              "text" : "a\\"b\\\\c\\nd\\u0001",
              "error" : null,
              "ok" : true
            }
            """
        #expect(json.rendered == expected)
    }

    @Test func doublesPrintAsJavaPrintsThem() {
        let cases: [(Double, String)] = [
            (0, "0.0"), (5, "5.0"), (0.25, "0.25"), (6.1667, "6.1667"), (1234567, "1234567.0"),
            (86_400_000, "8.64E7"), (1e7, "1.0E7"), (0.001, "0.001"), (0.0001, "1.0E-4"), (-2.5, "-2.5"),
            (1.79617538326e9, "1.79617538326E9"), (.nan, "NaN"), (.infinity, "+Inf"),
        ]
        for (value, text) in cases { #expect(MetricsText.javaDouble(value) == text, "\(value)") }
    }

    @Test func summaryCountsResetsAndQuantiles() {
        var summary = MetricSummary(level: .advanced)
        #expect(summary.quantile(0.5) == nil)
        for value in 1...100 { summary.observe(Int64(value)) }
        #expect(summary.count == 100 && summary.sum == 5050 && summary.min == 1 && summary.max == 100)
        #expect(summary.quantile(0.5) == 50 && summary.quantile(0.99) == 99 && summary.quantile(1) == 100)
        summary.reset()
        #expect(summary.count == 0 && summary.average == 0)
        #expect(summary.totalCount == 100 && summary.totalSum == 5050)
        #expect(summary.quantile(0.5) == 50)
    }

    @Test func summaryKeepsOnlyTheRecentObservationsForQuantiles() {
        var summary = MetricSummary(level: .basic)
        for _ in 0..<MetricSummary.recentMax { summary.observe(1000) }
        for _ in 0..<MetricSummary.recentMax { summary.observe(1) }
        #expect(summary.quantile(0.99) == 1)
        #expect(summary.max == 1000)
    }

    @Test func prometheusSummaryLinesAreSimpleclients() {
        var h = ReplicaHarness()
        h.replica.observeDurations(.fsynctime, [3, 5])
        let text = h.replica.prometheusText(now: h.time)
        #expect(text.contains("""
            # HELP fsynctime fsynctime
            # TYPE fsynctime summary
            fsynctime{quantile="0.5",} 3.0
            fsynctime_count 2.0
            fsynctime_sum 8.0

            """))
        #expect(text.contains("readlatency{quantile=\"0.99\",} NaN\n") && text.contains("readlatency_count 0.0\n"))
        #expect(text.contains("# TYPE znode_count gauge\nznode_count \(h.replica.tree.nodeCount).0\n"))
        #expect(text.contains("# TYPE commit_count counter\ncommit_count 0.0\n"))
    }

    @Test func mntrPrintsPrometheusSamplesWithThatProvider() {
        var h = ReplicaHarness { $0.prometheusMetrics = true; $0.fourLetterWordWhitelist = ["*"] }
        h.replica.observeDurations(.fsynctime, [3])
        let text = h.replica.fourLetterWordReceived(1, word: "mntr", now: h.time).compactMap { action -> String? in
            if case .sendText(_, let text) = action { return text } else { return nil }
        }.joined()
        #expect(text.hasPrefix("zk_version\t"))
        #expect(text.contains("zk_fsynctime{quantile=\"0.5\"}\t3.0\n") && text.contains("zk_znode_count\t\(h.replica.tree.nodeCount).0\n"))
        #expect(!text.contains("zk_avg_fsynctime"))
    }

    @Test func monitorLinesFollowZooKeepersPatterns() {
        var metrics = ServerMetrics()
        metrics.count(.commitCount, by: 3)
        metrics.observe(.fsynctime, 2)
        metrics.observe(.readlatency, 7)
        let lines = Dictionary(metrics.monitorLines, uniquingKeysWith: { first, _ in first })
        #expect(lines["commit_count"] == "3")
        #expect(lines["avg_fsynctime"] == "2.0" && lines["cnt_fsynctime"] == "1" && lines["sum_fsynctime"] == "2")
        #expect(lines["p99_readlatency"] == "7" && lines["p50_fsynctime"] == nil)
    }

    @Test func readsAnsweredOnTheLoopsCountInTheLatencyFigures() {
        var h = ReplicaHarness()
        h.connect(1)
        _ = h.replica.readsAnsweredLocally(1, count: 5, now: h.time)
        #expect(h.replica.stats.latencyCount == 5)
        #expect(h.replica.metrics[.readlatency].count == 5)
    }

    @Test func sessionEventsAreLogged() {
        var h = ReplicaHarness()
        _ = h.connect(1)
        let lines = h.replica.takeLogLines()
        #expect(lines.contains { $0.message == "session established" && $0.fields["client"]?.hasPrefix("127.0.0.1:") == true })
        #expect(h.replica.takeLogLines().isEmpty)
    }
}
