import DequeModule
import ZKModel

/// Limits and timing of one ensemble member (`zoo.cfg`: tickTime, initLimit, syncLimit).
public struct PeerConfiguration: Sendable {
    public var me: ServerID
    public var quorum: QuorumConfiguration
    public var tickTimeMs: Int64 = 2000
    /// Ticks a learner may take to connect and sync.
    public var initLimit: Int64 = 10
    /// Ticks a synced learner may stay silent.
    public var syncLimit: Int64 = 5
    /// Longest wait before a LOOKING member resends its vote after a quiet spell
    /// (`zookeeper.fastleader.maxNotificationInterval`); the wait starts at 200 ms and doubles.
    public var maxNotificationIntervalMs: Int64 = 60_000
    /// Committed txns kept in memory beyond the uncommitted ones (`commitLogCount`): a
    /// learner whose last zxid is older than the window gets SNAP. Bounds the peer's memory
    /// under sustained writes.
    public var commitLogCount = 500
    /// A learner older than the window is synced from the leader's on-disk log when the
    /// shell can read it cheaply (`readLogForLearner`, ZooKeeper's `snapshotSizeFactor`);
    /// otherwise, or when the log does not reach back far enough, it gets SNAP.
    public var diffFromLogEnabled = false

    public init(me: ServerID, quorum: QuorumConfiguration) {
        self.me = me
        self.quorum = quorum
    }

    public var isObserver: Bool { quorum.observers.contains(me) }

    /// A deliberate bug for proving the simulator's checkers can fail. Never set outside tests.
    public var injectedBug: InjectedBug?
}

public enum InjectedBug: String, Sendable, CaseIterable {
    /// The leader commits a proposal as soon as it logged it, without a quorum.
    case commitWithoutQuorum
    /// A learner answers `sync` from its own state without asking the leader.
    case syncWithoutLeader
}

/// What a member remembers across restarts: its epochs, and the txns in its log after the
/// state its snapshot holds (`baseZxid`). Everything logged is treated as applied at start,
/// as ZooKeeper replays its whole log when it loads.
public struct PeerDurableState: Sendable {
    public var acceptedEpoch: Int64
    public var currentEpoch: Int64
    public var baseZxid: Zxid
    public var log: [Txn]

    public init(acceptedEpoch: Int64 = 0, currentEpoch: Int64 = 0, baseZxid: Zxid = 0, log: [Txn] = []) {
        self.acceptedEpoch = acceptedEpoch
        self.currentEpoch = currentEpoch
        self.baseZxid = baseZxid
        self.log = log
    }
}

/// One ensemble member's ZAB logic: election, discovery, synchronisation and broadcast as a
/// pure value. Events in (messages, ticks, "persisted up to", proposals), actions out.
public struct Peer: Sendable {
    public let configuration: PeerConfiguration
    var me: ServerID { configuration.me }

    public internal(set) var acceptedEpoch: Int64
    public internal(set) var currentEpoch: Int64
    /// State held by the state machine without a log behind it (a snapshot or a SNAP sync).
    public internal(set) var baseZxid: Zxid
    /// Logged txns after `baseZxid`, in zxid order.
    public internal(set) var log: Deque<Txn>
    public internal(set) var persistedZxid: Zxid
    /// The last txn applied to the state machine.
    public internal(set) var committedZxid: Zxid
    /// The last txn known committed by a quorum (a COMMIT, INFORM or this leader's own
    /// count). Unlike `committedZxid` it never includes what a member only fast-forwarded,
    /// so the window may drop what is below it: no TRUNC ever goes back that far.
    var quorumCommittedZxid: Zxid
    public internal(set) var role: Role
    var lastRound: Int64 = 0
    var actions: [PeerAction] = []

    public enum Role: Sendable {
        case looking(FastLeaderElection, resendAtMs: Int64, resendDelayMs: Int64)
        case leading(LeaderState)
        case learning(LearnerState)
        /// Only inside one event, while the leader's or learner's state is out of `role`
        /// being changed in place (`takeLeader`, `takeLearner`); nothing reads it then.
        case detached
    }

    /// Takes the leader's state out of `role` to change it in place. While `role` held it
    /// too, the first change to each of its tables copied the whole table: on every ACK,
    /// the acks of every proposal in flight. Put it back (`role = .leading(leader)`) before
    /// anything reads `role`.
    mutating func takeLeader() -> LeaderState? {
        guard case .leading(let leader) = role else { return nil }
        role = .detached
        return leader
    }

    /// Changes the leader's state in place; false when this peer does not lead.
    @discardableResult
    mutating func withLeader(_ change: (inout LeaderState) -> Void) -> Bool {
        guard var leader = takeLeader() else { return false }
        change(&leader)
        role = .leading(leader)
        return true
    }

    /// `takeLeader` for a learner's state (its unacknowledged proposals).
    mutating func takeLearner() -> LearnerState? {
        guard case .learning(let learner) = role else { return nil }
        role = .detached
        return learner
    }

    public init(configuration: PeerConfiguration, durable: PeerDurableState, now: Int64) {
        self.configuration = configuration
        acceptedEpoch = durable.acceptedEpoch
        currentEpoch = durable.currentEpoch
        baseZxid = durable.baseZxid
        log = Deque(durable.log)
        let last = durable.log.last?.zxid ?? durable.baseZxid
        persistedZxid = last
        committedZxid = last
        quorumCommittedZxid = durable.baseZxid
        role = .looking(
            FastLeaderElection(me: configuration.me, configuration: configuration.quorum, lastZxid: last, currentEpoch: durable.currentEpoch, previousRound: 0),
            resendAtMs: now, resendDelayMs: Self.resendInitialMs)
    }

    public var lastLoggedZxid: Zxid { log.last?.zxid ?? baseZxid }

    /// The index of the first logged txn after `zxid` (the log is in zxid order).
    func logIndex(after zxid: Zxid) -> Int {
        var low = 0, high = log.count
        while low < high {
            let middle = (low + high) / 2
            if log[middle].zxid <= zxid { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Drops committed txns beyond the window: only those a quorum committed, this member
    /// applied and its disk holds.
    mutating func compactLog() {
        let limit = min(quorumCommittedZxid, committedZxid, persistedZxid)
        let excess = min(log.count - configuration.commitLogCount, logIndex(after: limit))
        guard excess > 0 else { return }
        baseZxid = log[excess - 1].zxid
        log.removeFirst(excess)
    }

    public var state: ServerState {
        switch role {
        case .looking: return .looking
        case .leading: return .leading
        case .learning: return configuration.isObserver ? .observing : .following
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
    }

    public var phase: ZabPhase {
        switch role {
        case .looking: return .election
        case .leading(let leader): return leader.phase
        case .learning(let learner): return learner.phase
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
    }

    public var leaderId: ServerID? {
        switch role {
        case .looking: return nil
        case .leading: return me
        case .learning(let learner): return learner.leader
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
    }

    static let resendInitialMs: Int64 = 200

    // MARK: - Events

    public mutating func receive(_ message: PeerMessage, from sender: ServerID, now: Int64) -> [PeerAction] {
        actions = []
        guard sender != me, configuration.quorum.members.contains(sender) else { return [] }
        switch role {
        case .looking: lookingReceive(message, from: sender, now: now)
        case .leading: leaderReceive(message, from: sender, now: now)
        case .learning: learnerReceive(message, from: sender, now: now)
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
        return take()
    }

    /// The connection to `peer` broke (TCP reset, timeout, peer crashed): a learner loses its
    /// leader and looks for a new one; a leader forgets the learner until it connects again.
    public mutating func connectionLost(to peer: ServerID, now: Int64) -> [PeerAction] {
        actions = []
        switch role {
        case .looking: break
        case .leading(var leader):
            leader.learners[peer] = nil
            for zxid in leader.proposalAcks.keys { leader.proposalAcks[zxid]?.remove(peer) }
            role = .leading(leader)
        case .learning(let learner):
            if learner.leader == peer { startLooking(now: now) }
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
        return take()
    }

    /// The log made every txn up to `zxid` durable.
    public mutating func persisted(upTo zxid: Zxid, now: Int64) -> [PeerAction] {
        actions = []
        persistedZxid = max(persistedZxid, min(zxid, lastLoggedZxid))
        switch role {
        case .looking: break
        case .leading: leaderPersisted(now: now)
        case .learning: learnerPersisted(now: now)
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
        return take()
    }

    public mutating func tick(now: Int64) -> [PeerAction] {
        actions = []
        switch role {
        case .looking: lookingTick(now: now)
        case .leading: leaderTick(now: now)
        case .learning: learnerTick(now: now)
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
        return take()
    }

    mutating func take() -> [PeerAction] {
        defer { actions = [] }
        return actions
    }

    func send(_ message: PeerMessage, to peer: ServerID) -> PeerAction { .send(to: peer, message) }

    // MARK: - Election

    mutating func startLooking(now: Int64) {
        // ZooKeeper fast-forwards its database over the whole log when it stops following or
        // leading: what was logged counts as applied, and a later TRUNC takes back what the
        // new leader does not have.
        failPendingSyncs()
        for txn in log[logIndex(after: committedZxid)...] { commit(txn) }
        switch role {
        case .looking: break
        case .leading(let leader):
            for id in leader.learners.keys.sorted() { actions.append(.closeConnection(to: id)) }
        case .learning(let learner):
            actions.append(.closeConnection(to: learner.leader))
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
        let election = FastLeaderElection(
            me: me, configuration: configuration.quorum, lastZxid: lastLoggedZxid, currentEpoch: currentEpoch, previousRound: lastRound)
        lastRound = election.round
        role = .looking(election, resendAtMs: now + Self.resendInitialMs, resendDelayMs: Self.resendInitialMs)
        actions.append(.roleChanged(.looking, leader: nil, epoch: currentEpoch))
        broadcastNotification(election.notification)
    }

    mutating func broadcastNotification(_ notification: Notification) {
        for peer in configuration.quorum.members.sorted() where peer != me {
            actions.append(send(.notification(notification), to: peer))
        }
    }

    mutating func lookingReceive(_ message: PeerMessage, from sender: ServerID, now: Int64) {
        guard case .looking(var election, let resendAtMs, let resendDelayMs) = role,
            case .notification(let notification) = message
        else { return }
        let before = election.round
        let (changed, decision) = election.receive(notification, from: sender, now: now)
        lastRound = election.round
        // The resend timer only runs out after a quiet spell, as ZooKeeper's poll timeout does.
        role = .looking(election, resendAtMs: max(resendAtMs, now + resendDelayMs), resendDelayMs: resendDelayMs)
        if changed {
            broadcastNotification(election.notification)
        } else if notification.state == .looking && (notification.round < before || answersWorseVote(notification, from: sender, election)) {
            // A LOOKING peer behind us learns our vote (FastLeaderElection's WorkerReceiver).
            actions.append(send(.notification(election.notification), to: sender))
        }
        if let decision { decided(decision, now: now) }
    }

    /// A voter in our round with a worse vote learns ours at once: waiting for our resend
    /// timer is not enough, since its notifications keep postponing that timer (found by the
    /// simulator: two members, clocks a little apart, looked at each other for ever). Only
    /// voters' votes count, so only voters are answered: answering observers, whose votes we
    /// ignore, would never end.
    func answersWorseVote(_ notification: Notification, from sender: ServerID, _ election: FastLeaderElection) -> Bool {
        configuration.quorum.voters.contains(sender) && notification.round == election.round
            && election.proposal.isBetter(than: notification.vote)
    }

    mutating func lookingTick(now: Int64) {
        guard case .looking(var election, let resendAtMs, let resendDelayMs) = role else { return }
        if let decision = election.tick(now: now) {
            role = .looking(election, resendAtMs: resendAtMs, resendDelayMs: resendDelayMs)
            decided(decision, now: now)
            return
        }
        if now >= resendAtMs {
            // Nothing decided yet: tell everybody again, waiting longer each time.
            let delay = min(resendDelayMs * 2, configuration.maxNotificationIntervalMs)
            role = .looking(election, resendAtMs: now + delay, resendDelayMs: delay)
            broadcastNotification(election.notification)
        }
    }

    mutating func decided(_ decision: FastLeaderElection.Decision, now: Int64) {
        lastRound = decision.round
        if decision.vote.leader == me {
            if configuration.isObserver { return startLooking(now: now) }
            becomeLeader(now: now)
        } else {
            becomeLearner(of: decision.vote.leader, now: now)
        }
    }

    /// A member that is not LOOKING answers a LOOKING peer with its current vote, which is how
    /// late joiners find the established leader.
    mutating func answerLookingPeer(_ message: PeerMessage, from sender: ServerID) {
        guard case .notification(let notification) = message, notification.state == .looking, let leader = leaderId else { return }
        // Leader and synced learners all report (leader, current epoch).
        let vote = Vote(leader: leader, zxid: lastLoggedZxid, peerEpoch: currentEpoch)
        actions.append(send(.notification(Notification(state: state, vote: vote, round: lastRound)), to: sender))
    }
}
