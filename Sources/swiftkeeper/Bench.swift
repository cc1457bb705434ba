import ArgumentParser
import Foundation
import ZKBench

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load any ZooKeeper-compatible server and print ops/s and latency percentiles.",
        discussion: """
            Speaks the client protocol itself with pipelining, on one thread. Everything it makes lives \
            under \(BenchOptions.rootPath) and is deleted after each round. With --compare it runs the \
            same rounds against a second server alternately and prints the ratios with their spread.
            """)

    @Option(help: "HOST:PORT[,HOST:PORT...]; sessions are spread over them.")
    var hosts = "127.0.0.1:2181"

    @Option(help: "get, exists, set, create, delete, multi, mixed, watch or churn.")
    var workload = "get"

    @Option(help: "Sessions (connections).")
    var sessions = 8

    @Option(name: .customLong("in-flight"), help: "Requests each session keeps in flight.")
    var inFlight = 32

    @Option(name: .customLong("value-size"), help: "Bytes per value written.")
    var valueSize = 100

    @Option(help: "Keys the get, exists, set, mixed and multi workloads pick from.")
    var keys = 1000

    @Option(help: "Seconds measured per round.")
    var duration = 5.0

    @Option(help: "Seconds run before measuring.")
    var warmup = 1.0

    @Option(name: .customLong("read-percent"), help: "Share of reads in the mixed workload.")
    var readPercent = 90

    @Option(help: "Rounds per server.")
    var rounds = 1

    @Option(help: "HOST:PORT[,HOST:PORT...] of a second server to run alternately with the first.")
    var compare: String?

    @Option(help: "Name of the first server in the output.")
    var label = "swiftkeeper"

    @Option(name: .customLong("compare-label"), help: "Name of the second server in the output.")
    var compareLabel = "zookeeper"

    @Option(name: .customLong("session-timeout-ms"), help: "Session timeout requested.")
    var sessionTimeoutMs: Int32 = 30000

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard BenchWorkload(rawValue: workload) != nil else {
            throw ValidationError("unknown workload \(workload); one of \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard sessions > 0, inFlight > 0, keys > 0, rounds > 0, duration > 0, warmup >= 0, valueSize >= 0,
            (0...100).contains(readPercent)
        else { throw ValidationError("sessions, in-flight, keys, rounds and duration must be positive; read-percent 0...100") }
    }

    func run() throws {
        var options = BenchOptions()
        options.workload = BenchWorkload(rawValue: workload)!
        options.sessions = sessions
        options.inFlight = inFlight
        options.valueBytes = valueSize
        options.keys = keys
        options.durationS = duration
        options.warmupS = warmup
        options.readPercent = readPercent
        options.sessionTimeoutMs = sessionTimeoutMs
        var targets: [BenchTarget]
        do {
            targets = [BenchTarget(label: label, hosts: try HostPort.list(hosts))]
            if let compare { targets.append(BenchTarget(label: compareLabel, hosts: try HostPort.list(compare))) }
        } catch {
            throw ValidationError("\(error)")
        }
        let json = self.json
        if !json { emit(BenchText.header(options, rounds: rounds)) }
        do {
            let report = try BenchRunner.run(options, targets: targets, rounds: rounds) { line in
                if !json { emit(line) }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                emit(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                emit(BenchText.summary(report))
            }
        } catch {
            FileHandle.standardError.write("swiftkeeper bench: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

/// Writes a line at once (print buffers when stdout is a pipe, and each round's line should
/// show as the round ends).
private func emit(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}
