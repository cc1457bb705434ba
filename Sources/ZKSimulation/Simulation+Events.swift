import ZKConsensus
import ZKDataTree
import ZKModel

extension Simulation {
    mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let message, let link):
            guard link == linkIncarnation[[from, to], default: 0], nodes[to]!.up else { return }
            trace.add("\(now) deliver \(from)->\(to) \(message.packetType)")
            carryOut(nodes[to]!.peer.receive(message, from: from, now: clock(to)), at: to)
        case .connectionLost(let at, let peer):
            guard nodes[at]!.up else { return }
            trace.add("\(now) lost \(at)-\(peer)")
            carryOut(nodes[at]!.peer.connectionLost(to: peer, now: clock(at)), at: at)
        case .synced(let id, let zxid, let generation):
            guard nodes[id]!.up, nodes[id]!.diskGeneration == generation else { return }
            trace.add("\(now) synced \(id) \(zxid)")
            let durable = nodes[id]!.unsynced.prefix { $0.zxid <= zxid }
            nodes[id]!.durableLog += durable
            nodes[id]!.unsynced.removeFirst(durable.count)
            carryOut(nodes[id]!.peer.persisted(upTo: zxid, now: clock(id)), at: id)
        case .tick(let id):
            guard nodes[id]!.up else { return }
            carryOut(nodes[id]!.peer.tick(now: clock(id)), at: id)
            // 50 ms of the node's own clock, which runs a little fast or slow.
            queue.push(.tick(id), at: now + 50_000 / nodes[id]!.clockRatePerMille)
        case .crash:
            guard !healed else { return }
            let up = nodes.keys.sorted().filter { nodes[$0]!.up }
            if let victim = up.randomElement(using: &random) {
                trace.add("\(now) crash \(victim)")
                nodes[victim]!.crash()
                abandonClients(of: victim)
                for other in quorum.members.sorted() where other != victim { breakLink(victim, other) }
                queue.push(.restart(victim), at: now + Int64.random(in: 200...5_000, using: &random))
            }
            queue.push(.crash, at: now + Int64.random(in: 1...(2 * setup.crashEveryMs), using: &random))
        case .restart(let id):
            guard !nodes[id]!.up else { return }
            trace.add("\(now) restart \(id)")
            nodes[id]!.restart(configuration: configuration(for: id), now: clock(id))
            lastApplied[id] = nodes[id]!.tree.lastProcessedZxid
            queue.push(.tick(id), at: now + 1)
        case .partition:
            guard !healed else { return }
            let members = quorum.members.sorted()
            let a = members.randomElement(using: &random)!
            let b = members.filter { $0 != a }.randomElement(using: &random)!
            let oneWay = Bool.random(using: &random)
            trace.add("\(now) partition \(a)->\(b)\(oneWay ? "" : " both ways")")
            blocked.insert([a, b])
            if !oneWay { blocked.insert([b, a]) }
            breakLink(a, b)
            queue.push(.heal, at: now + Int64.random(in: 100...(2 * setup.partitionEveryMs), using: &random))
            queue.push(.partition, at: now + Int64.random(in: 1...(2 * setup.partitionEveryMs), using: &random))
        case .heal:
            trace.add("\(now) heal")
            blocked = []
        case .reset:
            guard !healed else { return }
            let members = quorum.members.sorted()
            let a = members.randomElement(using: &random)!
            let b = members.filter { $0 != a }.randomElement(using: &random)!
            trace.add("\(now) reset \(a)-\(b)")
            breakLink(a, b)
            queue.push(.reset, at: now + Int64.random(in: 1...(2 * setup.resetEveryMs), using: &random))
        case .clog:
            guard !healed else { return }
            let members = quorum.members.sorted()
            let a = members.randomElement(using: &random)!
            let b = members.filter { $0 != a }.randomElement(using: &random)!
            let until = now + Int64.random(in: 100...3_000, using: &random)
            trace.add("\(now) clog \(a)->\(b) until \(until)")
            cloggedUntil[[a, b]] = until
            queue.push(.clog, at: now + Int64.random(in: 1...(2 * setup.clogEveryMs), using: &random))
        case .propose:
            proposeOne()
            // Proposals stop a while into the healed phase, so that everyone can catch up.
            if now < setup.safetyMs + setup.livenessMs / 3 {
                queue.push(.propose, at: now + Int64.random(in: 1...(2 * setup.proposeEveryMs), using: &random))
            }
        }
    }

    /// A TCP connection between `a` and `b` breaks: what was in flight is lost and both ends
    /// find out (a little later).
    mutating func breakLink(_ a: ServerID, _ b: ServerID) {
        for link in [[a, b], [b, a]] {
            linkIncarnation[link, default: 0] += 1
            linkBusyUntil[link] = now
        }
        queue.push(.connectionLost(at: a, peer: b), at: now + 1)
        queue.push(.connectionLost(at: b, peer: a), at: now + 1)
    }

    /// An idle client either reads a path at any serving member after a `sync` there, or
    /// sends a write to the serving leader, which prepares it against its tree and pending
    /// changes as the replica does (failures become error txns) and proposes it.
    mutating func proposeOne() {
        guard let client = clients.indices.filter({ clients[$0] == nil }).randomElement(using: &random) else { return }
        let path = Self.paths.randomElement(using: &random)!
        guard let session = clientSessions[client] else { return openSession(for: client) }
        let choice = Int.random(in: 0..<20, using: &random)
        if choice < 4 {
            let serving = nodes.keys.sorted().filter { nodes[$0]!.up && nodes[$0]!.peer.phase == .broadcast }
            guard let server = serving.randomElement(using: &random) else { return }
            let requestId = nextSyncRequest
            nextSyncRequest += 1
            history.append(HistoryOperation(path: path, kind: .read, outcome: .unknown, callTime: now, returnTime: nil))
            clients[client] = PendingClientOperation(server: server, zxid: nil, requestId: requestId, path: path, historyIndex: history.count - 1)
            trace.add("\(now) sync \(server) client \(client)")
            carryOut(nodes[server]!.peer.sync(requestId, now: clock(server)), at: server)
            return
        }
        let value = Int.random(in: 0..<1000, using: &random)
        let data = Array(String(value).utf8)
        nextName += 1
        switch choice {
        case 4...5:
            // An ephemeral node, removed when its session closes.
            let op = WriteOp.create(opCode: .create, path: "/e\(client)-\(nextName)", data: data, acl: ACL.openACLUnsafe, flags: 1, ttl: -1)
            submitWrite(op, session: session, client: client, path: nil)
        case 6...7:
            // A persistent sequential node: the name comes from the parent's creation count.
            let op = WriteOp.create(opCode: .create2, path: "/s-", data: data, acl: ACL.openACLUnsafe, flags: 2, ttl: -1)
            submitWrite(op, session: session, client: client, path: nil)
        case 8:
            submitWrite(.closeSession, session: session, client: client, path: nil, change: .closes)
        case 9:
            // A multi is all or nothing: both nodes exist at the end, or neither. Its second
            // create fails now and then (no parent), which must undo the first.
            let parent = Bool.random(using: &random) ? "" : "/absent"
            let op = WriteOp.multi([
                .create(opCode: .create, path: "/m\(nextName)a", data: data, acl: ACL.openACLUnsafe, flags: 0, ttl: -1),
                .create(opCode: .create, path: "\(parent)/m\(nextName)b", data: data, acl: ACL.openACLUnsafe, flags: 0, ttl: -1),
            ])
            submitWrite(op, session: session, client: client, path: nil)
        default:
            let (op, kind): (WriteOp, HistoryOperation.Kind)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: (op, kind) = (.create(opCode: .create, path: path, data: data, acl: ACL.openACLUnsafe, flags: 0, ttl: -1), .create(value: value))
            case 1: (op, kind) = (.setData(path: path, data: data, version: -1), .setData(value: value))
            default: (op, kind) = (.delete(path: path, version: -1), .delete)
            }
            submitWrite(op, session: session, client: client, path: path, kind: kind)
        }
    }

    mutating func openSession(for client: Int) {
        let session = nextSessionId
        nextSessionId += 1
        submitWrite(.createSession(timeoutMs: 30_000), session: session, client: client, path: nil, change: .opens(session))
    }

    /// The serving leader prepares the write against its tree and pending changes as the
    /// replica does (failures become error txns) and proposes it.
    mutating func submitWrite(
        _ op: WriteOp, session: SessionID, client: Int, path: String?, kind: HistoryOperation.Kind? = nil, change: SessionChange = .none
    ) {
        guard let leader = nodes.keys.sorted().first(where: { nodes[$0]!.up && nodes[$0]!.peer.nextZxid != nil }),
            let zxid = nodes[leader]!.peer.nextZxid
        else { return }
        // The leader checks the session first, as ZooKeeper's session tracker does: a session
        // it does not know, or one it is closing, is expired for the client.
        if case .createSession = op {
        } else if !nodes[leader]!.sessions.contains(session) || nodes[leader]!.closingSessions.contains(session) {
            clientSessions[client] = nil
            return
        }
        if case .closeSession = op { nodes[leader]!.closingSessions.insert(session) }
        let context = PrepareContext(sessionId: session, ids: [], extendedTypesEnabled: false)
        let body = nodes[leader]!.pending.prepare(op, tree: nodes[leader]!.tree, context: context, zxid: zxid)
        let type: Int32
        if case .error = body { type = OpCode.error.rawValue } else { type = body.type.rawValue }
        let txn = Txn(header: TxnHeader(clientId: session, cxid: 0, zxid: zxid, time: now, type: type), body: body)
        var historyIndex: Int?
        if let path, let kind {
            history.append(HistoryOperation(path: path, kind: kind, outcome: .unknown, callTime: now, returnTime: nil))
            historyIndex = history.count - 1
        }
        clients[client] = PendingClientOperation(
            server: leader, zxid: zxid, requestId: nil, path: path ?? "", historyIndex: historyIndex, sessionChange: change)
        trace.add("\(now) propose \(leader) \(zxid) client \(client)")
        carryOut(nodes[leader]!.peer.propose(txn, now: clock(leader)), at: leader)
    }

    /// The leader that took a client's write applied it: the client gets its answer.
    mutating func answerClient(_ txn: Txn, at id: ServerID) {
        guard let client = clients.firstIndex(where: { $0?.server == id && $0?.zxid == txn.zxid }),
            let pending = clients[client]
        else { return }
        let outcome: HistoryOperation.Outcome
        switch txn.body {
        case .error(.nodeExists): outcome = .nodeExists
        case .error(.noNode): outcome = .noNode
        case .error: outcome = .failed
        default: outcome = .ok
        }
        if let index = pending.historyIndex {
            history[index].outcome = outcome
            history[index].returnTime = now
        }
        switch pending.sessionChange {
        case .none: break
        case .opens(let session): clientSessions[client] = session
        case .closes: clientSessions[client] = nil
        }
        clients[client] = nil
    }

    /// A `sync` finished at `id`: the client reads its path there.
    mutating func answerRead(_ requestId: UInt64, at id: ServerID) {
        guard let client = clients.firstIndex(where: { $0?.server == id && $0?.requestId == requestId }),
            let pending = clients[client]
        else { return }
        let value = nodes[id]!.tree.node(pending.path).flatMap { $0.data }.flatMap { Int(String(decoding: $0, as: UTF8.self)) }
        if let index = pending.historyIndex {
            history[index].outcome = value.map { .value($0) } ?? .noNode
            history[index].returnTime = now
        }
        clients[client] = nil
    }

    /// A member that stops serving (or crashes) leaves its clients without an answer: their
    /// writes may or may not commit later, and the clients move on.
    mutating func abandonClients(of id: ServerID) {
        for client in clients.indices where clients[client]?.server == id { clients[client] = nil }
    }

    mutating func carryOut(_ actions: [PeerAction], at id: ServerID) {
        for action in actions {
            guard violation == nil else { return }
            switch action {
            case .send(let to, let message):
                let link = [id, to]
                guard !blocked.contains(link) else { continue }
                var delay = Int64.random(in: 1...setup.messageDelayMaxMs, using: &random)
                // A clogged link delivers late but in order, like a congested TCP connection.
                if cloggedUntil[link, default: 0] > now { delay += Int64.random(in: 100...1_000, using: &random) }
                let arrival = max(now + delay, linkBusyUntil[link, default: 0])
                linkBusyUntil[link] = arrival
                queue.push(.deliver(from: id, to: to, message, link: linkIncarnation[link, default: 0]), at: arrival)
            case .persistTxns(let txns):
                guard let last = txns.last else { continue }
                nodes[id]!.unsynced += txns
                let done = max(now + Int64.random(in: 0...setup.fsyncDelayMaxMs, using: &random), diskBusyUntil[id, default: 0])
                diskBusyUntil[id] = done
                queue.push(.synced(id, upTo: last.zxid, generation: nodes[id]!.diskGeneration), at: done)
            case .persistAcceptedEpoch(let epoch):
                nodes[id]!.acceptedEpoch = epoch
            case .persistCurrentEpoch(let epoch):
                nodes[id]!.currentEpoch = epoch
            case .truncateLog(let zxid):
                nodes[id]!.durableLog.removeAll { $0.zxid > zxid }
                nodes[id]!.unsynced.removeAll { $0.zxid > zxid }
                nodes[id]!.reload()
                lastApplied[id] = nodes[id]!.tree.lastProcessedZxid
                // A TRUNC may take back txns the leader is still committing (it sends them
                // again), but never one that is then left on fewer than a quorum of disks.
                let cut = acknowledged.keys.filter { $0 > zxid }.sorted()
                if let lost = cut.first(where: { !isDurableOnQuorum($0) }) {
                    violation = "after TRUNC to 0x\(String(zxid, radix: 16)) on node \(id), acknowledged txn 0x\(String(lost, radix: 16)) is on fewer than a quorum of disks"
                    return
                }
            case .installSnapshot(let zxid, let snapshot):
                nodes[id]!.baseTree = snapshot.tree
                nodes[id]!.tree = snapshot.tree
                nodes[id]!.baseSessions = Set(snapshot.sessions.keys)
                nodes[id]!.sessions = Set(snapshot.sessions.keys)
                nodes[id]!.durableLog = []
                nodes[id]!.unsynced = []
                nodes[id]!.diskGeneration += 1
                lastApplied[id] = zxid
            case .takeSnapshotForLearner(let learner):
                let tree = nodes[id]!.tree
                let sessions = Dictionary(uniqueKeysWithValues: nodes[id]!.sessions.map { ($0, Int32(30_000)) })
                carryOut(
                    nodes[id]!.peer.snapshotReady(for: learner, zxid: tree.lastProcessedZxid, snapshot: SyncSnapshot(tree: tree, sessions: sessions), now: clock(id)),
                    at: id)
            case .closeConnection(let peer):
                breakLink(id, peer)
            case .syncDone(let requestId, _):
                answerRead(requestId, at: id)
            case .syncFailed(let requestId):
                if let client = clients.firstIndex(where: { $0?.requestId == requestId }) { clients[client] = nil }
            case .apply(let txn):
                applied(txn, at: id)
                nodes[id]!.pending.removeApplied(upTo: txn.zxid)
                if nodes[id]!.peer.state == .leading { answerClient(txn, at: id) }
            case .roleChanged(let state, _, let epoch):
                trace.add("\(now) role \(id) \(state)")
                abandonClients(of: id)
                nodes[id]!.pending = PendingChanges()
                nodes[id]!.closingSessions = []
                if state == .leading && nodes[id]!.peer.phase == .broadcast {
                    if let other = leaderOfEpoch[epoch], other != id {
                        violation = "two established leaders in epoch \(epoch): \(other) and \(id)"
                        return
                    }
                    leaderOfEpoch[epoch] = id
                }
            }
        }
    }

    /// Every applied txn: the same zxid is always the same txn, zxids rise on each member, and
    /// what the leader applies is acknowledged to its client.
    mutating func applied(_ txn: Txn, at id: ServerID) {
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
        nodes[id]!.applyToStateMachine(txn)
        if nodes[id]!.peer.state == .leading { acknowledged[txn.zxid] = txn }
        let digest = nodes[id]!.tree.digest
        if let known = digestAt[txn.zxid], known != digest {
            violation = "node \(id) has tree digest \(String(digest, radix: 16)) at zxid 0x\(String(txn.zxid, radix: 16)), another member had \(String(known, radix: 16))"
            return
        }
        digestAt[txn.zxid] = digest
    }

    /// A voter holds `zxid` on disk: in its log, or under its snapshot.
    func isDurableOnQuorum(_ zxid: Zxid) -> Bool {
        let holders = quorum.voters.filter { id in
            let node = nodes[id]!
            return node.baseTree.lastProcessedZxid >= zxid || node.durableLog.contains { $0.zxid == zxid }
        }
        return quorum.isQuorum(holders)
    }

    /// A node's own clock: offset and running a little fast or slow, as real clocks do.
    func clock(_ id: ServerID) -> Int64 {
        let node = nodes[id]!
        return node.clockOffsetMs + now * node.clockRatePerMille / 1000
    }

    mutating func heal() {
        healed = true
        blocked = []
        cloggedUntil = [:]
        trace.add("\(now) heal all")
        for id in nodes.keys.sorted() where !nodes[id]!.up { handle(.restart(id)) }
    }

    /// After the healed phase: one serving leader, every member at the same zxid and digest,
    /// and every acknowledged txn in every member's tree.
    mutating func checkLiveness() {
        let members = nodes.keys.sorted()
        guard members.contains(where: { nodes[$0]!.peer.state == .leading && nodes[$0]!.peer.phase == .broadcast }) else {
            violation = "no leader serving at the end of the liveness phase"
            return
        }
        let zxids = Set(members.map { nodes[$0]!.peer.committedZxid })
        let digests = Set(members.map { nodes[$0]!.tree.digest })
        if zxids.count != 1 || digests.count != 1 {
            violation = "members did not converge: zxids \(zxids.sorted().map { String($0, radix: 16) }), \(digests.count) digests"
            return
        }
        // Multis were all or nothing: "/m<n>a" exists exactly when it was created with "/m<n>b".
        let finalTree = nodes[members[0]]!.tree
        for path in finalTree.nodes.keys where path.hasPrefix("/m") && path.hasSuffix("a") {
            let partner = String(path.dropLast()) + "b"
            guard let created = finalTree.node(path)?.czxid, finalTree.node(partner)?.czxid == created else {
                violation = "multi half applied: \(path) exists without \(partner) from the same txn"
                return
            }
        }
        // Every member has the same sessions, and ephemerals only of live ones.
        if Set(members.map { nodes[$0]!.sessions }).count != 1 {
            violation = "members disagree on the live sessions"
            return
        }
        for id in members {
            if let (owner, paths) = nodes[id]!.tree.ephemerals.first(where: { !nodes[id]!.sessions.contains($0.key) }) {
                violation = "node \(id) has ephemerals \(paths.sorted().prefix(3)) of closed session 0x\(String(UInt64(bitPattern: owner), radix: 16))"
                return
            }
        }
        // Every path is read at the end; with that, the client history must be linearizable.
        let tree = nodes[members[0]]!.tree
        for path in Self.paths {
            let value = tree.node(path).flatMap { $0.data }.flatMap { Int(String(decoding: $0, as: UTF8.self)) }
            history.append(HistoryOperation(path: path, kind: .read, outcome: value.map { .value($0) } ?? .noNode, callTime: now + 1, returnTime: now + 2))
        }
        if let problem = LinearizabilityChecker.firstViolation(history) {
            violation = problem
        }
    }
}
