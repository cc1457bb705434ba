/// A line for the operator's log about a significant event: a session established,
/// expired or closed, a change of role. Never one per request. The replica keeps them
/// until the shell takes them (`takeLogLines`), at most `logLinesKeptMax`.
public struct ReplicaLogLine: Equatable, Sendable {
    public enum Level: Equatable, Sendable {
        case info
        case notice
    }

    public var level: Level
    public var message: String
    public var fields: [String: String]

    public init(_ level: Level, _ message: String, _ fields: [String: String]) {
        self.level = level
        self.message = message
        self.fields = fields
    }
}

extension Replica {
    /// Lines a shell that never takes them (tests, the simulator) lets pile up.
    static let logLinesKeptMax = 1000

    mutating func log(_ level: ReplicaLogLine.Level, _ message: String, _ fields: [String: String]) {
        if logLines.count >= Self.logLinesKeptMax { logLines.removeFirst(logLines.count / 2) }
        logLines.append(ReplicaLogLine(level, message, fields))
    }

    /// The lines logged since the last call.
    public mutating func takeLogLines() -> [ReplicaLogLine] {
        defer { logLines = [] }
        return logLines
    }
}
