import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence
import ZKReplica

extension Simulation {
    mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let message, let link):
            guard link == linkIncarnation[[from, to], default: 0], nodes[to]!.up else { return }
            trace.add("\(now) deliver \(from)->\(to) \(message.packetType)")
            carryOut(nodes[to]!.replica.peerMessageReceived(message, from: from, now: clock(to)), at: to)
        case .connectionLost(let at, let peer):
            guard nodes[at]!.up else { return }
            trace.add("\(now) lost \(at)-\(peer)")
            carryOut(nodes[at]!.replica.peerConnectionLost(peer, now: clock(at)), at: at)
        case .synced(let id, let zxid, let file, let length, let generation):
            guard nodes[id]!.up, nodes[id]!.diskGeneration == generation else { return }
            if setup.fsyncFailureOneIn > 0, !healed, Int.random(in: 0..<setup.fsyncFailureOneIn, using: &random) == 0 {
                // The log cannot make this batch durable: the member must not acknowledge it,
                // so it leaves (the server exits with status 3) and is restarted later.
                trace.add("\(now) fsync fails at \(id): it leaves")
                logFailures += 1
                takeDown(id)
                return
            }
            trace.add("\(now) synced \(id) \(zxid)")
            nodes[id]!.disk.synced(file: file, length: length, upTo: zxid)
            carryOut(nodes[id]!.replica.logPersisted(upTo: zxid, now: clock(id)), at: id)
        case .tick(let id):
            guard nodes[id]!.up else { return }
            carryOut(nodes[id]!.replica.tick(now: clock(id)), at: id)
            // 50 ms of the node's own clock, which runs a little fast or slow.
            queue.push(.tick(id), at: now + 50_000 / nodes[id]!.clockRatePerMille)
        case .crash:
            guard !healed else { return }
            let up = nodes.keys.sorted().filter { nodes[$0]!.up }
            if let victim = up.randomElement(using: &random) {
                trace.add("\(now) crash \(victim)")
                takeDown(victim)
            }
            queue.push(.crash, at: now + Int64.random(in: 1...(2 * setup.crashEveryMs), using: &random))
        case .restart(let id):
            guard !nodes[id]!.up, !leftDown.contains(id) else { return }
            trace.add("\(now) restart \(id)")
            do {
                if try nodes[id]!.restart(replicaConfiguration: replicaConfiguration(for: id), peerConfiguration: configuration(for: id), now: clock(id)) {
                    tornTails += 1
                }
            } catch {
                violation = "node \(id) could not start from its data directory: \(error)"
                return
            }
            nodeIncarnation[id, default: 0] += 1
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
        case .clientStep:
            clientStep()
            queue.push(.clientStep, at: now + Int64.random(in: 1...(2 * setup.clientStepMs), using: &random))
        case .clientHeartbeat(let index):
            clientHeartbeat(index)
            queue.push(.clientHeartbeat(index), at: now + Int64.random(in: 50...100, using: &random))
        case .clientFrame(let server, let connection, let frame, let incarnation):
            guard nodes[server]!.up, nodeIncarnation[server, default: 0] == incarnation else { return }
            carryOut(nodes[server]!.replica.frameReceived(connection, frame, now: clock(server)), at: server)
        }
    }

    /// The member's process ends (power loss, or it left on a failed fsync) and is started
    /// again later. Writes not yet fsynced may have reached the disk anyway, up to any byte.
    mutating func takeDown(_ victim: ServerID) {
        nodes[victim]!.crash { unsynced in
            unsynced == 0 || Bool.random(using: &random) ? 0 : Int.random(in: 0...unsynced, using: &random)
        }
        disconnectClients(of: victim)
        for other in quorum.members.sorted() where other != victim { breakLink(victim, other) }
        queue.push(.restart(victim), at: now + Int64.random(in: 200...5_000, using: &random))
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

    /// Carries out one batch of a member's actions: peer messages onto the network, log
    /// appends onto the disk (one fsync for the batch), client replies to the clients.
    mutating func carryOut(_ actions: [ReplicaAction], at id: ServerID) {
        var appended: [Txn] = []
        // The simulated sockets take every reply at once: the bytes are reported written
        // after the batch (backpressure is exercised by the replica's unit tests).
        var written: [(ConnectionID, Int)] = []
        for action in actions {
            guard violation == nil else { return }
            if let connection = action.connectionId, let bytes = action.frameBytes {
                if written.last?.0 == connection { written[written.count - 1].1 += bytes } else { written.append((connection, bytes)) }
            }
            switch action {
            case .appendLog(let txn):
                appended.append(txn)
            case .peer(let work):
                carryOut(work, at: id)
            case .sendConnectResponse(let connection, let response):
                clientConnected(connection, response)
            case .sendReply(let connection, let header, let response):
                clientReceived(connection, header, response)
            case .sendNotification, .sendText:
                break
            case .closeConnection(let connection):
                clientDisconnected(connection, by: id)
                _ = nodes[id]!.replica.connectionClosed(connection, now: clock(id))
            case .setReading:
                break
            case .resumeLater:
                // Only a standalone replica applies in slices; ensemble members apply what
                // their peer commits as it commits it.
                violation = "ensemble member \(id) asked to resume applying"
            case .notice(let connection, let text):
                trace.add("\(now) node \(id) connection \(connection): \(text)")
            }
        }
        if !written.isEmpty, violation == nil {
            let time = clock(id)
            var more: [ReplicaAction] = []
            for (connection, bytes) in written { more += nodes[id]!.replica.repliesWritten(connection, bytes: bytes, now: time) }
            if !more.isEmpty { carryOut(more, at: id) }
        }
        if let last = appended.last {
            let (file, length) = nodes[id]!.disk.append(appended)
            let done = max(now + Int64.random(in: 0...setup.fsyncDelayMaxMs, using: &random), diskBusyUntil[id, default: 0])
            diskBusyUntil[id] = done
            queue.push(.synced(id, upTo: last.zxid, file: file, length: length, generation: nodes[id]!.diskGeneration), at: done)
            snapshotIfDue(id, logged: appended.count)
        }
        checkApplied(at: id)
        checkLeadership(at: id)
    }

    mutating func carryOut(_ work: PeerAction, at id: ServerID) {
        switch work {
        case .send(let to, let message):
            let link = [id, to]
            guard !blocked.contains(link) else { return }
            var delay = Int64.random(in: 1...setup.messageDelayMaxMs, using: &random)
            // A clogged link delivers late but in order, like a congested TCP connection.
            if cloggedUntil[link, default: 0] > now { delay += Int64.random(in: 100...1_000, using: &random) }
            let arrival = max(now + delay, linkBusyUntil[link, default: 0])
            linkBusyUntil[link] = arrival
            queue.push(.deliver(from: id, to: to, message, link: linkIncarnation[link, default: 0]), at: arrival)
        case .persistAcceptedEpoch(let epoch):
            nodes[id]!.disk.acceptedEpoch = epoch
        case .persistCurrentEpoch(let epoch):
            nodes[id]!.disk.currentEpoch = epoch
        case .truncateLog(let zxid):
            let state: RecoveredState
            do {
                state = try nodes[id]!.disk.truncate(to: zxid)
            } catch {
                violation = "node \(id) could not read its data directory back after TRUNC to 0x\(String(zxid, radix: 16)): \(error)"
                return
            }
            carryOut(nodes[id]!.replica.stateReloaded(tree: state.tree, sessionTimeouts: state.sessions, now: clock(id)), at: id)
            // A TRUNC may take back txns the leader is still committing (it sends them
            // again), but never one that is then left on fewer than a quorum of disks.
            let cut = acknowledged.keys.filter { $0 > zxid }.sorted()
            if let lost = cut.first(where: { !isDurableOnQuorum($0) }) {
                violation = "after TRUNC to 0x\(String(zxid, radix: 16)) on node \(id), acknowledged txn 0x\(String(lost, radix: 16)) is on fewer than a quorum of disks"
            }
        case .installSnapshot(let zxid, let snapshot):
            nodes[id]!.installSnapshot(zxid: zxid, snapshot)
        case .readLogForLearner(let learner, let lastZxid):
            // The shell's rule (`EnsembleDisk.logDiff`) on the simulated disk; the page cache
            // holds what is not durable yet, so the read sees it too.
            let disk = nodes[id]!.disk
            let snapshotBytes = disk.snapshots.max { $0.key < $1.key }?.value.count ?? 0
            let txns = setup.snapshotSizeFactor.flatMap {
                EnsembleDiskPlan.logDiff(disk.loggedTxns(), after: lastZxid, bytesMax: Int(Double(snapshotBytes) * $0))
            }
            trace.add("\(now) node \(id) reads its log for \(learner) after 0x\(String(lastZxid, radix: 16)): \(txns.map { "\($0.count) txns" } ?? "SNAP")")
            let actions = nodes[id]!.replica.logRead(for: learner, txns: txns, now: clock(id))
            if txns != nil, actions.contains(where: { if case .peer(.send(learner, .newLeader)) = $0 { return true } else { return false } }) {
                diffsFromLog += 1
            }
            carryOut(actions, at: id)
        case .closeConnection(let peer):
            breakLink(id, peer)
        case .notice(let text):
            trace.add("\(now) node \(id): \(text)")
        case .persistTxns, .takeSnapshotForLearner, .apply, .syncDone, .syncFailed, .roleChanged:
            // The replica carries these out itself.
            break
        }
    }

    /// Every snapCount/2 + random(snapCount/2) logged txns a member writes a snapshot of its
    /// applied state and rolls its log, as the standalone server's shell does.
    mutating func snapshotIfDue(_ id: ServerID, logged: Int) {
        nodes[id]!.txnsSinceSnapshot += logged
        if nodes[id]!.snapshotAfterTxns == Int.max { nodes[id]!.snapshotAfterTxns = nextSnapshotAfter() }
        guard nodes[id]!.txnsSinceSnapshot >= nodes[id]!.snapshotAfterTxns else { return }
        let replica = nodes[id]!.replica
        trace.add("\(now) snapshot \(id) at 0x\(String(replica.tree.lastProcessedZxid, radix: 16))")
        nodes[id]!.disk.takeSnapshot(tree: replica.tree, sessions: replica.sessionTimeouts)
        if let retainCount = setup.purgeRetainCount {
            let deleted = nodes[id]!.disk.purge(retainCount: retainCount)
            if deleted > 0 { trace.add("\(now) purge \(id): \(deleted) files") }
        }
        nodes[id]!.txnsSinceSnapshot = 0
        nodes[id]!.snapshotAfterTxns = nextSnapshotAfter()
    }

    mutating func nextSnapshotAfter() -> Int {
        setup.snapCount / 2 + Int.random(in: 0..<max(1, setup.snapCount / 2), using: &random)
    }

    /// A node's own clock: offset and running a little fast or slow, as real clocks do.
    /// The member's two clocks: its wall clock (skewed by `clockOffsetMs`) and a monotonic
    /// clock from an origin of its own, far from the wall clock's, so that code mixing the
    /// two breaks here. Both run at the member's rate.
    func clock(_ id: ServerID) -> ReplicaTime {
        // Two fields read, not the node copied (it holds the whole replica).
        let rate = nodes[id]!.clockRatePerMille, offset = nodes[id]!.clockOffsetMs
        let elapsed = now * rate / 1000
        return ReplicaTime(elapsedMs: Int64(id) * 1_000_000_000 + elapsed, wallMs: offset + elapsed)
    }

    /// The liveness phase: the network heals and every member comes back, except a
    /// minority of voters drawn by the seed, which go (or stay) down for good.
    mutating func heal() {
        healed = true
        blocked = []
        cloggedUntil = [:]
        var voters = quorum.voters.sorted()
        voters.shuffle(using: &random)
        leftDown = Set(voters.prefix(setup.downInLiveness))
        trace.add("\(now) heal all but \(leftDown.sorted())")
        for id in leftDown.sorted() where nodes[id]!.up {
            nodes[id]!.crash { _ in 0 }
            disconnectClients(of: id)
            for other in quorum.members.sorted() where other != id { breakLink(id, other) }
        }
        for id in nodes.keys.sorted() where !nodes[id]!.up && !leftDown.contains(id) { handle(.restart(id)) }
    }
}
