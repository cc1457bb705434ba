import NIOCore
import ZKModel
import ZKReplica
import ZKWire

/// A scripted run of one standalone replica through the places where a `Dictionary` or
/// `Set` could leak its iteration order into what the server does: many connections and
/// sessions from a few addresses, watches on shared paths fired together, four-letter-word
/// reports, reconnects that take a session over, mass expiry, and a failed log. Every action
/// comes out as one line. Swift seeds hashing per process, so two processes printing
/// different lines would mean order leaked (`swiftkeeper sim --standalone-scenario`).
public struct StandaloneScenario {
    var replica: Replica
    var now = ReplicaTime(elapsedMs: 5_000_000, wallMs: 1_700_000_000_000)
    var lines: [String] = []
    var unpersisted: Zxid?
    var sessions: [ConnectionID: (SessionID, [UInt8])] = [:]
    var nextConnection: ConnectionID = 1

    public init() {
        var configuration = ReplicaConfiguration()
        configuration.fourLetterWordWhitelist = ["*"]
        configuration.maxClientCnxns = 0
        configuration.minSessionTimeoutMs = 4_000
        replica = Replica(configuration: configuration, now: now, monotonicMs: 0x1234_5678)
    }

    public static func run() -> [String] {
        var scenario = StandaloneScenario()
        scenario.play()
        return scenario.lines
    }

    mutating func record(_ step: String, _ actions: [ReplicaAction]) {
        lines.append("# \(step)")
        var batch = actions
        while !batch.isEmpty {
            var written: [(ConnectionID, Int)] = []
            var resume = false
            for action in batch {
                lines.append("\(action)")
                if case .resumeLater = action { resume = true }
                if case .appendLog(let txn) = action { unpersisted = txn.zxid }
                if case .sendConnectResponse(let id, let response) = action, response.sessionId != 0 {
                    sessions[id] = (response.sessionId, response.passwd)
                }
                if let id = action.connectionId, let bytes = action.frameBytes { written.append((id, bytes)) }
            }
            batch = []
            for (id, bytes) in written { batch += replica.repliesWritten(id, bytes: bytes, now: now) }
            if resume { batch += replica.resume(now: now) }
        }
        now = now.advanced(byMs: 10)
    }

    mutating func persist() {
        guard let zxid = unpersisted else { return }
        unpersisted = nil
        record("persisted 0x\(String(zxid, radix: 16))", replica.logPersisted(upTo: zxid, now: now))
    }

    mutating func open(address: String) -> ConnectionID {
        let id = nextConnection
        nextConnection += 1
        record("open \(id) from \(address)", replica.connectionOpened(id, address: address, port: 30_000 + Int(id), now: now))
        return id
    }

    mutating func send(_ id: ConnectionID, _ xid: Xid, _ op: OpCode, _ body: (inout JuteWriter) -> Void = { _ in }) {
        var writer = JuteWriter()
        writer.writeInt(xid)
        writer.writeInt(op.rawValue)
        body(&writer)
        record("request \(xid) \(op) on \(id)", replica.frameReceived(id, writer.buffer, now: now))
    }

    mutating func connect(_ id: ConnectionID, resuming session: (SessionID, [UInt8])? = nil) {
        var writer = JuteWriter()
        ConnectRequest(lastZxidSeen: 0, timeOut: 4_000, sessionId: session?.0 ?? 0, passwd: session?.1 ?? [UInt8](repeating: 0, count: 16), readOnly: false)
            .encode(into: &writer)
        record("connect \(id)", replica.frameReceived(id, writer.buffer, now: now))
    }

    mutating func play() {
        let addresses = ["10.0.0.1", "10.0.0.2", "192.168.7.7", "fe80::1"]
        var clients: [ConnectionID] = []
        for index in 0..<32 { clients.append(open(address: addresses[index % addresses.count])) }
        for id in clients { connect(id) }
        persist()
        let writer = clients[0]
        send(writer, 1, .create) { Self.create(&$0, "/shared") }
        for index in 0..<8 { send(writer, Int32(2 + index), .create) { Self.create(&$0, "/shared/n\(index)") } }
        persist()
        for (position, id) in clients.enumerated() {
            send(id, 100, .create) { Self.create(&$0, "/e\(id)", flags: CreateMode.ephemeral.rawValue) }
            send(id, 101, .getData) {
                $0.writeString("/shared/n\(position % 8)")
                $0.writeBool(true)
            }
            send(id, 102, .exists) {
                $0.writeString("/missing\(position % 3)")
                $0.writeBool(true)
            }
            send(id, 103, .getChildren) {
                $0.writeString("/shared")
                $0.writeBool(true)
            }
            if position % 5 == 0 {
                send(id, 104, .addWatch) {
                    $0.writeString("/")
                    $0.writeInt(AddWatchMode.persistentRecursive.rawValue)
                }
            }
            if position % 4 == 0 {
                send(id, ReservedXid.auth, .auth) {
                    $0.writeInt(0)
                    $0.writeString("digest")
                    $0.writeBuffer(Array("user\(position):pw".utf8))
                }
            }
        }
        persist()
        // Changes that fire many watchers at once.
        for index in 0..<8 { send(writer, Int32(20 + index), .setData) { $0.writeString("/shared/n\(index)"); $0.writeBuffer([1]); $0.writeInt(-1) } }
        send(writer, 30, .create) { Self.create(&$0, "/missing1") }
        send(writer, 31, .delete) { $0.writeString("/shared/n3"); $0.writeInt(-1) }
        persist()
        for word in ["cons", "dump", "wchc", "wchp", "wchs", "mntr", "stat", "srvr"] {
            let id = open(address: "127.0.0.1")
            record("\(word) on \(id)", replica.fourLetterWordReceived(id, word: word, now: now))
        }
        // Reconnects: new connections take sessions over from live ones.
        for position in stride(from: 1, to: 12, by: 3) {
            guard let session = sessions[clients[position]] else { continue }
            let id = open(address: addresses[position % addresses.count])
            connect(id, resuming: session)
        }
        persist()
        // Half the connections vanish; their sessions expire together.
        for id in clients where id % 2 == 0 { record("closed \(id)", replica.connectionClosed(id, now: now)) }
        for _ in 0..<6 {
            now = now.advanced(byMs: 2_000)
            for id in clients where id % 2 == 1 { send(id, ReservedXid.ping, .ping) }
            record("tick", replica.tick(now: now))
            persist()
        }
        // Writes and new sessions in flight when the log fails.
        for id in clients where id % 2 == 1 { send(id, 200, .create) { Self.create(&$0, "/late\(id)") } }
        for index in 0..<8 { connect(open(address: addresses[index % addresses.count])) }
        record("log failed", replica.logFailed(now: now))
        for word in ["cons", "dump", "mntr"] {
            let id = open(address: "127.0.0.1")
            record("\(word) on \(id)", replica.fourLetterWordReceived(id, word: word, now: now))
        }
    }

    static func create(_ writer: inout JuteWriter, _ path: String, flags: Int32 = 0) {
        writer.writeString(path)
        writer.writeBuffer([7])
        writer.writeACLs(ACL.openACLUnsafe)
        writer.writeInt(flags)
    }
}
