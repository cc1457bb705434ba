import NIOCore
import Testing
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// Three `Replica`s as ensemble members in one process, driven as their shells would drive
/// them, and deterministically: member messages wait in one FIFO queue until delivered, a
/// batch's `appendLog`s are reported durable right after the batch, and time moves only when
/// a test ticks. Client connections are numbered across the whole ensemble; everything a
/// member sends a client lands in `received`.
struct EnsembleHarness {
    struct Member {
        var replica: Replica
        /// What the member's snapshot holds (the empty tree at start, or a SNAP's state)…
        var baseTree = DataTree()
        var baseSessions: [SessionID: Int32] = [:]
        /// …and the txns logged after it.
        var log: [Txn] = []

        /// The state recovery would rebuild from this disk: the snapshot with the log replayed.
        func recoveredState() -> (DataTree, [SessionID: Int32]) {
            var tree = baseTree
            var sessions = baseSessions
            for txn in log {
                switch txn.body {
                case .createSession(let timeoutMs): sessions[txn.header.clientId] = timeoutMs
                case .closeSession: sessions[txn.header.clientId] = nil
                default: break
                }
                tree.replay(txn)
            }
            return (tree, sessions)
        }
    }

    static let ids: [ServerID] = [1, 2, 3]
    var members: [ServerID: Member] = [:]
    var now: Int64 = 1_000_000
    /// Both clocks read `now` here.
    var time: ReplicaTime { ReplicaTime(now) }
    /// Messages between members, in the order they were sent.
    var network: [(from: ServerID, to: ServerID, message: PeerMessage)] = []
    /// Member pairs (both directions) whose messages are lost.
    var blocked: Set<Set<ServerID>> = []
    /// Members whose incoming messages are held back: they stay queued, in order, and are
    /// delivered once the member leaves this set (a slow link, not a broken one).
    var held: Set<ServerID> = []
    /// Everything each client connection was sent, in order (closes included).
    var received: [ConnectionID: [ReplicaAction]] = [:]
    /// The member each client connection is open to.
    var host: [ConnectionID: ServerID] = [:]
    var deliveries = 0

    /// `configure` adjusts every member's replica configuration (after the harness's own).
    init(configure: (inout ReplicaConfiguration) -> Void = { _ in }) {
        let quorum = QuorumConfiguration(voters: Set(Self.ids))
        for id in Self.ids {
            var configuration = ReplicaConfiguration()
            configuration.serverId = id
            configuration.tickTimeMs = 200
            configuration.minSessionTimeoutMs = 400
            configuration.maxSessionTimeoutMs = 40_000
            configure(&configuration)
            var peerConfiguration = PeerConfiguration(me: id, quorum: quorum)
            peerConfiguration.tickTimeMs = 200
            let replica = Replica(
                configuration: configuration, peerConfiguration: peerConfiguration, durable: PeerDurableState(),
                tree: DataTree(), sessionTimeouts: [:], now: time, monotonicMs: now)
            members[id] = Member(replica: replica)
        }
    }

    subscript(id: ServerID) -> Replica { members[id]!.replica }

    /// The member that leads and serves, if any.
    var leader: ServerID? {
        Self.ids.first { self[$0].peer?.state == .leading && self[$0].isServing }
    }

    var followers: [ServerID] { Self.ids.filter { $0 != leader } }

    // MARK: - Carrying out actions

    /// Carries out one batch of a member's actions in order; txns it logged are reported
    /// durable once the batch is done.
    mutating func handle(_ id: ServerID, _ actions: [ReplicaAction]) {
        var logged = false
        // Sockets that take every reply at once: the bytes are reported after the batch.
        var written: [(ConnectionID, Int)] = []
        for action in actions {
            if let connection = action.connectionId, let bytes = action.frameBytes { written.append((connection, bytes)) }
            switch action {
            case .sendConnectResponse(let connection, _), .sendReply(let connection, _, _),
                .sendNotification(let connection, _, _), .sendText(let connection, _):
                #expect(host[connection] == id, "member \(id) wrote to connection \(connection) of member \(host[connection] ?? 0)")
                received[connection, default: []].append(action)
            case .closeConnection(let connection):
                received[connection, default: []].append(action)
                // The channel goes inactive and the shell reports it.
                handle(id, members[id]!.replica.connectionClosed(connection, now: time))
            case .setReading, .notice, .resumeLater:
                break
            case .appendLog(let txn):
                members[id]!.log.append(txn)
                logged = true
            case .peer(let work):
                switch work {
                case .send(let to, let message):
                    network.append((id, to, message))
                case .persistAcceptedEpoch, .persistCurrentEpoch, .notice:
                    break
                case .closeConnection(let other):
                    disconnect(id, other)
                case .truncateLog(let zxid):
                    members[id]!.log.removeAll { $0.zxid > zxid }
                    let (tree, sessions) = members[id]!.recoveredState()
                    #expect(tree.lastProcessedZxid <= zxid)
                    handle(id, members[id]!.replica.stateReloaded(tree: tree, sessionTimeouts: sessions, now: time))
                case .installSnapshot(_, let snapshot):
                    members[id]!.baseTree = snapshot.tree
                    members[id]!.baseSessions = snapshot.sessions
                    members[id]!.log = []
                default:
                    Issue.record("member \(id) handed its shell \(work)")
                }
            }
        }
        for (connection, bytes) in written {
            handle(id, members[id]!.replica.repliesWritten(connection, bytes: bytes, now: time))
        }
        if logged, let last = members[id]!.log.last {
            handle(id, members[id]!.replica.logPersisted(upTo: last.zxid, now: time))
        }
    }

    /// The quorum connection between `a` and `b` breaks: what it still carried is lost
    /// (election notifications travel on their own connection) and both sides are told.
    mutating func disconnect(_ a: ServerID, _ b: ServerID) {
        network.removeAll { Set([$0.from, $0.to]) == Set([a, b]) && !$0.message.isNotification }
        handle(a, members[a]!.replica.peerConnectionLost(b, now: time))
        handle(b, members[b]!.replica.peerConnectionLost(a, now: time))
    }

    /// Delivers the oldest message not held back; false when none is left.
    @discardableResult
    mutating func deliverOne() -> Bool {
        guard let next = network.firstIndex(where: { !held.contains($0.to) }) else { return false }
        let (from, to, message) = network.remove(at: next)
        deliveries += 1
        precondition(deliveries < 1_000_000, "the members never fall quiet")
        if blocked.contains([from, to]) { return true }
        handle(to, members[to]!.replica.peerMessageReceived(message, from: from, now: time))
        return true
    }

    /// Delivers messages (and whatever they cause) until none are left but held-back ones.
    mutating func deliver() {
        while deliverOne() {}
    }

    /// Delivers one message at a time until `done` holds; false if the queue ran dry first.
    @discardableResult
    mutating func deliver(until done: (EnsembleHarness) -> Bool) -> Bool {
        while !done(self) {
            guard deliverOne() else { return false }
        }
        return true
    }

    /// Time passes by `ms`: every member ticks (in id order), then, unless told otherwise,
    /// the messages that caused are delivered.
    mutating func tick(_ ms: Int64 = 50, delivering: Bool = true) {
        now += ms
        for id in Self.ids { handle(id, members[id]!.replica.tick(now: time)) }
        if delivering { deliver() }
    }

    /// Time passes by `ms` but only `ticking` members' timers fire (the others' are late,
    /// as on a busy event loop); messages are delivered.
    mutating func tick(_ ms: Int64 = 50, only ticking: [ServerID]) {
        now += ms
        for id in ticking { handle(id, members[id]!.replica.tick(now: time)) }
        deliver()
    }

    /// Lets `ms` pass in 50 ms ticks, calling `between` after each.
    mutating func run(ms: Int64, between: (inout EnsembleHarness) -> Void = { _ in }) {
        let end = now + ms
        while now < end {
            tick()
            between(&self)
        }
    }

    /// Ticks until every member serves (one of them leading); returns the leader.
    @discardableResult
    mutating func startServing(withinMs limit: Int64 = 10_000) -> ServerID {
        let end = now + limit
        while now < end {
            tick()
            if let leader, Self.ids.allSatisfy({ self[$0].isServing }) { return leader }
        }
        Issue.record("no serving ensemble after \(limit) ms")
        return 0
    }

    // MARK: - Clients

    mutating func openConnection(_ connection: ConnectionID, at member: ServerID) {
        host[connection] = member
        received[connection] = []
        handle(member, members[member]!.replica.connectionOpened(connection, address: "10.0.0.\(connection)", port: 40000, now: time))
    }

    /// A frame from a client; what it causes among the members is delivered unless told otherwise.
    mutating func send(_ connection: ConnectionID, _ frame: ByteBuffer, delivering: Bool = true) {
        let member = host[connection]!
        handle(member, members[member]!.replica.frameReceived(connection, frame, now: time))
        if delivering { deliver() }
    }

    /// The client drops its connection.
    mutating func clientCloses(_ connection: ConnectionID) {
        let member = host[connection]!
        handle(member, members[member]!.replica.connectionClosed(connection, now: time))
    }

    /// Opens `connection` to `member` and runs a handshake (new session unless `sessionId`
    /// is given); returns the ConnectResponse, if one came.
    @discardableResult
    mutating func connect(
        _ connection: ConnectionID, at member: ServerID, timeout: Int32 = 30000, sessionId: SessionID = 0,
        passwd: [UInt8] = zeroPassword, lastZxidSeen: Zxid = 0
    ) -> ConnectResponse? {
        openConnection(connection, at: member)
        send(connection, connectFrame(sessionId: sessionId, passwd: passwd, timeout: timeout, lastZxidSeen: lastZxidSeen))
        return received[connection]!.connectResponses(to: connection).first
    }

    /// `connect` that must succeed.
    mutating func establish(
        _ connection: ConnectionID, at member: ServerID, timeout: Int32 = 30000, sessionId: SessionID = 0,
        passwd: [UInt8] = zeroPassword, lastZxidSeen: Zxid = 0
    ) throws -> ConnectResponse {
        let response = connect(connection, at: member, timeout: timeout, sessionId: sessionId, passwd: passwd, lastZxidSeen: lastZxidSeen)
        return try #require(response, "no ConnectResponse on connection \(connection) at member \(member): \(received[connection] ?? [])")
    }

    func replies(_ connection: ConnectionID) -> [(header: ReplyHeader, response: Response)] {
        (received[connection] ?? []).replies(to: connection)
    }

    func reply(_ connection: ConnectionID, xid: Xid) -> (header: ReplyHeader, response: Response)? {
        (received[connection] ?? []).reply(to: connection, xid: xid)
    }

    func notifications(_ connection: ConnectionID) -> [WatchedEvent] {
        (received[connection] ?? []).notifications(to: connection)
    }

    func isClosed(_ connection: ConnectionID) -> Bool {
        (received[connection] ?? []).closes(connection)
    }

    // MARK: - State everywhere

    /// Every member holds `path` with `data`.
    func everyMemberHas(_ path: String, data: [UInt8]) -> Bool {
        Self.ids.allSatisfy { self[$0].tree.node(path)?.data == data }
    }

    func noMemberHas(_ path: String) -> Bool {
        Self.ids.allSatisfy { self[$0].tree.node(path) == nil }
    }

    func everyMemberKnows(_ session: SessionID) -> Bool {
        Self.ids.allSatisfy { self[$0].sessions.sessions[session] != nil }
    }

    func noMemberKnows(_ session: SessionID) -> Bool {
        Self.ids.allSatisfy { self[$0].sessions.sessions[session] == nil }
    }

    /// The same zxid and digest on every member.
    var membersAgree: Bool {
        let first = self[Self.ids[0]].tree
        return Self.ids.dropFirst().allSatisfy {
            self[$0].tree.lastProcessedZxid == first.lastProcessedZxid && self[$0].tree.digest == first.digest
        }
    }
}

extension EnsembleHarness: CustomTestStringConvertible {
    /// Failure messages name the members' roles and zxids, not the whole state.
    var testDescription: String {
        let roles = Self.ids.map { id in
            let replica = self[id]
            return "\(id): \(replica.peer.map { "\($0.state)/\($0.phase.rawValue)" } ?? "-") zxid 0x\(String(replica.tree.lastProcessedZxid, radix: 16)) sessions \(replica.sessions.sessions.keys.sorted().map { String($0, radix: 16) })"
        }
        return "ensemble at \(now) ms [\(roles.joined(separator: "; "))], \(network.count) messages queued"
    }
}

extension PeerMessage {
    var isNotification: Bool {
        if case .notification = self { return true } else { return false }
    }
}
