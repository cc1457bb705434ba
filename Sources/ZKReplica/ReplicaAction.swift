import ZKConsensus
import ZKModel
import ZKWire

/// Identifies one client connection; watches are held per connection.
public typealias ConnectionID = Int64

/// What the replica asks its shell to do, in order.
public enum ReplicaAction: Equatable, Sendable {
    case sendConnectResponse(ConnectionID, ConnectResponse)
    case sendReply(ConnectionID, ReplyHeader, Response)
    case sendNotification(ConnectionID, WatchedEvent, zxid: Zxid)
    /// Four-letter-word output: raw text, no framing; the shell closes afterwards.
    case sendText(ConnectionID, String)
    /// Close after everything queued before it is written.
    case closeConnection(ConnectionID)
    /// Stop (false) or resume (true) reading the connection's socket: the replica holds
    /// frames it cannot take yet, and the client must wait until it can.
    case setReading(ConnectionID, enabled: Bool)
    /// The replica stopped applying durable txns to let other events in: call `resume`
    /// after what is queued (the next turn of the shell's loop).
    case resumeLater
    /// A line for the operator's log about one connection: throttled, or closed for passing
    /// a limit. At most one per connection and cause.
    case notice(ConnectionID, String)
    /// Make the txn durable, then report `logPersisted(upTo:)`. Replies wait for it.
    case appendLog(Txn)
    /// Ensemble: work for the quorum shell: send to a member, write an epoch file, close a
    /// member connection, cut the log back (then report `stateReloaded`), or keep a snapshot
    /// the leader sent (the replica already holds its state).
    case peer(PeerAction)
}
