import ZKModel

/// A `sync` waiting at the leader: done once a quorum answered a ping round started after it
/// arrived (so no newer leader can exist) and everything logged before it is committed.
struct PendingLeaderSync: Sendable {
    var origin: ServerID
    var requestId: UInt64
    var zxid: Zxid
    var pingRound: Int64
}

extension Peer {
    /// A client asks this member to `sync`. Only a serving member can; a stale leader that
    /// has lost its quorum never answers, so a read after `sync` is never stale.
    public mutating func sync(_ requestId: UInt64, now: Int64) -> [PeerAction] {
        actions = []
        switch role {
        case .leading(let leader) where leader.phase == .broadcast:
            leaderStartSync(origin: me, requestId: requestId)
        case .learning where configuration.injectedBug == .syncWithoutLeader:
            actions.append(.syncDone(requestId: requestId, zxid: committedZxid))
        case .learning(var learner) where learner.phase == .broadcast:
            learner.pendingSyncs[requestId] = nil as Zxid?
            role = .learning(learner)
            actions.append(send(.syncRequest(requestId: requestId), to: learner.leader))
        default:
            actions.append(.syncFailed(requestId: requestId))
        }
        return take()
    }

    mutating func leaderStartSync(origin: ServerID, requestId: UInt64) {
        guard case .leading(var leader) = role else { return }
        leader.pingRound += 1
        leader.pendingSyncs.append(PendingLeaderSync(origin: origin, requestId: requestId, zxid: lastLoggedZxid, pingRound: leader.pingRound))
        role = .leading(leader)
        for id in leader.pingedLearners { actions.append(send(.ping(zxid: leader.pingRound), to: id)) }
        completeLeaderSyncs()
    }

    /// Answers every pending `sync` whose ping round a quorum echoed and whose txns are committed.
    mutating func completeLeaderSyncs() {
        guard case .leading(var leader) = role, !leader.pendingSyncs.isEmpty else { return }
        var waiting: [PendingLeaderSync] = []
        for pending in leader.pendingSyncs {
            let confirmed = leader.learners.filter { !$0.value.observer && $0.value.pingEcho >= pending.pingRound }.keys
            guard configuration.quorum.isQuorum(Set(confirmed).union([me])), committedZxid >= pending.zxid else {
                waiting.append(pending)
                continue
            }
            if pending.origin == me {
                actions.append(.syncDone(requestId: pending.requestId, zxid: pending.zxid))
            } else if leader.learners[pending.origin] != nil {
                actions.append(send(.syncReply(requestId: pending.requestId, zxid: pending.zxid), to: pending.origin))
            }
        }
        leader.pendingSyncs = waiting
        role = .leading(leader)
    }

    /// A learner answers its client's `sync` once it has applied what the leader named.
    mutating func completeLearnerSyncs() {
        guard case .learning(var learner) = role else { return }
        for (requestId, zxid) in learner.pendingSyncs.sorted(by: { $0.key < $1.key }) {
            guard let zxid, committedZxid >= zxid else { continue }
            learner.pendingSyncs[requestId] = nil
            actions.append(.syncDone(requestId: requestId, zxid: zxid))
        }
        role = .learning(learner)
    }

    /// Leaving a role fails the `sync`s this member still owes its own clients.
    mutating func failPendingSyncs() {
        switch role {
        case .looking: break
        case .leading(let leader):
            for pending in leader.pendingSyncs where pending.origin == me { actions.append(.syncFailed(requestId: pending.requestId)) }
        case .learning(let learner):
            for requestId in learner.pendingSyncs.keys.sorted() { actions.append(.syncFailed(requestId: requestId)) }
        case .detached: preconditionFailure("peer role read while its state is taken out")
        }
    }
}
