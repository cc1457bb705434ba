import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

// Drives a `Replica` with real encoded frames, as the NIO shell would, and records its actions.

func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
}

func hex(_ buffer: ByteBuffer) -> String { hex(Array(buffer.readableBytesView)) }

let open = ACL.openACLUnsafe
let zeroPassword = [UInt8](repeating: 0, count: 16)
/// The first standalone session id when the clock reads 0xa425f ms (reference §2.1).
let firstSession: SessionID = 0x0100_000a_425f_0000

func frame(_ body: (inout JuteWriter) -> Void) -> ByteBuffer {
    var writer = JuteWriter()
    body(&writer)
    return writer.buffer
}

func connectFrame(
    sessionId: SessionID = 0, passwd: [UInt8] = zeroPassword, timeout: Int32 = 30000, lastZxidSeen: Zxid = 0,
    readOnly: Bool? = false
) -> ByteBuffer {
    frame {
        ConnectRequest(lastZxidSeen: lastZxidSeen, timeOut: timeout, sessionId: sessionId, passwd: passwd, readOnly: readOnly)
            .encode(into: &$0)
    }
}

/// `RequestHeader{xid, type}` then the body.
func requestFrame(_ xid: Xid, _ type: Int32, _ body: (inout JuteWriter) -> Void = { _ in }) -> ByteBuffer {
    frame {
        $0.writeInt(xid)
        $0.writeInt(type)
        body(&$0)
    }
}

func requestFrame(_ xid: Xid, _ op: OpCode, _ body: (inout JuteWriter) -> Void = { _ in }) -> ByteBuffer {
    requestFrame(xid, op.rawValue, body)
}

enum Req {
    static func create(_ xid: Xid, _ path: String, data: [UInt8]? = [], acl: [ACL]? = open, flags: Int32 = 0, op: OpCode = .create, ttl: Int64 = -1) -> ByteBuffer {
        requestFrame(xid, op) {
            $0.writeString(path)
            $0.writeBuffer(data)
            $0.writeACLs(acl)
            $0.writeInt(flags)
            if op == .createTTL { $0.writeLong(ttl) }
        }
    }
    static func pathAndBool(_ xid: Xid, _ op: OpCode, _ path: String?, _ flag: Bool) -> ByteBuffer {
        requestFrame(xid, op) {
            $0.writeString(path)
            $0.writeBool(flag)
        }
    }
    static func getData(_ xid: Xid, _ path: String, watch: Bool = false) -> ByteBuffer { pathAndBool(xid, .getData, path, watch) }
    static func exists(_ xid: Xid, _ path: String, watch: Bool = false) -> ByteBuffer { pathAndBool(xid, .exists, path, watch) }
    static func getChildren(_ xid: Xid, _ path: String, watch: Bool = false) -> ByteBuffer { pathAndBool(xid, .getChildren, path, watch) }
    static func setData(_ xid: Xid, _ path: String, _ data: [UInt8]?, version: Int32 = -1) -> ByteBuffer {
        requestFrame(xid, .setData) {
            $0.writeString(path)
            $0.writeBuffer(data)
            $0.writeInt(version)
        }
    }
    static func delete(_ xid: Xid, _ path: String, version: Int32 = -1) -> ByteBuffer {
        requestFrame(xid, .delete) {
            $0.writeString(path)
            $0.writeInt(version)
        }
    }
    static func path(_ xid: Xid, _ op: OpCode, _ path: String) -> ByteBuffer { requestFrame(xid, op) { $0.writeString(path) } }
    static func pathAndInt(_ xid: Xid, _ op: OpCode, _ path: String, _ value: Int32) -> ByteBuffer {
        requestFrame(xid, op) {
            $0.writeString(path)
            $0.writeInt(value)
        }
    }
    static func ping() -> ByteBuffer { requestFrame(ReservedXid.ping, .ping) }
    static func closeSession(_ xid: Xid) -> ByteBuffer { requestFrame(xid, .closeSession) }
    static func auth(_ scheme: String, _ credentials: String, xid: Xid = ReservedXid.auth) -> ByteBuffer {
        requestFrame(xid, .auth) {
            $0.writeInt(0)
            $0.writeString(scheme)
            $0.writeBuffer(Array(credentials.utf8))
        }
    }
    static func setWatches(
        relativeZxid: Zxid, data: [String] = [], exist: [String] = [], child: [String] = [],
        persistent: [String]? = nil, recursive: [String]? = nil
    ) -> ByteBuffer {
        let version2 = persistent != nil || recursive != nil
        return requestFrame(ReservedXid.setWatches, version2 ? .setWatches2 : .setWatches) {
            $0.writeLong(relativeZxid)
            $0.writeStringVector(data)
            $0.writeStringVector(exist)
            $0.writeStringVector(child)
            if version2 {
                $0.writeStringVector(persistent ?? [])
                $0.writeStringVector(recursive ?? [])
            }
        }
    }
    /// `ops` write the op records; each entry is (opcode, record writer).
    typealias MultiEntry = (OpCode, (inout JuteWriter) -> Void)
    static func multi(_ xid: Xid, kind: OpCode = .multi, _ ops: [MultiEntry]) -> ByteBuffer {
        requestFrame(xid, kind) {
            for (type, record) in ops {
                $0.writeInt(type.rawValue)
                $0.writeBool(false)
                $0.writeInt(-1)
                record(&$0)
            }
            $0.writeInt(-1)
            $0.writeBool(true)
            $0.writeInt(-1)
        }
    }
    static func createRecord(_ path: String, data: [UInt8]? = [], flags: Int32 = 0) -> (inout JuteWriter) -> Void {
        {
            $0.writeString(path)
            $0.writeBuffer(data)
            $0.writeACLs(open)
            $0.writeInt(flags)
        }
    }
    static func pathVersionRecord(_ path: String, _ version: Int32) -> (inout JuteWriter) -> Void {
        {
            $0.writeString(path)
            $0.writeInt(version)
        }
    }
}

struct ReplicaHarness {
    var replica: Replica
    var now: Int64 = 1_000_000
    /// Both clocks read `now` unless a test moves one of them.
    var wallOffsetMs: Int64 = 0
    var time: ReplicaTime { ReplicaTime(elapsedMs: now, wallMs: now + wallOffsetMs) }
    /// The harness's sockets take every reply at once, reporting its bytes written right
    /// after each batch, except on these connections, whose clients read nothing.
    var unread: Set<ConnectionID> = []
    /// Txns handed to the log and not yet reported durable.
    var unpersisted: [Txn] = []
    /// Every txn ever appended, in order.
    var log: [Txn] = []

    init(monotonicMs: Int64 = 0xa425f, _ configure: (inout ReplicaConfiguration) -> Void = { _ in }) {
        var configuration = ReplicaConfiguration()
        configure(&configuration)
        replica = Replica(configuration: configuration, now: ReplicaTime(1_000_000), monotonicMs: monotonicMs)
    }

    /// Keeps the batch's txns and, when the sockets take replies, reports them written;
    /// returns the batch with whatever those reports caused.
    mutating func record(_ actions: [ReplicaAction]) -> [ReplicaAction] {
        var all: [ReplicaAction] = []
        var batch = actions
        while !batch.isEmpty {
            all += batch
            var written: [(ConnectionID, Int)] = []
            var resume = false
            for action in batch {
                if case .resumeLater = action { resume = true }
                if case .appendLog(let txn) = action {
                    unpersisted.append(txn)
                    log.append(txn)
                }
                if let id = action.connectionId, !unread.contains(id), let bytes = action.frameBytes { written.append((id, bytes)) }
            }
            batch = []
            for (id, bytes) in written { batch += replica.repliesWritten(id, bytes: bytes, now: time) }
            if resume { batch += replica.resume(now: time) }
        }
        return all
    }

    @discardableResult
    mutating func open(_ id: ConnectionID, address: String = "127.0.0.1") -> [ReplicaAction] {
        record(replica.connectionOpened(id, address: address, port: 40000 + Int(id), now: time))
    }

    @discardableResult
    mutating func send(_ id: ConnectionID, _ frame: ByteBuffer) -> [ReplicaAction] {
        record(replica.frameReceived(id, frame, now: time))
    }

    /// Reports every appended txn durable.
    @discardableResult
    mutating func persist() -> [ReplicaAction] {
        guard let last = unpersisted.last else { return [] }
        unpersisted = []
        return record(replica.logPersisted(upTo: last.zxid, now: time))
    }

    /// Sends a frame and makes whatever it logged durable: the actions of both steps.
    @discardableResult
    mutating func sendAndPersist(_ id: ConnectionID, _ frame: ByteBuffer) -> [ReplicaAction] {
        send(id, frame) + persist()
    }

    @discardableResult
    mutating func tick(at time: Int64) -> [ReplicaAction] {
        now = time
        return record(replica.tick(now: self.time))
    }

    /// Opens `id` and runs a new-session handshake to completion.
    @discardableResult
    mutating func connect(_ id: ConnectionID, timeout: Int32 = 30000, address: String = "127.0.0.1") -> ConnectResponse {
        open(id, address: address)
        let actions = sendAndPersist(id, connectFrame(timeout: timeout))
        guard let response = actions.connectResponses(to: id).first else {
            Issue.record("no ConnectResponse for \(id): \(actions)")
            return .invalid(readOnly: false)
        }
        return response
    }
}

extension Array where Element == ReplicaAction {
    func replies(to id: ConnectionID) -> [(header: ReplyHeader, response: Response)] {
        compactMap { if case .sendReply(id, let header, let response) = $0 { return (header, response) } else { return nil } }
    }
    func reply(to id: ConnectionID, xid: Xid) -> (header: ReplyHeader, response: Response)? {
        replies(to: id).first { $0.header.xid == xid }
    }
    func notifications(to id: ConnectionID) -> [WatchedEvent] {
        compactMap { if case .sendNotification(id, let event, _) = $0 { return event } else { return nil } }
    }
    func connectResponses(to id: ConnectionID) -> [ConnectResponse] {
        compactMap { if case .sendConnectResponse(id, let response) = $0 { return response } else { return nil } }
    }
    func closes(_ id: ConnectionID) -> Bool { contains(.closeConnection(id)) }
    var appendedTxns: [Txn] { compactMap { if case .appendLog(let txn) = $0 { return txn } else { return nil } } }
    /// Everything sent to `id`, in order, as short labels: "reply:xid:err", "event:type:path", "close", "connect".
    func timeline(_ id: ConnectionID) -> [String] {
        compactMap { action in
            switch action {
            case .sendReply(id, let header, _): return "reply:\(header.xid):\(header.err)"
            case .sendNotification(id, let event, _): return "event:\(event.type):\(event.path)"
            case .closeConnection(id): return "close"
            case .sendConnectResponse(id, _): return "connect"
            case .sendText(id, _): return "text"
            default: return nil
            }
        }
    }
}
