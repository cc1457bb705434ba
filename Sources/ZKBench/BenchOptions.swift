import ZKModel

public enum BenchWorkload: String, CaseIterable, Codable, Sendable {
    /// getData of random keys.
    case get
    /// exists of random keys.
    case exists
    /// setData of random keys.
    case set
    /// Persistent sequential creates under one parent.
    case create
    /// Deletes of nodes created before the measured phase.
    case delete
    /// multi of 5 setData ops on random keys.
    case multi
    /// getData with `readPercent` probability, setData otherwise.
    case mixed
    /// Every session watches one node; one setData fires them all, and again.
    case watch
    /// Sessions made and closed (connect, ConnectRequest, closeSession).
    case churn
}

public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT[,HOST:PORT...]`.
    public static func list(_ text: String) throws -> [HostPort] {
        let hosts = try text.split(separator: ",").map { item -> HostPort in
            guard let colon = item.lastIndex(of: ":"), let port = Int(item[item.index(after: colon)...]),
                (1...65535).contains(port), colon != item.startIndex
            else { throw BenchError.badHost(String(item)) }
            return HostPort(host: String(item[..<colon]), port: port)
        }
        guard !hosts.isEmpty else { throw BenchError.badHost(text) }
        return hosts
    }

    public var description: String { "\(host):\(port)" }
}

public struct BenchOptions: Sendable {
    public var workload: BenchWorkload = .get
    public var sessions = 8
    public var inFlight = 32
    public var valueBytes = 100
    /// Keys the get, exists, set, mixed and multi workloads pick from.
    public var keys = 1000
    public var durationS = 5.0
    public var warmupS = 1.0
    public var readPercent = 90
    public var sessionTimeoutMs: Int32 = 30000
    /// Requests in flight on all sessions together while setting up and cleaning up.
    public var setupInFlight = 256
    /// How long a phase may take beyond its planned time before the bench gives up.
    public var phaseGraceS = 120.0
    public var seed: UInt64 = 1

    public init() {}

    public static let rootPath = "/swiftkeeper-bench"
    public static let opsPerMulti = 5
}
