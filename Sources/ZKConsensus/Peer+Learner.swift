import ZKModel

public struct LearnerState: Sendable {
    public var leader: ServerID
    public var phase: ZabPhase = .discovery
    public internal(set) var newEpoch: Int64?
    var lastHeardMs: Int64
    /// Resend FOLLOWERINFO until the leader answers (it may still be finishing its election).
    var resendInfoAtMs: Int64
    /// NEWLEADER arrived; ACK once every txn received so far is durable.
    var newLeaderPending = false
    /// Proposals waiting for their ACK until they are durable.
    var unacked: [Zxid] = []
    /// Client `sync`s forwarded to the leader: nil until its SYNC names the zxid to reach.
    var pendingSyncs: [UInt64: Zxid?] = [:]
}

extension Peer {
    mutating func becomeLearner(of leader: ServerID, now: Int64) {
        let state = LearnerState(leader: leader, lastHeardMs: now, resendInfoAtMs: now + configuration.tickTimeMs)
        role = .learning(state)
        actions.append(.roleChanged(self.state, leader: leader, epoch: currentEpoch))
        actions.append(send(.learnerInfo(acceptedEpoch: acceptedEpoch, observer: configuration.isObserver), to: leader))
    }

    mutating func learnerReceive(_ message: PeerMessage, from sender: ServerID, now: Int64) {
        guard case .learning(var learner) = role else { return }
        if case .notification = message { return answerLookingPeer(message, from: sender) }
        guard sender == learner.leader else { return }
        learner.lastHeardMs = now
        role = .learning(learner)
        switch message {
        case .leaderInfo(let epoch):
            guard learner.newEpoch == nil else { return }
            // A voter never goes back on a promised epoch. An observer's promise counts in no
            // quorum: it follows the epoch the leader runs, even one below an epoch it had
            // accepted from a leader that never established it (else it would wait for the
            // next election; found by the simulator).
            if epoch < acceptedEpoch && !configuration.isObserver {
                actions.append(.notice("leaving server.\(sender): its epoch \(epoch) is below the epoch \(acceptedEpoch) this member accepted"))
                return startLooking(now: now)
            }
            learner.newEpoch = epoch
            learner.phase = .synchronization
            role = .learning(learner)
            if epoch != acceptedEpoch {
                acceptedEpoch = epoch
                actions.append(.persistAcceptedEpoch(epoch))
                actions.append(send(.ackEpoch(lastLoggedZxid: lastLoggedZxid, currentEpoch: currentEpoch), to: sender))
            } else {
                actions.append(send(.ackEpoch(lastLoggedZxid: lastLoggedZxid, currentEpoch: -1), to: sender))
            }
        case .diff:
            break
        case .trunc(let zxid):
            // Below our snapshot only a SNAP could help; a leader never asks for that.
            guard zxid >= baseZxid else {
                actions.append(.notice("leaving server.\(sender): TRUNC to 0x\(String(zxid, radix: 16)) is below this member's retained history"))
                return startLooking(now: now)
            }
            while let last = log.last, last.zxid > zxid { log.removeLast() }
            learner.unacked.removeAll { $0 > zxid }
            role = .learning(learner)
            persistedZxid = min(persistedZxid, lastLoggedZxid)
            // The shell cuts its log and reloads the state machine from what remains.
            committedZxid = min(committedZxid, lastLoggedZxid)
            actions.append(.truncateLog(to: zxid))
        case .snap(let zxid, let snapshot):
            log.removeAll()
            learner.unacked.removeAll()
            role = .learning(learner)
            baseZxid = zxid
            persistedZxid = zxid
            committedZxid = zxid
            actions.append(.installSnapshot(zxid: zxid, snapshot))
        case .proposal(let txn):
            learnerAppend(txn, now: now)
        case .commit(let zxid):
            learnerCommit(upTo: zxid)
        case .inform(let txn):
            guard configuration.isObserver else { return }
            if txn.zxid > lastLoggedZxid { learnerAppend(txn, now: now) }
            learnerCommit(upTo: txn.zxid)
        case .newLeader:
            learner.newLeaderPending = true
            role = .learning(learner)
            learnerPersisted(now: now)
        case .upToDate:
            guard learner.phase == .synchronization, !learner.newLeaderPending else { return }
            learner.phase = .broadcast
            role = .learning(learner)
            actions.append(.roleChanged(state, leader: learner.leader, epoch: currentEpoch))
        case .ping(let zxid, _):
            actions.append(send(.ping(zxid: zxid), to: sender))
        case .syncReply(let requestId, let zxid):
            guard learner.pendingSyncs[requestId] != nil else { return }
            learner.pendingSyncs[requestId] = zxid
            role = .learning(learner)
            completeLearnerSyncs()
        default:
            break
        }
    }

    /// Proposals must follow the log without a gap inside an epoch (ZOOKEEPER-4925).
    mutating func learnerAppend(_ txn: Txn, now: Int64) {
        guard state != .looking, leaderId != me else { return }
        let last = lastLoggedZxid
        guard txn.zxid > last else { return }
        if ZxidLayout.epoch(of: txn.zxid) == ZxidLayout.epoch(of: last) && txn.zxid != last + 1 {
            actions.append(.notice("leaving the leader: proposal 0x\(String(txn.zxid, radix: 16)) does not follow 0x\(String(last, radix: 16))"))
            return startLooking(now: now)
        }
        log.append(txn)
        actions.append(.persistTxns([txn]))
        if !configuration.isObserver, var learner = takeLearner() {
            learner.unacked.append(txn.zxid)
            role = .learning(learner)
        }
    }

    mutating func learnerCommit(upTo zxid: Zxid) {
        for txn in log[logIndex(after: committedZxid)...] {
            if txn.zxid > zxid { break }
            commit(txn)
        }
        quorumCommittedZxid = max(quorumCommittedZxid, min(zxid, committedZxid))
        compactLog()
        completeLearnerSyncs()
    }

    mutating func learnerPersisted(now: Int64) {
        guard var learner = takeLearner() else { return }
        // ACK NEWLEADER only once everything received during sync is on disk, and only after
        // the new epoch is current (ZooKeeper 3.9.3+'s order).
        if learner.newLeaderPending, persistedZxid >= lastLoggedZxid, let epoch = learner.newEpoch {
            learner.newLeaderPending = false
            if epoch > currentEpoch {
                currentEpoch = epoch
                actions.append(.persistCurrentEpoch(epoch))
            }
            // Observers acknowledge NEWLEADER too; they never acknowledge proposals.
            actions.append(send(.ack(zxid: ZxidLayout.make(epoch: epoch, counter: 0)), to: learner.leader))
        }
        // Proposals are acknowledged once durable, but only under the new epoch: an ACK from a
        // member whose currentEpoch is older could count towards a commit that a later
        // election, ranking that member by its old epoch, would not preserve.
        if let epoch = learner.newEpoch, currentEpoch == epoch, !learner.newLeaderPending {
            let durable = learner.unacked.prefix { $0 <= persistedZxid }
            learner.unacked.removeFirst(durable.count)
            for zxid in durable { actions.append(send(.ack(zxid: zxid), to: learner.leader)) }
        }
        role = .learning(learner)
        compactLog()
    }

    mutating func learnerTick(now: Int64) {
        guard case .learning(var learner) = role else { return }
        let limit = (learner.phase == .broadcast ? configuration.syncLimit : configuration.initLimit) * configuration.tickTimeMs
        if now - learner.lastHeardMs > limit {
            actions.append(.notice("leaving server.\(learner.leader): nothing heard for \(limit) ms"))
            return startLooking(now: now)
        }
        if learner.newEpoch == nil && now >= learner.resendInfoAtMs {
            learner.resendInfoAtMs = now + configuration.tickTimeMs
            role = .learning(learner)
            actions.append(send(.learnerInfo(acceptedEpoch: acceptedEpoch, observer: configuration.isObserver), to: learner.leader))
        }
    }
}
