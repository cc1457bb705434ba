import NIOCore
import ZKModel

public struct ReplyHeader: Hashable, Sendable {
    public var xid: Xid
    public var zxid: Zxid
    public var err: Int32
    public init(xid: Xid, zxid: Zxid, err: Int32) {
        self.xid = xid
        self.zxid = zxid
        self.err = err
    }
}

public struct ClientInfo: Hashable, Sendable {
    public var authScheme: String
    public var user: String
    public init(authScheme: String, user: String) {
        self.authScheme = authScheme
        self.user = user
    }
}

/// The result of one op inside multi/multiRead, encoded with its `MultiHeader`.
public enum MultiResult: Hashable, Sendable {
    case create(path: String)
    case create2(path: String, stat: Stat)
    case delete
    case setData(Stat)
    case check
    case getChildren([String])
    case getData(data: [UInt8]?, stat: Stat)
    case error(ErrorCode)
}

/// A reply body; encoded only when the header's `err` is 0.
public enum Response: Hashable, Sendable {
    case none
    case create(path: String)
    case create2(path: String, stat: Stat)
    /// exists, setData, setACL.
    case stat(Stat)
    /// getData and reconfig.
    case data([UInt8]?, Stat)
    case acl([ACL], Stat)
    case children([String])
    case children2([String], Stat)
    case sync(path: String)
    case multi([MultiResult])
    case ephemerals([String])
    case allChildrenNumber(Int32)
    /// addWatch answers with a 4-byte `ErrorResponse{0}`.
    case errorResponse(Int32)
    case whoAmI([ClientInfo])
    case sasl(token: [UInt8]?)

    public func encode(into writer: inout JuteWriter) {
        switch self {
        case .none: break
        case .create(let path), .sync(let path): writer.writeString(path)
        case .create2(let path, let stat):
            writer.writeString(path)
            writer.writeStat(stat)
        case .stat(let stat): writer.writeStat(stat)
        case .data(let data, let stat):
            writer.writeBuffer(data)
            writer.writeStat(stat)
        case .acl(let acl, let stat):
            writer.writeACLs(acl)
            writer.writeStat(stat)
        case .children(let children), .ephemerals(let children): writer.writeStringVector(children)
        case .children2(let children, let stat):
            writer.writeStringVector(children)
            writer.writeStat(stat)
        case .multi(let results): Self.encodeMulti(results, into: &writer)
        case .allChildrenNumber(let count), .errorResponse(let count): writer.writeInt(count)
        case .whoAmI(let infos):
            writer.writeVector(infos) { writer, info in
                writer.writeString(info.authScheme)
                writer.writeString(info.user)
            }
        case .sasl(let token): writer.writeBuffer(token)
        }
    }

    static func encodeMulti(_ results: [MultiResult], into writer: inout JuteWriter) {
        for result in results {
            switch result {
            case .create(let path):
                writeMultiHeader(OpCode.create.rawValue, 0, &writer)
                writer.writeString(path)
            case .create2(let path, let stat):
                writeMultiHeader(OpCode.create2.rawValue, 0, &writer)
                writer.writeString(path)
                writer.writeStat(stat)
            case .delete: writeMultiHeader(OpCode.delete.rawValue, 0, &writer)
            case .check: writeMultiHeader(OpCode.check.rawValue, 0, &writer)
            case .setData(let stat):
                writeMultiHeader(OpCode.setData.rawValue, 0, &writer)
                writer.writeStat(stat)
            case .getChildren(let children):
                writeMultiHeader(OpCode.getChildren.rawValue, 0, &writer)
                writer.writeStringVector(children)
            case .getData(let data, let stat):
                writeMultiHeader(OpCode.getData.rawValue, 0, &writer)
                writer.writeBuffer(data)
                writer.writeStat(stat)
            case .error(let code):
                writeMultiHeader(-1, code.rawValue, &writer)
                writer.writeInt(code.rawValue)
            }
        }
        writer.writeInt(-1)
        writer.writeBool(true)
        writer.writeInt(-1)
    }

    private static func writeMultiHeader(_ type: Int32, _ err: Int32, _ writer: inout JuteWriter) {
        writer.writeInt(type)
        writer.writeBool(false)
        writer.writeInt(err)
    }
}

/// Encodes whole frames (length prefix included) for the client connection, appended to the
/// buffer in place: the buffer is never copied, however much is already queued in it.
public enum FrameEncoder {
    /// A reply; the body is written only when `header.err` is 0, as ZooKeeper does.
    @discardableResult
    public static func reply(_ header: ReplyHeader, _ response: Response, into buffer: inout ByteBuffer) -> Bool {
        writeFrame(into: &buffer) { writer in
            writer.writeInt(header.xid)
            writer.writeLong(header.zxid)
            writer.writeInt(header.err)
            if header.err == 0 { response.encode(into: &writer) }
        }
    }

    /// A watch notification: xid −1, then `WatcherEvent{type, state, path}`.
    @discardableResult
    public static func notification(_ event: WatchedEvent, zxid: Zxid, into buffer: inout ByteBuffer) -> Bool {
        writeFrame(into: &buffer) { writer in
            writer.writeInt(ReservedXid.notification)
            writer.writeLong(zxid)
            writer.writeInt(0)
            writer.writeInt(event.type.rawValue)
            writer.writeInt(event.state.rawValue)
            writer.writeString(event.path)
        }
    }

    @discardableResult
    public static func connectResponse(_ response: ConnectResponse, into buffer: inout ByteBuffer) -> Bool {
        writeFrame(into: &buffer) { response.encode(into: &$0) }
    }

    /// Writes a length prefix and `body` at the end of `buffer`. The writer borrows the
    /// buffer's storage while it writes (a `JuteWriter` made from a copy would share the
    /// storage and copy everything queued on its first write). A frame whose length does not
    /// fit the prefix is taken back and false returned: the replica never builds one (it
    /// refuses replies larger than `jute.maxbuffer`), and the encoder never traps.
    static func writeFrame(into buffer: inout ByteBuffer, _ body: (inout JuteWriter) -> Void) -> Bool {
        var writer = JuteWriter(ByteBuffer())
        swap(&writer.buffer, &buffer)
        defer { swap(&writer.buffer, &buffer) }
        let lengthIndex = writer.buffer.writerIndex
        writer.writeInt(0)
        body(&writer)
        let length = writer.buffer.writerIndex - lengthIndex - EncodedSize.framePrefix
        guard let prefix = Int32(exactly: length) else {
            writer.buffer.moveWriterIndex(to: lengthIndex)
            return false
        }
        writer.buffer.setInteger(prefix, at: lengthIndex)
        return true
    }
}
