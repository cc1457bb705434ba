import NIOCore
import ZKConsensus
import ZKModel
import ZKReplica
import ZKWire

/// A client as ZooKeeper's client library behaves: one connection at a time to a member it
/// picks, a session it resumes on reconnect (sending the last zxid it saw), requests
/// pipelined in order, pings when idle, and a read timeout after which it drops the
/// connection and tries another member.
struct SimulatedClient {
    var session: SessionID = 0
    var passwd: [UInt8] = Array(repeating: 0, count: 16)
    var server: ServerID?
    var connection: ConnectionID?
    /// The member's incarnation when the connection opened (a restart ends it).
    var incarnation = 0
    var established = false
    var connectedAtMs: Int64 = 0
    var nextXid: Xid = 1
    /// Requests sent and not answered, in order.
    var calls: [ClientCall] = []
    var lastZxidSeen: Zxid = 0
    var lastSentMs: Int64 = 0
    /// A client that pauses (a long GC, a stopped process) sends nothing, pings included.
    var silentUntilMs: Int64 = 0
    var reconnectAtMs: Int64 = 0
    /// The zxid of this session's last successful write of each path (read-your-writes).
    var ownWrites: [String: Zxid] = [:]
    /// When the client last got a reply, pings included.
    var lastAnsweredMs: Int64 = 0
}

struct ClientCall {
    enum Kind {
        /// A write; on a shared path it is in the linearizability history.
        case write(path: String?, historyIndex: Int?)
        /// A multi of check and setData on a shared path: a setData in the history.
        case checkedSetData(historyIndex: Int)
        /// A getData after a `sync` on the same connection: in the history.
        case syncedRead(path: String, historyIndex: Int)
        /// A plain getData: checked for read-your-writes only.
        case read(path: String)
        case sync
        case ping
        case close
    }
    var xid: Xid
    var kind: Kind
    var sentAtMs: Int64
}

extension Simulation {
    var timeoutMs: Int64 { Int64(Self.sessionTimeoutMs) }
    /// After healing, every client must have had an answer within this long of the end.
    static let servedWithinMs: Int64 = 5_000
    static let quietEndMs: Int64 = 3_000

    /// One client, drawn at random, starts an operation if it is connected and idle.
    /// Operations stop a while into the healed phase so that everyone catches up.
    mutating func clientStep() {
        let index = Int.random(in: 0..<Self.clientCount, using: &random)
        let client = clients[index]
        let workloadOver = now >= setup.safetyMs + setup.livenessMs / 3
        guard now >= client.silentUntilMs, client.connection != nil, client.established, client.calls.isEmpty, !workloadOver else { return }
        startOperation(index)
    }

    /// Each client's own timer, as ZooKeeper's client runs one: reconnect soon after losing
    /// a connection, give up on a handshake or a request that waited two thirds of the
    /// session timeout, and ping when nothing was sent for a third of it.
    mutating func clientHeartbeat(_ index: Int) {
        let client = clients[index]
        guard now >= client.silentUntilMs else { return }
        guard let server = client.server, client.connection != nil else {
            if now >= client.reconnectAtMs { connect(index) }
            return
        }
        if !client.established {
            if now - client.connectedAtMs > timeoutMs * 2 / 3 { hangUp(index, server: server) }
            return
        }
        if let oldest = client.calls.first, now - oldest.sentAtMs > timeoutMs * 2 / 3 {
            return hangUp(index, server: server)
        }
        if now - client.lastSentMs >= timeoutMs / 3 { send(index, .ping, as: .ping) }
    }

    mutating func connect(_ index: Int) {
        // No new session (a txn) in the last seconds: the run ends with nothing in flight.
        if clients[index].session == 0 && now > setup.safetyMs + setup.livenessMs - Self.quietEndMs { return }
        let up = nodes.keys.sorted().filter { nodes[$0]!.up }
        guard let server = up.randomElement(using: &random) else { return }
        let connection = nextConnectionId
        nextConnectionId += 1
        clientOfConnection[connection] = index
        clients[index].server = server
        clients[index].connection = connection
        clients[index].incarnation = nodeIncarnation[server, default: 0]
        clients[index].established = false
        clients[index].connectedAtMs = now
        clients[index].calls = []
        trace.add("\(now) client \(index) connects to \(server)")
        carryOut(nodes[server]!.replica.connectionOpened(connection, address: "10.0.0.\(index + 1)", port: Int(connection), now: clock(server)), at: server)
        let client = clients[index]
        let frame = ClientFrames.connect(
            sessionId: client.session, passwd: client.passwd, lastZxidSeen: client.lastZxidSeen, timeoutMs: Self.sessionTimeoutMs)
        deliver(index, frame)
    }

    mutating func deliver(_ index: Int, _ frame: ByteBuffer) {
        guard let server = clients[index].server, let connection = clients[index].connection else { return }
        clients[index].lastSentMs = now
        queue.push(.clientFrame(server, connection, frame, incarnation: clients[index].incarnation), at: now + 1)
    }

    mutating func send(_ index: Int, _ op: ClientFrames.Op, as kind: ClientCall.Kind) {
        let xid: Xid
        if case .ping = op {
            xid = ReservedXid.ping
        } else {
            xid = clients[index].nextXid
            clients[index].nextXid += 1
        }
        clients[index].calls.append(ClientCall(xid: xid, kind: kind, sentAtMs: now))
        deliver(index, ClientFrames.request(xid: xid, op))
    }

    /// The client gives up on its connection (read timeout): the member sees it close.
    mutating func hangUp(_ index: Int, server: ServerID) {
        guard let connection = clients[index].connection else { return }
        trace.add("\(now) client \(index) hangs up on \(server)")
        clientDisconnected(connection, by: server)
        if nodes[server]!.up, nodeIncarnation[server, default: 0] == clients[index].incarnation {
            carryOut(nodes[server]!.replica.connectionClosed(connection, now: clock(server)), at: server)
        }
    }

    mutating func startOperation(_ index: Int) {
        let path = Self.paths.randomElement(using: &random)!
        let value = Int.random(in: 0..<1000, using: &random)
        let data = Array(String(value).utf8)
        nextName += 1
        switch Int.random(in: 0..<30, using: &random) {
        case 0..<4:
            // sync, then read on the same connection: ordered after every write the leader
            // had committed when the sync began.
            history.append(HistoryOperation(path: path, kind: .read, outcome: .unknown, callTime: now, returnTime: nil))
            send(index, .sync(path: path), as: .sync)
            send(index, .getData(path: path), as: .syncedRead(path: path, historyIndex: history.count - 1))
        case 4..<6:
            send(index, .getData(path: path), as: .read(path: path))
        case 6..<8:
            send(index, .create(path: "/e\(index)-\(nextName)", data: data, flags: 1), as: .write(path: nil, historyIndex: nil))
        case 8..<10:
            send(index, .create2(path: "/s-", data: data, flags: 2), as: .write(path: nil, historyIndex: nil))
        case 10:
            send(index, .closeSession, as: .close)
        case 11:
            // A multi is all or nothing: its second create fails now and then (no parent),
            // which must undo the first.
            let parent = Bool.random(using: &random) ? "" : "/absent"
            let ops: [ClientFrames.Op] = [
                .create(path: "/m\(nextName)a", data: data, flags: 0), .create(path: "\(parent)/m\(nextName)b", data: data, flags: 0),
            ]
            send(index, .multi(ops), as: .write(path: nil, historyIndex: nil))
        case 13:
            send(index, .setACL(path: path, acl: ACL.openACLUnsafe), as: .write(path: nil, historyIndex: nil))
        case 14:
            // A container that had a child and lost it: the leader's cleanup deletes it.
            let container = "/c\(nextName)"
            let ops: [ClientFrames.Op] = [
                .createContainer(path: container, data: data), .create(path: "\(container)/x", data: data, flags: 0),
                .delete(path: "\(container)/x"),
            ]
            send(index, .multi(ops), as: .write(path: nil, historyIndex: nil))
        case 15:
            // A TTL node, deleted by the leader's cleanup once it has been idle that long.
            send(index, .createTTL(path: "/t\(nextName)", data: data, ttlMs: 300), as: .write(path: nil, historyIndex: nil))
        case 16:
            history.append(HistoryOperation(path: path, kind: .setData(value: value), outcome: .unknown, callTime: now, returnTime: nil))
            send(index, .multi([.check(path: path, version: -1), .setData(path: path, data: data)]), as: .checkedSetData(historyIndex: history.count - 1))
        case 12 where now + 5 * timeoutMs < setup.safetyMs:
            // A pause longer than the session timeout: the leader must expire the session.
            // It ends a timeout before the fault phase does, so healed sessions stay alive.
            clients[index].silentUntilMs = now + Int64.random(in: (2 * timeoutMs)...(4 * timeoutMs), using: &random)
            trace.add("\(now) client \(index) pauses until \(clients[index].silentUntilMs)")
        default:
            let (op, kind): (ClientFrames.Op, HistoryOperation.Kind)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: (op, kind) = (.create(path: path, data: data, flags: 0), .create(value: value))
            case 1: (op, kind) = (.setData(path: path, data: data), .setData(value: value))
            default: (op, kind) = (.delete(path: path), .delete)
            }
            history.append(HistoryOperation(path: path, kind: kind, outcome: .unknown, callTime: now, returnTime: nil))
            send(index, op, as: .write(path: path, historyIndex: history.count - 1))
        }
    }

    // MARK: - What the members send to clients

    mutating func clientConnected(_ connection: ConnectionID, _ response: ConnectResponse) {
        guard let index = clientOfConnection[connection], clients[index].connection == connection else { return }
        if response.sessionId == 0 || response.timeOut <= 0 {
            // The session expired: the client starts a new one.
            trace.add("\(now) client \(index) session expired")
            clients[index].session = 0
            clients[index].passwd = Array(repeating: 0, count: 16)
            clients[index].ownWrites = [:]
            return
        }
        if clients[index].session != 0 && response.sessionId != clients[index].session {
            violation = "client \(index) resumed session 0x\(String(UInt64(bitPattern: clients[index].session), radix: 16)) but got 0x\(String(UInt64(bitPattern: response.sessionId), radix: 16))"
            return
        }
        clients[index].session = response.sessionId
        clients[index].passwd = response.passwd
        clients[index].established = true
    }

    /// A reply: it must answer the oldest request (per-session FIFO), carry a zxid no older
    /// than anything the session saw, and reads must see the session's own writes.
    mutating func clientReceived(_ connection: ConnectionID, _ header: ReplyHeader, _ response: Response) {
        guard let index = clientOfConnection[connection], clients[index].connection == connection else { return }
        guard let call = clients[index].calls.first, call.xid == header.xid else {
            violation = "client \(index) got the reply to xid \(header.xid) while waiting for \(clients[index].calls.first.map { "\($0.xid)" } ?? "nothing")"
            return
        }
        clients[index].calls.removeFirst()
        clients[index].lastAnsweredMs = now
        if header.zxid > 0 {
            if header.zxid < clients[index].lastZxidSeen {
                violation = "client \(index) saw zxid 0x\(String(header.zxid, radix: 16)) after 0x\(String(clients[index].lastZxidSeen, radix: 16))"
                return
            }
            clients[index].lastZxidSeen = header.zxid
        }
        let error = ErrorCode(rawValue: header.err)
        switch call.kind {
        case .write(let path, let historyIndex):
            if let historyIndex {
                history[historyIndex].outcome = error == .ok ? .ok : error == .nodeExists ? .nodeExists : error == .noNode ? .noNode : .failed
                history[historyIndex].returnTime = now
            }
            if let path, error == .ok { clients[index].ownWrites[path] = header.zxid }
        case .checkedSetData(let historyIndex):
            var outcome = HistoryOperation.Outcome.failed
            if error == .ok, case .multi(let results) = response {
                let codes = results.compactMap { result -> ErrorCode? in
                    if case .error(let code) = result { return code } else { return nil }
                }
                outcome = codes.isEmpty ? .ok : codes.contains(.noNode) ? .noNode : .failed
            }
            history[historyIndex].outcome = outcome
            history[historyIndex].returnTime = now
        case .syncedRead(let path, let historyIndex):
            history[historyIndex].outcome = readOutcome(error, response)
            history[historyIndex].returnTime = now
            checkOwnWrites(index, path: path, error, response)
        case .read(let path):
            checkOwnWrites(index, path: path, error, response)
        case .close:
            clients[index].session = 0
            clients[index].ownWrites = [:]
        case .sync, .ping:
            break
        }
    }

    func readOutcome(_ error: ErrorCode?, _ response: Response) -> HistoryOperation.Outcome {
        guard error == .ok, case .data(let data, _) = response else { return error == .noNode ? .noNode : .unknown }
        return data.flatMap { Int(String(decoding: $0, as: UTF8.self)) }.map { .value($0) } ?? .unknown
    }

    /// A read of a path this session wrote sees that write or a later one.
    mutating func checkOwnWrites(_ index: Int, path: String, _ error: ErrorCode?, _ response: Response) {
        guard error == .ok, case .data(_, let stat) = response, let written = clients[index].ownWrites[path],
            stat.mzxid < written
        else { return }
        violation = "client \(index) read \(path) at mzxid 0x\(String(stat.mzxid, radix: 16)) after writing it at 0x\(String(written, radix: 16))"
    }

    /// The connection is gone (closed by the member, the member crashed, or the client hung
    /// up): requests without an answer have an unknown outcome; the client reconnects soon.
    mutating func clientDisconnected(_ connection: ConnectionID, by server: ServerID) {
        guard let index = clientOfConnection.removeValue(forKey: connection), clients[index].connection == connection else { return }
        trace.add("\(now) client \(index) disconnected from \(server)")
        clients[index].connection = nil
        clients[index].server = nil
        clients[index].established = false
        clients[index].calls = []
        clients[index].reconnectAtMs = now + Int64.random(in: 0...300, using: &random)
    }

    /// A member crashed: its clients lose their connections.
    mutating func disconnectClients(of server: ServerID) {
        for index in clients.indices where clients[index].server == server {
            if let connection = clients[index].connection { clientDisconnected(connection, by: server) }
        }
    }
}
