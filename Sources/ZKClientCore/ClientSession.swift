import DequeModule
import NIOCore
import ZKModel
import ZKWire

/// What the server sent, one frame at a time.
public enum ClientEvent: Sendable {
    /// The ConnectResponse of a live session.
    case connected(ConnectResponse)
    /// The server refused to resume the session (ConnectResponse with timeout 0).
    case sessionExpired
    case reply(ClientReply)
    case notification(WatchedEvent)
    case pong
}

/// The reply to one request: its header and its body still encoded (most callers, such as the
/// benchmark, never need the body).
public struct ClientReply: Sendable {
    public var xid: Xid
    public var zxid: Zxid
    /// ZooKeeper's error code; 0 is OK.
    public var err: Int32
    public var opCode: OpCode
    public var body: ByteBuffer

    /// The child names of a getChildren reply.
    public func children() throws -> [String] {
        var reader = JuteReader(body)
        return try reader.readStringVector() ?? []
    }
}

public enum ClientProtocolError: Error, Equatable, Sendable {
    case frameLength(Int32)
    case malformed(String)
    /// A reply whose xid is not the oldest request outstanding (ZooKeeper answers in order).
    case unexpectedXid(expected: Xid?, received: Xid)
}

/// One client session's protocol state, pure: frames to send come out as bytes, frames that
/// arrive go in and come out as events. The socket belongs to whoever holds it.
public struct ClientSession: Sendable {
    public enum State: Equatable, Sendable { case idle, connecting, connected, closed }

    public static let notificationXid: Xid = -1
    public static let pingXid: Xid = -2

    public private(set) var state: State = .idle
    public private(set) var sessionId: SessionID
    public private(set) var passwd: [UInt8]
    public let requestedTimeoutMs: Int32
    public private(set) var negotiatedTimeoutMs: Int32 = 0
    public private(set) var lastZxidSeen: Zxid
    public let frameBytesMax: Int
    private var nextXid: Xid = 1
    /// Requests sent and not answered yet, oldest first.
    private var outstanding: Deque<(xid: Xid, opCode: OpCode)> = []

    public init(
        timeoutMs: Int32, sessionId: SessionID = 0, passwd: [UInt8] = [UInt8](repeating: 0, count: 16),
        lastZxidSeen: Zxid = 0, frameBytesMax: Int = 4 << 20
    ) {
        requestedTimeoutMs = timeoutMs
        self.sessionId = sessionId
        self.passwd = passwd
        self.lastZxidSeen = lastZxidSeen
        self.frameBytesMax = frameBytesMax
    }

    public var outstandingCount: Int { outstanding.count }

    /// Writes the ConnectRequest frame.
    public mutating func connect(into buffer: inout ByteBuffer) {
        precondition(state == .idle, "connect in state \(state)")
        state = .connecting
        Self.frame(into: &buffer) { writer in
            ConnectRequest(lastZxidSeen: lastZxidSeen, timeOut: requestedTimeoutMs, sessionId: sessionId,
                           passwd: passwd, readOnly: false)
                .encode(into: &writer)
        }
    }

    /// Writes one request frame and returns its xid.
    @discardableResult
    public mutating func send(_ request: ClientRequest, into buffer: inout ByteBuffer) -> Xid {
        precondition(state == .connected, "request \(request.opCode) in state \(state)")
        let xid = nextXid
        nextXid = nextXid == Xid.max ? 1 : nextXid + 1
        outstanding.append((xid, request.opCode))
        Self.frame(into: &buffer) { writer in
            writer.writeInt(xid)
            writer.writeInt(request.opCode.rawValue)
            request.encodeBody(into: &writer)
        }
        return xid
    }

    public func ping(into buffer: inout ByteBuffer) {
        precondition(state == .connected, "ping in state \(state)")
        Self.frame(into: &buffer) { writer in
            writer.writeInt(Self.pingXid)
            writer.writeInt(OpCode.ping.rawValue)
        }
    }

    /// Takes the next whole frame from `buffer`; nil when more bytes are needed.
    public mutating func receive(_ buffer: inout ByteBuffer) throws(ClientProtocolError) -> ClientEvent? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        guard length >= 0, Int(length) <= frameBytesMax else { throw .frameLength(length) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        do {
            return try event(from: frame)
        } catch let error as ClientProtocolError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }

    private mutating func event(from frame: ByteBuffer) throws -> ClientEvent {
        var reader = JuteReader(frame, lengthMax: Int32(clamping: frameBytesMax))
        if state == .connecting {
            let response = try ConnectResponse.decode(from: &reader)
            guard response.timeOut > 0 else {
                state = .closed
                return .sessionExpired
            }
            state = .connected
            sessionId = response.sessionId
            passwd = response.passwd
            negotiatedTimeoutMs = response.timeOut
            return .connected(response)
        }
        let xid = try reader.readInt()
        let zxid = try reader.readLong()
        let err = try reader.readInt()
        if zxid > 0 { lastZxidSeen = max(lastZxidSeen, zxid) }
        switch xid {
        case Self.notificationXid:
            let type = try reader.readInt()
            let keeperState = try reader.readInt()
            let path = try reader.readString() ?? ""
            guard let eventType = EventType(rawValue: type), let state = KeeperState(rawValue: keeperState) else {
                throw ClientProtocolError.malformed("notification type \(type) state \(keeperState)")
            }
            return .notification(WatchedEvent(type: eventType, state: state, path: path))
        case Self.pingXid:
            return .pong
        default:
            guard let first = outstanding.first, first.xid == xid else {
                throw ClientProtocolError.unexpectedXid(expected: outstanding.first?.xid, received: xid)
            }
            outstanding.removeFirst()
            if first.opCode == .closeSession { state = .closed }
            return .reply(ClientReply(xid: xid, zxid: zxid, err: err, opCode: first.opCode, body: reader.buffer))
        }
    }

    /// Writes `int32 length` and the body, patching the length in place.
    static func frame(into buffer: inout ByteBuffer, _ body: (inout JuteWriter) -> Void) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        var writer = JuteWriter(buffer)
        buffer = ByteBuffer()  // hand the storage to the writer without a copy
        body(&writer)
        buffer = writer.buffer
        buffer.setInteger(Int32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .big)
    }
}
