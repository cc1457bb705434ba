import ZKModel

/// A server's id in the ensemble (`server.N`, `myid`).
public typealias ServerID = Int64

/// `QuorumPeer.ServerState`, also the `state` field of election notifications.
public enum ServerState: Int32, Sendable {
    case looking = 0
    case following = 1
    case leading = 2
    case observing = 3
}

/// ZAB's phases as `zabstate` reports them.
public enum ZabPhase: String, Sendable {
    case election = "ELECTION"
    case discovery = "DISCOVERY"
    case synchronization = "SYNCHRONIZATION"
    case broadcast = "BROADCAST"
}

/// Who votes: a majority of the voters is a quorum (`QuorumMaj`). Observers follow the
/// leader but neither vote nor acknowledge proposals.
public struct QuorumConfiguration: Hashable, Sendable {
    public var voters: Set<ServerID>
    public var observers: Set<ServerID>

    public init(voters: Set<ServerID>, observers: Set<ServerID> = []) {
        precondition(!voters.isEmpty, "a quorum needs at least one voter")
        precondition(voters.isDisjoint(with: observers), "servers \(voters.intersection(observers)) are both voter and observer")
        self.voters = voters
        self.observers = observers
    }

    public var members: Set<ServerID> { voters.union(observers) }

    /// More than half of the voters are in `ids`.
    public func isQuorum<S: Sequence>(_ ids: S) -> Bool where S.Element == ServerID {
        Set(ids).intersection(voters).count * 2 > voters.count
    }
}

/// An election vote: the proposed leader, its last zxid and its epoch.
public struct Vote: Hashable, Sendable, CustomStringConvertible {
    public var leader: ServerID
    public var zxid: Zxid
    public var peerEpoch: Int64

    public init(leader: ServerID, zxid: Zxid, peerEpoch: Int64) {
        self.leader = leader
        self.zxid = zxid
        self.peerEpoch = peerEpoch
    }

    /// FastLeaderElection's `totalOrderPredicate`: the higher epoch, then the higher zxid,
    /// then the higher server id wins.
    public func isBetter(than other: Vote) -> Bool {
        if peerEpoch != other.peerEpoch { return peerEpoch > other.peerEpoch }
        if zxid != other.zxid { return zxid > other.zxid }
        return leader > other.leader
    }

    public var description: String { "(leader \(leader), zxid 0x\(String(zxid, radix: 16)), epoch \(peerEpoch))" }
}

/// An election notification (version 2 without the config text, which a later issue adds).
public struct Notification: Hashable, Sendable {
    public var state: ServerState
    public var vote: Vote
    /// The sender's election round (`logicalclock`, "electionEpoch" on the wire).
    public var round: Int64

    public init(state: ServerState, vote: Vote, round: Int64) {
        self.state = state
        self.vote = vote
        self.round = round
    }
}
