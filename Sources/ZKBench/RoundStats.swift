import ZKClientCore

/// What one round measured, as `--json` prints it.
public struct RoundFigures: Codable, Sendable, Equatable {
    public var ops: Int
    public var errors: Int
    public var opsPerSec: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    public var maxMs: Double
}

/// The measured window of a round and what fell into it.
///
/// `@unchecked Sendable`: confined to the bench's one event loop, like the connections.
final class RoundStats: @unchecked Sendable {
    var histogram = LatencyHistogram()
    var ops = 0
    var errors = 0
    var errorCodes: [Int32: Int] = [:]
    var measureFromNs: UInt64 = 0
    /// The window ends here, or earlier when a delete run ran out of nodes (`ranOutNs`).
    var measureToNs: UInt64 = 0
    var ranOutNs: UInt64 = .max

    var windowEndNs: UInt64 { min(measureToNs, ranOutNs) }

    func start(warmupS: Double, durationS: Double) {
        measureFromNs = nowNs() + UInt64(warmupS * 1e9)
        measureToNs = measureFromNs + UInt64(durationS * 1e9)
    }

    func inWindow(_ ns: UInt64) -> Bool { ns >= measureFromNs && ns < windowEndNs }

    /// Counts a reply whose request was sent at `sentNs`, if it arrived within the window.
    func record(_ reply: ClientReply, sentNs: UInt64, nowNs: UInt64) {
        guard inWindow(nowNs) else { return }
        record(latencyNs: nowNs - sentNs)
        if reply.err != 0 {
            errors += 1
            errorCodes[reply.err, default: 0] += 1
        }
    }

    func record(latencyNs: UInt64) {
        ops += 1
        histogram.record(latencyNs)
    }

    func figures() -> RoundFigures {
        let end = min(windowEndNs, max(nowNs(), measureFromNs + 1))
        let seconds = Double(end - measureFromNs) / 1e9
        func ms(_ q: Double) -> Double { Double(histogram.valueNs(atQuantile: q)) / 1e6 }
        return RoundFigures(
            ops: ops, errors: errors, opsPerSec: seconds > 0 ? Double(ops) / seconds : 0,
            p50Ms: ms(0.5), p99Ms: ms(0.99), p999Ms: ms(0.999), maxMs: Double(histogram.maxNs) / 1e6)
    }
}
