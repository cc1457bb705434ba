import NIOCore
import ZKModel
import ZKReplica

/// One connection's loop's part in answering reads itself (`ReadView`): what it handed the
/// replica and what the replica answered, the newest zxid the client was sent, and the
/// local answers not yet reported to the replica. Lives on the connection's loop.
struct LocalReadBookkeeping {
    /// Request frames handed to the replica (the ConnectRequest included).
    var forwarded = 0
    /// Replies to them the replica wrote to this connection.
    var replicaAnswered = 0
    /// The newest zxid in anything the replica wrote here: a view older than that could
    /// show this client a state from before its own write, or before a `sync` it saw end.
    var deliveredZxid: Zxid = 0
    /// The ConnectResponse that established a session went out.
    var established = false
    /// The replica answered more than it was handed: the count cannot be trusted any
    /// more, so this connection's reads all go to the replica (only a bug gets here).
    var broken = false
    /// Reads answered here since the last report to the replica.
    var unreported = 0
    var lastReportMs: Int64 = 0
    /// Every read answered here.
    private(set) var answeredHere = 0

    /// Nothing handed to the replica is unanswered, so a reply sent now keeps request order.
    var mayAnswer: Bool { established && !broken && forwarded == replicaAnswered }

    mutating func answeredLocally() {
        unreported += 1
        answeredHere += 1
    }

    mutating func replicaWrote(_ output: ClientOutput) {
        replicaAnswered += output.answers
        deliveredZxid = max(deliveredZxid, output.zxid)
        if output.establishes { established = true }
        if replicaAnswered > forwarded { broken = true }
    }

    /// The count to report with frames handed over now.
    mutating func takeUnreported() -> Int {
        defer { unreported = 0 }
        return unreported
    }

    /// The count to report on its own, when the last report is `intervalMs` old.
    mutating func reportDue(nowMs: Int64, intervalMs: Int64) -> Int? {
        guard unreported > 0, nowMs - lastReportMs >= intervalMs else { return nil }
        lastReportMs = nowMs
        return takeUnreported()
    }
}
