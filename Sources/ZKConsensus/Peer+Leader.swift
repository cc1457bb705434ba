import ZKModel

/// The leader's view of one learner.
public struct LearnerProgress: Sendable {
    public enum Stage: Sendable {
        /// Sent LEADERINFO (or waiting for the new epoch), waiting for ACKEPOCH.
        case discovering
        /// ACKEPOCH received; waiting for the epoch to be established before syncing.
        case awaitingSync(lastZxid: Zxid)
        /// Waiting for the shell's snapshot for a SNAP sync.
        case awaitingSnapshot
        /// Waiting for the shell to read its on-disk log back to the learner's last zxid.
        case awaitingLog(lastZxid: Zxid)
        /// Sync data and NEWLEADER sent; receives every new proposal from here on.
        case syncing
        /// Acknowledged NEWLEADER.
        case synced
    }

    public var observer: Bool
    public var stage: Stage
    public var lastHeardMs: Int64
    /// The latest ping round this learner echoed.
    public var pingEcho: Int64 = 0
    /// What the leader has for this learner between NEWLEADER and UPTODATE, sent right
    /// after UPTODATE: in that window ZooKeeper 3.8's learner takes only UPTODATE (a COMMIT
    /// there finds no proposal it still holds and crashes it, ZOOKEEPER-4394; a PING makes
    /// it exit). Nil outside the window.
    var held: [PeerMessage]?

    var receivesProposals: Bool {
        switch stage {
        case .syncing, .synced: return true
        default: return false
        }
    }
}

public struct LeaderState: Sendable {
    public var phase: ZabPhase = .discovery
    /// Epochs learners had accepted (voters only), ours included.
    var acceptedEpochs: [ServerID: Int64]
    public internal(set) var newEpoch: Int64?
    public internal(set) var learners: [ServerID: LearnerProgress] = [:]
    var epochAcks: Set<ServerID> = []
    var newLeaderAcks: Set<ServerID> = []
    /// Acks of proposals not yet committed.
    var proposalAcks: [Zxid: Set<ServerID>] = [:]
    var deadlineMs: Int64
    var nextPingMs: Int64
    var pingRound: Int64 = 0
    var pendingSyncs: [PendingLeaderSync] = []

    /// Learners that were sent UPTODATE, in id order: only they are pinged. ZooKeeper's
    /// learner exits on a PING while it is still syncing ("Got unexpected packet from leader").
    var pingedLearners: [ServerID] {
        learners.keys.sorted().filter { id in
            guard case .synced = learners[id]!.stage, learners[id]!.held == nil else { return false }
            return true
        }
    }
}

/// What `mntr` reports about a leader's learners (ZooKeeper's names in the comments).
public struct LeaderReport: Sendable {
    /// zk_learners: connected learners, observers included.
    public var learners: Int
    /// zk_synced_followers: voters that acknowledged NEWLEADER.
    public var syncedFollowers: Int
    /// zk_synced_observers.
    public var syncedObservers: Int
    /// zk_pending_syncs: `sync`s waiting for their quorum round.
    public var pendingSyncs: Int
}

extension Peer {
    /// Nil unless this member leads.
    public var leaderReport: LeaderReport? {
        guard case .leading(let leader) = role else { return nil }
        var synced = (followers: 0, observers: 0)
        for learner in leader.learners.values {
            guard case .synced = learner.stage else { continue }
            if learner.observer { synced.observers += 1 } else { synced.followers += 1 }
        }
        return LeaderReport(
            learners: leader.learners.count, syncedFollowers: synced.followers, syncedObservers: synced.observers,
            pendingSyncs: leader.pendingSyncs.count)
    }

    mutating func becomeLeader(now: Int64) {
        let state = LeaderState(
            acceptedEpochs: [me: acceptedEpoch],
            deadlineMs: now + configuration.initLimit * configuration.tickTimeMs, nextPingMs: now)
        role = .leading(state)
        actions.append(.roleChanged(.leading, leader: me, epoch: currentEpoch))
        maybeEstablishEpoch(now: now)
    }

    /// The next zxid this leader will stamp, once it is serving: counting on from the log
    /// within its epoch, from `epoch << 32 | 1` at the start of a new one.
    public var nextZxid: Zxid? {
        guard case .leading(let leader) = role, leader.phase == .broadcast, let epoch = leader.newEpoch else { return nil }
        return max(lastLoggedZxid, ZxidLayout.make(epoch: epoch, counter: 0)) + 1
    }

    /// The leader proposes a prepared txn (its zxid must be `nextZxid`).
    public mutating func propose(_ txn: Txn, now: Int64) -> [PeerAction] {
        actions = []
        guard let expected = nextZxid, var leader = takeLeader() else { return [] }
        precondition(txn.zxid == expected, "proposal zxid 0x\(String(txn.zxid, radix: 16)) is not the next one, 0x\(String(expected, radix: 16))")
        log.append(txn)
        leader.proposalAcks[txn.zxid] = []
        actions.append(.persistTxns([txn]))
        for (id, learner) in leader.learners.sorted(by: { $0.key < $1.key }) where learner.receivesProposals && !learner.observer {
            sendToLearner(.proposal(txn), id, &leader)
        }
        role = .leading(leader)
        return take()
    }

    mutating func leaderReceive(_ message: PeerMessage, from sender: ServerID, now: Int64) {
        // Through `withLeader`, so no copy of the state outlives this line: the ACK handled
        // below takes the state again, and a copy still held here made its first change
        // copy every table (found by profiling a 64-session setData load).
        guard withLeader({ $0.learners[sender]?.lastHeardMs = now }) else { return }
        // ACKs, the most frequent message, before a copy of the state is bound for the rest.
        if case .ack(let zxid) = message { return leaderAck(zxid, from: sender, now: now) }
        guard case .leading(var leader) = role else { return }
        switch message {
        case .notification:
            answerLookingPeer(message, from: sender)
        case .learnerInfo(let theirAcceptedEpoch, let observer):
            guard observer == configuration.quorum.observers.contains(sender) else { return }
            // A voter that promised a later epoch (to a leader that then failed) could never
            // join this one. ZooKeeper leaves it out until the next election; we hold that
            // election now, so every healthy member gets back in.
            if let epoch = leader.newEpoch, !observer, theirAcceptedEpoch > epoch {
                return startLooking(now: now)
            }
            // Learners repeat FOLLOWERINFO until LEADERINFO arrives: a repeat on the same
            // connection changes nothing once discovery with that learner has moved on.
            if let known = leader.learners[sender] {
                guard case .discovering = known.stage else { return }
                if let epoch = leader.newEpoch { actions.append(send(.leaderInfo(newEpoch: epoch), to: sender)) }
                return
            }
            leader.learners[sender] = LearnerProgress(observer: observer, stage: .discovering, lastHeardMs: now)
            if !observer { leader.acceptedEpochs[sender] = theirAcceptedEpoch }
            role = .leading(leader)
            if let epoch = leader.newEpoch {
                actions.append(send(.leaderInfo(newEpoch: epoch), to: sender))
            } else {
                maybeEstablishEpoch(now: now)
            }
        case .ackEpoch(let lastZxid, let theirEpoch):
            guard case .discovering? = leader.learners[sender]?.stage else { return }
            // While the epoch is being agreed, a learner that has seen more than we have must
            // not sync from us (later ones are simply truncated).
            if leader.phase == .discovery && theirEpoch != -1 && (theirEpoch > currentEpoch || (theirEpoch == currentEpoch && lastZxid > lastLoggedZxid)) {
                leader.learners[sender] = nil
                role = .leading(leader)
                return
            }
            leader.learners[sender]?.stage = .awaitingSync(lastZxid: lastZxid)
            if theirEpoch != -1 && !configuration.quorum.observers.contains(sender) { leader.epochAcks.insert(sender) }
            role = .leading(leader)
            if leader.phase == .discovery {
                maybeStartSync(now: now)
            } else {
                syncLearner(sender, lastZxid: lastZxid)
            }
        case .ack:
            preconditionFailure("ACK from server.\(sender) handled above")
        case .ping(let round, _):
            if let echoed = leader.learners[sender]?.pingEcho, round > echoed {
                leader.learners[sender]?.pingEcho = round
                role = .leading(leader)
                completeLeaderSyncs()
            }
        case .syncRequest(let requestId, _):
            guard leader.phase == .broadcast, leader.learners[sender]?.receivesProposals == true else { return }
            leaderStartSync(origin: sender, requestId: requestId)
        default:
            break
        }
    }

    /// With a quorum of voters connected, the new epoch is one past the highest accepted one.
    mutating func maybeEstablishEpoch(now: Int64) {
        guard case .leading(var leader) = role, leader.newEpoch == nil,
            configuration.quorum.isQuorum(leader.acceptedEpochs.keys)
        else { return }
        let epoch = (leader.acceptedEpochs.values.max() ?? acceptedEpoch) + 1
        leader.newEpoch = epoch
        acceptedEpoch = epoch
        role = .leading(leader)
        actions.append(.persistAcceptedEpoch(epoch))
        for id in leader.learners.keys.sorted() {
            actions.append(send(.leaderInfo(newEpoch: epoch), to: id))
        }
    }

    /// With a quorum of voters' ACKEPOCH (ours included), the epoch becomes current and every
    /// learner that answered is synced.
    mutating func maybeStartSync(now: Int64) {
        guard case .leading(var leader) = role, leader.phase == .discovery, let epoch = leader.newEpoch,
            configuration.quorum.isQuorum(leader.epochAcks.union([me]))
        else { return }
        leader.phase = .synchronization
        currentEpoch = epoch
        role = .leading(leader)
        actions.append(.persistCurrentEpoch(epoch))
        for (id, learner) in leader.learners.sorted(by: { $0.key < $1.key }) {
            if case .awaitingSync(let lastZxid) = learner.stage { syncLearner(id, lastZxid: lastZxid) }
        }
        maybeFinishSync(now: now)
    }

    /// Syncs a learner from the last point it shares with our committed history: DIFF when
    /// that is its last zxid, TRUNC back to it when the learner holds more (txns we have not
    /// committed yet, which it gets again as proposals, or txns we never had), SNAP when its
    /// log is older than ours or a TRUNC would cross an epoch it never shared with us.
    mutating func syncLearner(_ id: ServerID, lastZxid: Zxid) {
        guard case .leading(var leader) = role, let epoch = leader.newEpoch else { return }
        // ACKs from the learner's previous connection no longer count: a TRUNC may take those
        // txns away, and it acknowledges them again once it has them back.
        for zxid in leader.proposalAcks.keys { leader.proposalAcks[zxid]?.remove(id) }
        if lastZxid >= baseZxid, let common = commonPoint(lastZxid) {
            let from = min(common, committedZxid)
            actions.append(send(from == lastZxid ? .diff(zxid: committedZxid) : .trunc(zxid: from), to: id))
            sendHistory(after: from, to: id)
        } else if configuration.diffFromLogEnabled, lastZxid < baseZxid {
            leader.learners[id]?.stage = .awaitingLog(lastZxid: lastZxid)
            role = .leading(leader)
            actions.append(.readLogForLearner(id, after: lastZxid))
            return
        } else {
            leader.learners[id]?.stage = .awaitingSnapshot
            role = .leading(leader)
            actions.append(.takeSnapshotForLearner(id))
            return
        }
        sendNewLeader(to: id, epoch: epoch, leader)
    }

    /// The sync data went out: NEWLEADER follows, and what the learner is sent from now on
    /// waits in `held` until its UPTODATE.
    mutating func sendNewLeader(to id: ServerID, epoch: Int64, _ leader: LeaderState) {
        var leader = leader
        leader.learners[id]?.stage = .syncing
        leader.learners[id]?.held = []
        role = .leading(leader)
        actions.append(send(.newLeader(zxid: ZxidLayout.make(epoch: epoch, counter: 0)), to: id))
    }

    /// The greatest zxid we hold that is ≤ `zxid`, or nil when the learner went past it into
    /// an epoch we did not see that far (a TRUNC may not cross an epoch boundary).
    func commonPoint(_ zxid: Zxid) -> Zxid? {
        let index = logIndex(after: zxid)
        let common = index > 0 ? log[index - 1].zxid : baseZxid
        if common != zxid && ZxidLayout.epoch(of: common) != ZxidLayout.epoch(of: zxid) { return nil }
        return common
    }

    /// Every txn we logged after `zxid`: committed ones with their COMMIT, the rest as
    /// proposals whose commits follow in broadcast.
    mutating func sendHistory(after zxid: Zxid, to id: ServerID) {
        for txn in log[logIndex(after: zxid)...] {
            actions.append(send(.proposal(txn), to: id))
            if txn.zxid <= committedZxid { actions.append(send(.commit(zxid: txn.zxid), to: id)) }
        }
    }

    /// The shell's answer to `readLogForLearner`: the txns of its on-disk log from the last
    /// one at or before the learner's zxid on. They must reach the in-memory window (a log
    /// still being written may not have it yet) and share an epoch with the learner's zxid
    /// where they part (a TRUNC may not cross an epoch); otherwise the learner gets SNAP.
    public mutating func logRead(for id: ServerID, txns: [Txn]?, now: Int64) -> [PeerAction] {
        actions = []
        guard case .leading(var leader) = role, let epoch = leader.newEpoch, case .awaitingLog(let lastZxid)? = leader.learners[id]?.stage
        else { return [] }
        func snap() -> [PeerAction] {
            leader.learners[id]?.stage = .awaitingSnapshot
            role = .leading(leader)
            actions.append(.takeSnapshotForLearner(id))
            return take()
        }
        guard let txns, let first = txns.first, first.zxid <= lastZxid, let last = txns.last, last.zxid >= baseZxid,
            lastZxid < baseZxid
        else { return snap() }
        let common = txns.last { $0.zxid <= lastZxid }!.zxid
        if common != lastZxid && ZxidLayout.epoch(of: common) != ZxidLayout.epoch(of: lastZxid) { return snap() }
        actions.append(send(common == lastZxid ? .diff(zxid: committedZxid) : .trunc(zxid: common), to: id))
        // Below the window every txn is committed.
        for txn in txns where txn.zxid > common && txn.zxid <= baseZxid {
            actions.append(send(.proposal(txn), to: id))
            actions.append(send(.commit(zxid: txn.zxid), to: id))
        }
        sendHistory(after: baseZxid, to: id)
        sendNewLeader(to: id, epoch: epoch, leader)
        return take()
    }

    /// The shell's answer to `takeSnapshotForLearner`: the state machine as of `zxid`.
    public mutating func snapshotReady(for id: ServerID, zxid: Zxid, snapshot: SyncSnapshot, now: Int64) -> [PeerAction] {
        actions = []
        guard case .leading(var leader) = role, let epoch = leader.newEpoch, case .awaitingSnapshot? = leader.learners[id]?.stage else { return [] }
        precondition(zxid <= lastLoggedZxid, "snapshot at 0x\(String(zxid, radix: 16)) is past the log's end 0x\(String(lastLoggedZxid, radix: 16))")
        actions.append(send(.snap(zxid: zxid, snapshot: snapshot), to: id))
        sendHistory(after: zxid, to: id)
        sendNewLeader(to: id, epoch: epoch, leader)
        return take()
    }

    mutating func leaderAck(_ zxid: Zxid, from sender: ServerID, now: Int64) {
        guard let epoch = leaderNewEpoch else { return }
        if zxid == ZxidLayout.make(epoch: epoch, counter: 0) { return leaderNewLeaderAck(from: sender, now: now) }
        guard !configuration.quorum.observers.contains(sender) else { return }
        // No copy of the state may be alive here: commitReady changes it, and a copy still
        // held (a `guard case .leading(var leader)` binding outlives `consume`) made each
        // ACK copy the table of every proposal's acks.
        var counted = false
        withLeader { leader in
            guard leader.proposalAcks[zxid] != nil else { return }
            leader.proposalAcks[zxid]!.insert(sender)
            counted = true
        }
        if counted { commitReady(now: now) }
    }

    var leaderNewEpoch: Int64? {
        guard case .leading(let leader) = role else { return nil }
        return leader.newEpoch
    }

    /// The ACK of NEWLEADER: the learner is synced.
    mutating func leaderNewLeaderAck(from sender: ServerID, now: Int64) {
        guard case .leading(var leader) = role else { return }
        guard case .syncing? = leader.learners[sender]?.stage else { return }
        leader.learners[sender]?.stage = .synced
        if !configuration.quorum.observers.contains(sender) { leader.newLeaderAcks.insert(sender) }
        if leader.phase == .broadcast { sendUpToDate(sender, &leader) }
        role = .leading(leader)
        if leader.phase != .broadcast {
            maybeFinishSync(now: now)
        }
    }

    /// A quorum acknowledged NEWLEADER (we count once our own log is durable): serve.
    mutating func maybeFinishSync(now: Int64) {
        guard case .leading(var leader) = role, leader.phase == .synchronization, persistedZxid >= lastLoggedZxid,
            configuration.quorum.isQuorum(leader.newLeaderAcks.union([me]))
        else { return }
        leader.phase = .broadcast
        // Everything we logged is now on a quorum: it is committed.
        let uncommitted = log[logIndex(after: committedZxid)...]
        for txn in uncommitted { commitAndAnnounce(txn, to: &leader) }
        // UPTODATE goes out after the commits were decided: they wait in `held` and follow it.
        for id in leader.newLeaderAcks.sorted() { sendUpToDate(id, &leader) }
        for (id, learner) in leader.learners.sorted(by: { $0.key < $1.key }) where learner.observer {
            if case .synced = learner.stage { sendUpToDate(id, &leader) }
        }
        role = .leading(leader)
        actions.append(.roleChanged(.leading, leader: me, epoch: currentEpoch))
    }

    mutating func leaderPersisted(now: Int64) {
        guard case .leading(let leader) = role else { return }
        if leader.phase == .synchronization { maybeFinishSync(now: now) }
        commitReady(now: now)
    }

    /// Commits, in zxid order, every proposal a quorum (us included, once durable) acknowledged.
    mutating func commitReady(now: Int64) {
        guard state == .leading, phase == .broadcast, var leader = takeLeader() else { return }
        while case let index = logIndex(after: committedZxid), index < log.count {
            let next = log[index]
            guard let acks = leader.proposalAcks[next.zxid] else { break }
            let voters = persistedZxid >= next.zxid ? acks.union([me]) : acks
            guard configuration.quorum.isQuorum(voters) || configuration.injectedBug == .commitWithoutQuorum else { break }
            leader.proposalAcks[next.zxid] = nil
            commitAndAnnounce(next, to: &leader)
        }
        role = .leading(leader)
        compactLog()
        completeLeaderSyncs()
    }

    /// Commits locally and tells every learner that receives proposals: COMMIT to
    /// followers, INFORM (with the txn) to observers.
    mutating func commitAndAnnounce(_ txn: Txn, to leader: inout LeaderState) {
        commit(txn)
        quorumCommittedZxid = txn.zxid
        for (id, learner) in leader.learners.sorted(by: { $0.key < $1.key }) where learner.receivesProposals {
            sendToLearner(learner.observer ? .inform(txn) : .commit(zxid: txn.zxid), id, &leader)
        }
    }

    /// Sends to a learner now, or after its UPTODATE while it is between NEWLEADER and UPTODATE.
    mutating func sendToLearner(_ message: PeerMessage, _ id: ServerID, _ leader: inout LeaderState) {
        if leader.learners[id]?.held != nil {
            leader.learners[id]!.held!.append(message)
        } else {
            actions.append(send(message, to: id))
        }
    }

    mutating func sendUpToDate(_ id: ServerID, _ leader: inout LeaderState) {
        actions.append(send(.upToDate, to: id))
        for message in leader.learners[id]?.held ?? [] { actions.append(send(message, to: id)) }
        leader.learners[id]?.held = nil
    }

    mutating func commit(_ txn: Txn) {
        precondition(txn.zxid > committedZxid, "commit of 0x\(String(txn.zxid, radix: 16)) after 0x\(String(committedZxid, radix: 16))")
        committedZxid = txn.zxid
        actions.append(.apply(txn))
    }

    mutating func leaderTick(now: Int64) {
        guard case .leading(var leader) = role else { return }
        if leader.phase != .broadcast {
            if now >= leader.deadlineMs { return startLooking(now: now) }
            return
        }
        // Followers silent for syncLimit ticks no longer count; without a quorum, abdicate.
        let limit = configuration.syncLimit * configuration.tickTimeMs
        let alive = leader.learners.filter { !$0.value.observer && $0.value.receivesProposals && now - $0.value.lastHeardMs <= limit }
        if !configuration.quorum.isQuorum(Set(alive.keys).union([me])) {
            actions.append(.notice("not sufficient followers synced (\(alive.keys.sorted().map { "server.\($0)" }.joined(separator: ", "))): leaving leadership"))
            return startLooking(now: now)
        }
        // A synced learner silent for syncLimit ticks is dropped, as ZooKeeper's
        // LearnerHandler drops it: it would otherwise be sent every proposal for ever.
        for id in leader.learners.keys.sorted() {
            guard case .synced = leader.learners[id]!.stage, now - leader.learners[id]!.lastHeardMs > limit else { continue }
            leader.learners[id] = nil
            for zxid in leader.proposalAcks.keys { leader.proposalAcks[zxid]?.remove(id) }
            actions.append(.notice("dropping server.\(id): silent for more than syncLimit (\(limit) ms)"))
            actions.append(.closeConnection(to: id))
        }
        role = .leading(leader)
        if now >= leader.nextPingMs {
            leader.nextPingMs = now + configuration.tickTimeMs / 2
            role = .leading(leader)
            leader.pingRound += 1
            role = .leading(leader)
            for id in leader.pingedLearners { actions.append(send(.ping(zxid: leader.pingRound), to: id)) }
        }
    }
}
