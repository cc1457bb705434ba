import Foundation
import NIOCore
import NIOPosix

public struct BenchTarget: Sendable {
    public var label: String
    public var hosts: [HostPort]

    public init(label: String, hosts: [HostPort]) {
        self.label = label
        self.hosts = hosts
    }
}

public struct TargetReport: Codable, Sendable {
    public var label: String
    public var hosts: String
    public var rounds: [RoundFigures]
    /// Medians over the rounds.
    public var opsPerSec: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    public var maxMs: Double
}

public struct RatioSpread: Codable, Sendable {
    public var median: Double
    public var min: Double
    public var max: Double
}

public struct BenchReport: Codable, Sendable {
    public var workload: BenchWorkload
    public var sessions: Int
    public var inFlight: Int
    public var valueBytes: Int
    public var keys: Int
    public var readPercent: Int
    public var durationS: Double
    public var warmupS: Double
    public var rounds: Int
    public var targets: [TargetReport]
    /// First target over second, round by round; only when comparing.
    public var ratios: [String: RatioSpread]?
}

/// Runs the rounds, alternating between targets so that both see the same machine noise,
/// on one event loop thread (the bench should cost the machine little).
public enum BenchRunner {
    public static func run(
        _ options: BenchOptions, targets: [BenchTarget], rounds: Int, progress: (String) -> Void
    ) throws -> BenchReport {
        precondition(!targets.isEmpty && rounds > 0, "targets \(targets.count), rounds \(rounds)")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        var figures = [[RoundFigures]](repeating: [], count: targets.count)
        for round in 1...rounds {
            for (index, target) in targets.enumerated() {
                let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(index)-\(round)"
                var roundOptions = options
                roundOptions.seed = options.seed &+ UInt64(round)
                let result = try BenchRound(options: roundOptions, hosts: target.hosts, loop: loop, tag: tag).run()
                figures[index].append(result)
                progress(BenchText.roundLine(round: round, label: target.label, result))
            }
        }
        let reports = targets.enumerated().map { index, target in
            TargetReport(
                label: target.label, hosts: target.hosts.map(\.description).joined(separator: ","),
                rounds: figures[index],
                opsPerSec: median(figures[index].map(\.opsPerSec)), p50Ms: median(figures[index].map(\.p50Ms)),
                p99Ms: median(figures[index].map(\.p99Ms)), p999Ms: median(figures[index].map(\.p999Ms)),
                maxMs: median(figures[index].map(\.maxMs)))
        }
        var ratios: [String: RatioSpread]?
        if targets.count >= 2 {
            let pairs = zip(figures[0], figures[1])
            ratios = [
                "opsPerSec": spread(pairs.map { $0.opsPerSec / max($1.opsPerSec, 1e-9) }),
                "p50Ms": spread(pairs.map { $0.p50Ms / max($1.p50Ms, 1e-9) }),
                "p99Ms": spread(pairs.map { $0.p99Ms / max($1.p99Ms, 1e-9) }),
            ]
        }
        return BenchReport(
            workload: options.workload, sessions: options.sessions, inFlight: options.inFlight,
            valueBytes: options.valueBytes, keys: options.keys, readPercent: options.readPercent,
            durationS: options.durationS, warmupS: options.warmupS, rounds: rounds, targets: reports, ratios: ratios)
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func spread(_ values: [Double]) -> RatioSpread {
        RatioSpread(median: median(values), min: values.min() ?? 0, max: values.max() ?? 0)
    }
}

/// The human-readable output.
public enum BenchText {
    public static func header(_ options: BenchOptions, rounds: Int) -> String {
        var what = "\(options.workload.rawValue)"
        if options.workload == .mixed { what += " (\(options.readPercent) % reads)" }
        return "\(what): \(options.sessions) sessions × \(options.inFlight) in flight, \(options.valueBytes)-byte values, "
            + "\(options.keys) keys, \(format(options.durationS)) s after \(format(options.warmupS)) s warm-up, \(rounds) round(s)"
    }

    static func roundLine(round: Int, label: String, _ f: RoundFigures) -> String {
        "round \(round) \(label): \(figuresText(f))"
    }

    static func figuresText(_ f: RoundFigures) -> String {
        "\(format(f.opsPerSec, 0)) ops/s  p50 \(format(f.p50Ms, 3)) ms  p99 \(format(f.p99Ms, 3)) ms  "
            + "p999 \(format(f.p999Ms, 3)) ms  max \(format(f.maxMs, 3)) ms  (\(f.ops) ops, \(f.errors) errors)"
    }

    public static func summary(_ report: BenchReport) -> String {
        var lines = report.targets.map {
            "median \($0.label): \(format($0.opsPerSec, 0)) ops/s  p50 \(format($0.p50Ms, 3)) ms  p99 \(format($0.p99Ms, 3)) ms  "
                + "p999 \(format($0.p999Ms, 3)) ms  max \(format($0.maxMs, 3)) ms"
        }
        if let ratios = report.ratios, report.targets.count >= 2 {
            func text(_ key: String) -> String {
                guard let r = ratios[key] else { return "-" }
                return "×\(format(r.median, 2)) (\(format(r.min, 2))–\(format(r.max, 2)))"
            }
            lines.append(
                "\(report.targets[0].label) / \(report.targets[1].label): throughput \(text("opsPerSec")), "
                    + "p50 \(text("p50Ms")), p99 \(text("p99Ms"))")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double, _ digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }
}
