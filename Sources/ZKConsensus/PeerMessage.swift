import ZKDataTree
import ZKModel

/// What a SNAP sync carries: the leader's tree and sessions as of `zxid`. On the wire this is
/// the snapshot body followed by "BenWasHere".
public struct SyncSnapshot: Equatable, Sendable {
    public var tree: DataTree
    public var sessions: [SessionID: Int32]

    public init(tree: DataTree, sessions: [SessionID: Int32]) {
        self.tree = tree
        self.sessions = sessions
    }

    /// Two snapshots are the same when they hold the same sessions and a tree with the same
    /// zxid and digest (the digest covers every node's path, data and stat).
    public static func == (lhs: SyncSnapshot, rhs: SyncSnapshot) -> Bool {
        lhs.sessions == rhs.sessions && lhs.tree.lastProcessedZxid == rhs.tree.lastProcessedZxid
            && lhs.tree.digest == rhs.tree.digest && lhs.tree.nodes.count == rhs.tree.nodes.count
    }
}

/// A client's write (or createSession, closeSession) that a learner hands to its leader, as
/// ZooKeeper's REQUEST packet carries it: the session, the client's xid, the opcode, the
/// request body as the client sent it (after its xid and type; for createSession, the
/// negotiated timeout), and the identities its connection authenticated as.
public struct ForwardedRequest: Hashable, Sendable {
    public var sessionId: SessionID
    public var cxid: Xid
    public var type: Int32
    public var body: [UInt8]
    public var authIds: [Id]

    public init(sessionId: SessionID, cxid: Xid, type: Int32, body: [UInt8], authIds: [Id]) {
        self.sessionId = sessionId
        self.cxid = cxid
        self.type = type
        self.body = body
        self.authIds = authIds
    }
}

/// Whose `sync` a forwarded sync request is: what ZooKeeper's REQUEST of type sync carries.
public struct SyncOrigin: Hashable, Sendable {
    public var sessionId: SessionID
    public var cxid: Xid
    public var path: String

    public init(sessionId: SessionID, cxid: Xid, path: String) {
        self.sessionId = sessionId
        self.cxid = cxid
        self.path = path
    }
}

/// A session a learner's clients kept alive since its last PING answer, with its timeout.
public struct SessionTouch: Hashable, Sendable {
    public var sessionId: SessionID
    public var timeoutMs: Int32

    public init(sessionId: SessionID, timeoutMs: Int32) {
        self.sessionId = sessionId
        self.timeoutMs = timeoutMs
    }
}

/// Messages between ensemble members. Election notifications travel on the election port;
/// the rest are ZooKeeper's `QuorumPacket` types (the number in each comment), on the quorum port.
public enum PeerMessage: Equatable, Sendable {
    case notification(Notification)
    /// 11 FOLLOWERINFO / 16 OBSERVERINFO: zxid = acceptedEpoch << 32.
    case learnerInfo(acceptedEpoch: Int64, observer: Bool)
    /// 17 LEADERINFO: zxid = newEpoch << 32.
    case leaderInfo(newEpoch: Int64)
    /// 18 ACKEPOCH: the learner's last logged zxid and its currentEpoch (−1 when it had
    /// already accepted this epoch).
    case ackEpoch(lastLoggedZxid: Zxid, currentEpoch: Int64)
    /// 13 DIFF: the learner keeps its log; proposals and commits follow.
    case diff(zxid: Zxid)
    /// 14 TRUNC: the learner cuts its log back to `zxid`; proposals and commits follow.
    case trunc(zxid: Zxid)
    /// 15 SNAP: the learner replaces its state.
    case snap(zxid: Zxid, snapshot: SyncSnapshot)
    /// 2 PROPOSAL.
    case proposal(Txn)
    /// 4 COMMIT.
    case commit(zxid: Zxid)
    /// 8 INFORM: a committed txn, to observers.
    case inform(Txn)
    /// 10 NEWLEADER: zxid = newEpoch << 32.
    case newLeader(zxid: Zxid)
    /// 3 ACK: of a proposal, or of NEWLEADER (zxid = newEpoch << 32).
    case ack(zxid: Zxid)
    /// 12 UPTODATE.
    case upToDate
    /// 5 PING: the leader numbers its ping rounds in the zxid field; learners echo it, which
    /// is how a `sync` learns that a quorum still follows this leader. A learner's answer
    /// carries the sessions its clients touched since the last one (the leader's are empty).
    case ping(zxid: Zxid, touches: [SessionTouch] = [])
    /// 1 REQUEST: a client's write, forwarded by a learner to the leader.
    case request(ForwardedRequest)
    /// 6 REVALIDATE from a learner: may a client reconnecting there resume this session?
    case revalidate(sessionId: SessionID, timeoutMs: Int32)
    /// 6 REVALIDATE from the leader: the answer (a valid session was touched).
    case revalidateReply(sessionId: SessionID, valid: Bool)
    /// 1 REQUEST carrying a client's `sync`, from a learner to the leader. The replica adds
    /// the client's session, xid and path (a ZooKeeper leader checks the session).
    case syncRequest(requestId: UInt64, origin: SyncOrigin? = nil)
    /// 7 SYNC: the learner may answer the `sync` once it has applied `zxid`.
    case syncReply(requestId: UInt64, zxid: Zxid)

    /// ZooKeeper's packet type number (`Leader.*`), 0 for election notifications.
    public var packetType: Int32 {
        switch self {
        case .notification: return 0
        case .learnerInfo(_, let observer): return observer ? 16 : 11
        case .leaderInfo: return 17
        case .ackEpoch: return 18
        case .diff: return 13
        case .trunc: return 14
        case .snap: return 15
        case .proposal: return 2
        case .commit: return 4
        case .inform: return 8
        case .newLeader: return 10
        case .ack: return 3
        case .upToDate: return 12
        case .ping: return 5
        case .syncRequest, .request: return 1
        case .revalidate, .revalidateReply: return 6
        case .syncReply: return 7
        }
    }
}

/// What the shell must do for the peer. Actions of one batch are carried out in order;
/// `persistTxns` completes later with `Peer.persisted(upTo:)`, the others at once.
public enum PeerAction: Equatable, Sendable {
    case send(to: ServerID, PeerMessage)
    /// Log and fsync; report with `persisted(upTo:)`.
    case persistTxns([Txn])
    /// Write the epoch file before anything later in the batch (acceptedEpoch / currentEpoch).
    case persistAcceptedEpoch(Int64)
    case persistCurrentEpoch(Int64)
    /// Cut the log back to `zxid` (TRUNC sync).
    case truncateLog(to: Zxid)
    /// Replace the state machine with the leader's (SNAP sync).
    case installSnapshot(zxid: Zxid, SyncSnapshot)
    /// The leader needs its own state for a SNAP sync to `learner`: the shell answers with
    /// `Peer.snapshotReady`.
    case takeSnapshotForLearner(ServerID)
    /// The leader would sync `learner` from its on-disk log: the shell answers with
    /// `Peer.logRead(for:txns:)`, giving the logged txns from the last one at or before
    /// `after` on, or nil when its log does not reach back that far or is too large.
    case readLogForLearner(ServerID, after: Zxid)
    /// Apply this committed txn to the state machine (in zxid order).
    case apply(Txn)
    /// Close the quorum connection to this peer (a learner giving up on its leader, a leader
    /// stepping down); the other side sees it as `connectionLost`.
    case closeConnection(to: ServerID)
    /// A client's `sync` is done: this member has applied everything the leader had when it
    /// got the request, and a quorum confirmed that leader afterwards.
    case syncDone(requestId: UInt64, zxid: Zxid)
    /// The `sync` cannot finish here (not serving, or the leader was lost): the client retries.
    case syncFailed(requestId: UInt64)
    /// The peer's role changed; the shell may start or stop serving clients.
    case roleChanged(ServerState, leader: ServerID?, epoch: Int64)
    /// Something an operator should read in the log (a peer refused, a learner dropped).
    case notice(String)
}
