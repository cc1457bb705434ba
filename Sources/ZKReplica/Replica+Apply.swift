import ZKDataTree
import ZKModel
import ZKWire

extension Replica {
    /// Applies one durable txn: the tree changes, watches fire (notifications go out before
    /// the reply), session effects happen, and the origin connection's queue moves on.
    mutating func applyCommitted(_ txn: Txn, origin: ConnectionID?, now: ReplicaTime) {
        var triggers: [WatchTrigger] = []
        let outcome = tree.apply(txn, triggers: &triggers)
        pending.removeApplied(upTo: txn.zxid)
        digests.removeApplied(upTo: txn.zxid)
        // ZooKeeper's learners compare too, and count what differs (`digest_mismatches_count`).
        if let expected = txn.digest, expected != tree.digest {
            stats.digestMismatches += 1
            metrics.count(.digestMismatchesCount)
        }
        if peer?.state == .leading { metrics.count(.commitCount) }
        observeTxnLatencies(txn, now: now)
        if appliedRecord != nil {
            let record = AppliedRecord.txn(txn, digest: tree.digest, byServingLeader: peer != nil && isServingLeader)
            appliedRecord?.append(record)
        }
        if txn.zxid % Self.digestHistoryInterval == 0 {
            digestHistory.append((txn.zxid, tree.digest))
            if digestHistory.count > Self.digestHistoryMax { digestHistory.removeFirst() }
        }
        for trigger in triggers { deliver(trigger, zxid: txn.zxid) }
        switch txn.body {
        case .createSession(let timeoutMs):
            sessions.add(txn.header.clientId, timeoutMs: timeoutMs, now: now.elapsedMs)
            if !upgradingSessions.isEmpty { upgradeApplied(txn.header.clientId) }
            if !sessionsBeingCreated.isEmpty { sessionsBeingCreated.remove(txn.header.clientId) }
            if let origin, case .awaitingSession(let sessionId)? = connections[origin]?.phase, sessionId == txn.header.clientId {
                sessions.bind(sessionId, to: origin)
                establish(origin, sessionId: sessionId, timeoutMs: timeoutMs, passwd: SessionTable.password(for: sessionId), now: now)
            }
            return
        case .closeSession:
            let sessionId = txn.header.clientId
            log(.info, "session closed", ["sessionId": "0x\(hex(sessionId))", "zxid": "0x\(hex(txn.zxid))"])
            let bound = sessions.sessions[sessionId]?.connection
            sessions.remove(sessionId)
            sessionOwners[sessionId] = nil
            if let bound, bound != origin { close(bound) }
        default:
            break
        }
        // The queue is changed in place: a copy of the connection would copy its queue.
        guard let origin, let (index, entry) = connections.peek(origin, { connection -> (Int, PendingRequest)? in
            let index = connection.queue.firstIndex {
                switch $0.state {
                case .awaitingCommit(let zxid): return zxid == txn.zxid
                case .forwarded: return $0.xid == txn.header.cxid
                default: return false
                }
            }
            return index.map { ($0, connection.queue[$0]) }
        }) ?? nil else { return }
        let header = ReplyHeader(xid: entry.xid, zxid: txn.zxid, err: replyError(outcome, opCode: entry.opCode).rawValue)
        let response = replyBody(outcome, opCode: entry.opCode, multiOpCodes: entry.multiOpCodes)
        connections.peek(origin) { $0.queue[index].state = .done(header, response, closeAfter: entry.opCode == .closeSession) }
        drain(origin, now: now)
    }

    func replyError(_ outcome: OpOutcome, opCode: OpCode) -> ErrorCode {
        // A multi reports per-op codes in its body; its header says 0 unless it never got that far.
        if case .multi = outcome { return .ok }
        return outcome.error
    }

    func replyBody(_ outcome: OpOutcome, opCode: OpCode, multiOpCodes: [OpCode]) -> Response {
        switch outcome {
        case .created(let path, let stat):
            return opCode == .create ? .create(path: path) : .create2(path: path, stat: stat)
        case .updated(let stat):
            return .stat(stat)
        case .multi(let outcomes):
            return .multi(zip(outcomes, multiOpCodes).map { outcome, opCode in multiResult(outcome, opCode: opCode) })
        default:
            return .none
        }
    }

    func multiResult(_ outcome: OpOutcome, opCode: OpCode) -> MultiResult {
        switch outcome {
        case .created(let path, let stat):
            return opCode == .create ? .create(path: path) : .create2(path: path, stat: stat)
        case .deleted: return .delete
        case .updated(let stat): return .setData(stat)
        case .checked: return .check
        case .failed(let code): return .error(code)
        default: return .error(.runtimeInconsistency)
        }
    }

    /// ZooKeeper's latencies of an applied txn, from the wall-clock time its leader stamped
    /// in its header (so clock skew between members shows; negative ones are dropped, as
    /// ZooKeeper drops them): every member's `propagation_latency`, the leader's
    /// `quorum_ack_latency`, a learner's `commit_propagation_latency`.
    mutating func observeTxnLatencies(_ txn: Txn, now: ReplicaTime) {
        let latency = now.wallMs - txn.header.time
        guard latency >= 0, isServing else { return }
        metrics.observe(.propagationLatency, latency)
        guard let peer else { return }
        metrics.observe(peer.state == .leading ? .quorumAckLatency : .commitPropagationLatency, latency)
    }

    /// ZooKeeper's summaries of watchers fired per event, by event type.
    static let watchCountSummary: [EventType: MetricSummaryName] = [
        .nodeCreated: .nodeCreatedWatchCount, .nodeDeleted: .nodeDeletedWatchCount,
        .nodeDataChanged: .nodeChangedWatchCount, .nodeChildrenChanged: .nodeChildrenWatchCount,
    ]

    /// Sends a notification to every watcher the trigger fires, if it may read the node.
    mutating func deliver(_ trigger: WatchTrigger, zxid: Zxid) {
        let watchers = watches.fire(trigger)
        if let summary = Self.watchCountSummary[trigger.type], !watchers.isEmpty {
            metrics.observe(summary, Int64(watchers.count))
        }
        for watcher in watchers {
            guard let ids = connections[watcher]?.ids, connections[watcher]?.phase.isClosed == false else { continue }
            guard ACLRules.allows(trigger.acl, .read, ids: ids, skipACL: configuration.skipACL) else { continue }
            let event = WatchedEvent(type: trigger.type, path: trigger.path)
            metrics.count(.watchBytes, by: Int64(EncodedSize.notification(event)))
            send(.sendNotification(watcher, event, zxid: zxid))
            stats.packetsSent += 1
        }
    }
}

/// What changed the state machine, as the simulator's checkers see it.
public enum AppliedRecord: Sendable {
    /// A committed txn, with the tree digest right after it; a serving leader applies only
    /// what a quorum logged.
    case txn(Txn, digest: UInt64, byServingLeader: Bool)
    /// The state was replaced (SNAP sync, or reloaded after TRUNC) and is now at `zxid`.
    case stateReplaced(zxid: Zxid)
}
