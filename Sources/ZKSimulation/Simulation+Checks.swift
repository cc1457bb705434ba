import ZKConsensus
import ZKDataTree
import ZKModel
import ZKReplica

extension Simulation {
    /// Every txn a member applied: the same zxid is always the same txn with the same tree
    /// digest after it, and zxids rise on each member.
    mutating func checkApplied(at id: ServerID) {
        guard let records = nodes[id]!.replica.appliedRecord, !records.isEmpty else { return }
        nodes[id]!.replica.appliedRecord = []
        for record in records {
            guard violation == nil else { return }
            switch record {
            case .stateReplaced(let zxid):
                lastApplied[id] = zxid
            case .txn(let txn, let digest, let byServingLeader):
                if let known = committed[txn.zxid], known != txn {
                    violation = "node \(id) applied a different txn at zxid 0x\(String(txn.zxid, radix: 16))"
                    return
                }
                if txn.zxid <= lastApplied[id, default: 0] {
                    violation = "node \(id) applied zxid 0x\(String(txn.zxid, radix: 16)) after 0x\(String(lastApplied[id, default: 0], radix: 16))"
                    return
                }
                committed[txn.zxid] = txn
                lastApplied[id] = txn.zxid
                if byServingLeader { acknowledged[txn.zxid] = txn }
                if let known = digestAt[txn.zxid], known != digest {
                    violation = "node \(id) has tree digest \(String(digest, radix: 16)) at zxid 0x\(String(txn.zxid, radix: 16)), another member had \(String(known, radix: 16))"
                    return
                }
                digestAt[txn.zxid] = digest
                // The digest the leader projected when it prepared the txn is what applying
                // it gives (ZooKeeper's learners check the same).
                if let projected = txn.digest, projected != digest {
                    violation = "node \(id) reached tree digest \(String(digest, radix: 16)) at zxid 0x\(String(txn.zxid, radix: 16)), its PROPOSAL said \(String(projected, radix: 16))"
                    return
                }
                if byServingLeader, case .closeSession = txn.body {
                    endedSessions.insert(txn.header.clientId)
                    // The leader's expiry closes with cxid 0; a client's close carries its xid.
                    if txn.header.cxid == 0 {
                        expiredSessions += 1
                        trace.add("\(now) node \(id) expired session \(String(UInt64(bitPattern: txn.header.clientId), radix: 16))")
                        // Once healed, every client keeps its session alive (pauses end a
                        // session timeout before the fault phase does), through the leader
                        // change healing may bring: only sessions no client holds may expire.
                        if healed && clients.contains(where: { $0.session == txn.header.clientId }) {
                            violation = "session 0x\(String(UInt64(bitPattern: txn.header.clientId), radix: 16)) expired in the healed phase, though its client kept it alive"
                            return
                        }
                    }
                }
            }
        }
    }

    /// At most one member is the established leader of an epoch.
    mutating func checkLeadership(at id: ServerID) {
        let peer = nodes[id]!.peer
        guard violation == nil, peer.state == .leading, peer.phase == .broadcast else { return }
        if let other = leaderOfEpoch[peer.currentEpoch], other != id {
            violation = "two established leaders in epoch \(peer.currentEpoch): \(other) and \(id)"
            return
        }
        leaderOfEpoch[peer.currentEpoch] = id
    }

    /// A voter holds `zxid` on disk: in its log, or under its snapshot.
    func isDurableOnQuorum(_ zxid: Zxid) -> Bool {
        let holders = quorum.voters.filter { nodes[$0]!.disk.holdsDurably(zxid) }
        return quorum.isQuorum(holders)
    }

    /// After the healed phase: one serving leader; every member at the same zxid, digest and
    /// sessions; multis all or nothing; ephemerals only of live sessions; every client
    /// served again with nothing left waiting; and the history linearizable.
    mutating func checkLiveness() {
        let members = nodes.keys.sorted().filter { !leftDown.contains($0) }
        guard let leader = members.first(where: { nodes[$0]!.peer.state == .leading && nodes[$0]!.peer.phase == .broadcast }) else {
            violation = "no leader serving at the end of the liveness phase"
            return
        }
        if let problem = acknowledgedProblem(on: leader) {
            violation = problem
            return
        }
        let zxids = Set(members.map { nodes[$0]!.peer.committedZxid })
        let digests = Set(members.map { nodes[$0]!.tree.digest })
        if zxids.count != 1 || digests.count != 1 {
            violation = "members did not converge: zxids \(zxids.sorted().map { String($0, radix: 16) }), \(digests.count) digests"
            return
        }
        let finalTree = nodes[members[0]]!.tree
        // Multis were all or nothing: "/m<n>a" exists exactly when it was created with "/m<n>b".
        for path in finalTree.nodes.keys where path.hasPrefix("/m") && path.hasSuffix("a") {
            let partner = String(path.dropLast()) + "b"
            guard let created = finalTree.node(path)?.czxid, finalTree.node(partner)?.czxid == created else {
                violation = "multi half applied: \(path) exists without \(partner) from the same txn"
                return
            }
        }
        // The leader's housekeeping ran: emptied containers are gone, and TTL nodes idle for
        // their TTL by the leader's clock (clocks differ between members, as ZooKeeper's do).
        let leaderClock = members.first { nodes[$0]!.peer.state == .leading }.map { clock($0).wallMs } ?? 0
        let leftover = finalTree.nodes.keys.sorted().first { path in
            guard let node = finalTree.node(path) else { return false }
            return path.hasPrefix("/c") || (path.hasPrefix("/t") && leaderClock - node.mtime > 300 + 2 * 1_000)
        }
        if let leftover {
            violation = "\(leftover) outlived the leader's container and TTL cleanup"
            return
        }
        if let problem = sessionProblem(members) {
            violation = problem
            return
        }
        // Every client got back in: answered lately, and no request left waiting for long.
        for (index, client) in clients.enumerated() {
            let stuck = client.calls.first.map { now - $0.sentAtMs > 2 * timeoutMs } ?? false
            if stuck || now - client.lastAnsweredMs > Self.servedWithinMs {
                violation = "client \(index) was not served again after healing: last answer at \(client.lastAnsweredMs) ms, "
                    + "\(client.calls.count) requests waiting, \(client.connection == nil ? "not connected" : "connected to \(client.server ?? 0)")"
                return
            }
        }
        // Every path is read at the end; with that, the client history must be linearizable.
        for path in Self.paths {
            let value = finalTree.node(path).flatMap { $0.data }.flatMap { Int(String(decoding: $0, as: UTF8.self)) }
            history.append(HistoryOperation(path: path, kind: .read, outcome: value.map { .value($0) } ?? .noNode, callTime: now + 1, returnTime: now + 2))
        }
        if let problem = LinearizabilityChecker.firstViolation(history) {
            violation = problem
        }
    }

    /// Every txn acknowledged during the run is on the final leader's disk, unchanged:
    /// in its log, or under its snapshot.
    func acknowledgedProblem(on leader: ServerID) -> String? {
        let disk = nodes[leader]!.disk
        let logged = Dictionary(disk.loggedTxns(durableOnly: true).map { ($0.zxid, $0) }, uniquingKeysWith: { first, _ in first })
        let snapshotZxid = disk.snapshots.keys.max() ?? 0
        for (zxid, txn) in acknowledged.sorted(by: { $0.key < $1.key }) {
            if let found = logged[zxid] {
                if found != txn { return "acknowledged txn 0x\(String(zxid, radix: 16)) changed on the final leader \(leader)'s disk" }
            } else if zxid > snapshotZxid {
                return "acknowledged txn 0x\(String(zxid, radix: 16)) is missing from the final leader \(leader)'s disk"
            }
        }
        return nil
    }

    /// Every member holds the same sessions, none of them closed or expired before, and
    /// ephemerals only of those.
    func sessionProblem(_ members: [ServerID]) -> String? {
        if Set(members.map { nodes[$0]!.sessions }).count != 1 { return "members disagree on the live sessions" }
        let sessions = nodes[members[0]]!.sessions
        if let revived = sessions.first(where: { endedSessions.contains($0) }) {
            return "session 0x\(String(UInt64(bitPattern: revived), radix: 16)) is alive after its closeSession was applied"
        }
        for id in members {
            if let (owner, paths) = nodes[id]!.tree.ephemerals.first(where: { !nodes[id]!.sessions.contains($0.key) }) {
                return "node \(id) has ephemerals \(paths.sorted().prefix(3)) of closed session 0x\(String(UInt64(bitPattern: owner), radix: 16))"
            }
        }
        return nil
    }
}
