import ZKModel

/// ZooKeeper's fast leader election for one LOOKING period, as a value: notifications in,
/// notifications to broadcast and (eventually) a decision out.
public struct FastLeaderElection: Sendable {
    /// The vote the quorum agreed on: lead it if it names us, else follow it.
    public struct Decision: Equatable, Sendable {
        public var vote: Vote
        public var round: Int64
    }

    let me: ServerID
    let configuration: QuorumConfiguration
    /// The vote this server would cast for itself: its last logged zxid and currentEpoch.
    let initialVote: Vote
    public private(set) var round: Int64
    public private(set) var proposal: Vote
    /// Votes of LOOKING voters in the current round (and of established members in it).
    var received: [ServerID: Vote] = [:]
    /// Notifications from members that are FOLLOWING or LEADING, from any round.
    var outOfElection: [ServerID: Notification] = [:]
    /// Set once the received votes form a quorum for the proposal: decide at this time unless
    /// a better vote arrives (`finalizeWait`).
    public private(set) var finalizeAtMs: Int64?

    /// `finalizeWait`: how long a quorum for the proposal must stand before deciding.
    public static let finalizeWaitMs: Int64 = 200

    /// Starts a new round (`logicalclock + 1`) voting for ourselves.
    public init(me: ServerID, configuration: QuorumConfiguration, lastZxid: Zxid, currentEpoch: Int64, previousRound: Int64) {
        self.me = me
        self.configuration = configuration
        // A member that cannot vote proposes nobody (ZooKeeper uses Long.MIN_VALUE).
        initialVote = configuration.voters.contains(me)
            ? Vote(leader: me, zxid: lastZxid, peerEpoch: currentEpoch)
            : Vote(leader: Int64.min, zxid: Int64.min, peerEpoch: Int64.min)
        round = previousRound + 1
        proposal = initialVote
        if configuration.voters.contains(me) { received[me] = proposal }
    }

    public var notification: Notification { Notification(state: .looking, vote: proposal, round: round) }

    /// Handles a notification; returns true if our proposal changed (broadcast it again).
    public mutating func receive(_ message: Notification, from sender: ServerID, now: Int64) -> (changed: Bool, decision: Decision?) {
        guard configuration.voters.contains(sender) || configuration.observers.contains(sender) else { return (false, nil) }
        switch message.state {
        case .looking:
            guard configuration.voters.contains(sender), configuration.voters.contains(message.vote.leader) else { return (false, nil) }
            var changed = false
            if message.round > round {
                round = message.round
                received = [:]
                proposal = message.vote.isBetter(than: initialVote) ? message.vote : initialVote
                if configuration.voters.contains(me) { received[me] = proposal }
                finalizeAtMs = nil
                changed = true
            } else if message.round < round {
                return (false, nil)
            } else if message.vote.isBetter(than: proposal) {
                proposal = message.vote
                if configuration.voters.contains(me) { received[me] = proposal }
                finalizeAtMs = nil
                changed = true
            }
            received[sender] = message.vote
            if finalizeAtMs == nil, configuration.isQuorum(received.filter { $0.value == proposal }.keys) {
                finalizeAtMs = now + Self.finalizeWaitMs
            }
            return (changed, nil)
        case .following, .leading:
            // Members of an established ensemble agree on the leader and its epoch; their zxids
            // differ (ZooKeeper's Vote.equals compares only those two outside LOOKING).
            func agrees(_ vote: Vote) -> Bool { vote.leader == message.vote.leader && vote.peerEpoch == message.vote.peerEpoch }
            if message.round == round {
                received[sender] = message.vote
                if configuration.isQuorum(received.filter { agrees($0.value) }.keys),
                    checkLeader(message.vote.leader, in: outOfElection.merging([(sender, message)]) { $1 }, round: message.round)
                {
                    return (false, decide(message.vote))
                }
            }
            outOfElection[sender] = message
            let agreeing = outOfElection.filter { agrees($0.value.vote) }.keys
            if configuration.isQuorum(agreeing), checkLeader(message.vote.leader, in: outOfElection, round: message.round) {
                round = message.round
                return (false, decide(message.vote))
            }
            return (false, nil)
        case .observing:
            return (false, nil)
        }
    }

    /// The leader must itself say it is LEADING (or be us, in our round): otherwise a quorum
    /// that still remembers a dead leader would follow it forever.
    func checkLeader(_ leader: ServerID, in votes: [ServerID: Notification], round: Int64) -> Bool {
        if leader == me { return round == self.round }
        return votes[leader]?.state == .leading
    }

    /// Time passes: decide once the quorum for our proposal has stood for `finalizeWait`.
    public mutating func tick(now: Int64) -> Decision? {
        guard let finalizeAtMs, now >= finalizeAtMs else { return nil }
        return decide(proposal)
    }

    func decide(_ vote: Vote) -> Decision { Decision(vote: vote, round: round) }
}
