import NIOCore
import ZKModel
import ZKWire

/// The frames a simulated client sends, encoded as ZooKeeper's clients encode them (length
/// prefix removed, as the replica receives frames), so every request goes through the
/// replica's real decoding.
enum ClientFrames {
    /// A write or read the workload asks for.
    enum Op {
        case create(path: String, data: [UInt8], flags: Int32)
        case create2(path: String, data: [UInt8], flags: Int32)
        case createContainer(path: String, data: [UInt8])
        case createTTL(path: String, data: [UInt8], ttlMs: Int64)
        case setData(path: String, data: [UInt8])
        case setACL(path: String, acl: [ACL])
        case check(path: String, version: Int32)
        case delete(path: String)
        case getData(path: String)
        case sync(path: String)
        case multi([Op])
        case closeSession
        case ping

        var opCode: OpCode {
            switch self {
            case .create: return .create
            case .create2: return .create2
            case .createContainer: return .createContainer
            case .createTTL: return .createTTL
            case .setData: return .setData
            case .setACL: return .setACL
            case .check: return .check
            case .delete: return .delete
            case .getData: return .getData
            case .sync: return .sync
            case .multi: return .multi
            case .closeSession: return .closeSession
            case .ping: return .ping
            }
        }
    }

    static func connect(sessionId: SessionID, passwd: [UInt8], lastZxidSeen: Zxid, timeoutMs: Int32) -> ByteBuffer {
        var writer = JuteWriter()
        ConnectRequest(lastZxidSeen: lastZxidSeen, timeOut: timeoutMs, sessionId: sessionId, passwd: passwd, readOnly: false)
            .encode(into: &writer)
        return writer.buffer
    }

    static func request(xid: Xid, _ op: Op) -> ByteBuffer {
        var writer = JuteWriter()
        writer.writeInt(xid)
        writer.writeInt(op.opCode.rawValue)
        body(op, into: &writer)
        return writer.buffer
    }

    static func body(_ op: Op, into writer: inout JuteWriter) {
        switch op {
        case .create(let path, let data, let flags), .create2(let path, let data, let flags):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(ACL.openACLUnsafe)
            writer.writeInt(flags)
        case .createContainer(let path, let data):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(ACL.openACLUnsafe)
            writer.writeInt(CreateMode.container.rawValue)
        case .createTTL(let path, let data, let ttlMs):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(ACL.openACLUnsafe)
            writer.writeInt(CreateMode.persistentWithTTL.rawValue)
            writer.writeLong(ttlMs)
        case .setACL(let path, let acl):
            writer.writeString(path)
            writer.writeACLs(acl)
            writer.writeInt(-1)
        case .check(let path, let version):
            writer.writeString(path)
            writer.writeInt(version)
        case .setData(let path, let data):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeInt(-1)
        case .delete(let path):
            writer.writeString(path)
            writer.writeInt(-1)
        case .getData(let path):
            writer.writeString(path)
            writer.writeBool(false)
        case .sync(let path):
            writer.writeString(path)
        case .multi(let ops):
            // Each op: its MultiHeader (type, done = false, err = −1) and body; then the end marker.
            for op in ops {
                writer.writeInt(op.opCode.rawValue)
                writer.writeBool(false)
                writer.writeInt(-1)
                body(op, into: &writer)
            }
            writer.writeInt(-1)
            writer.writeBool(true)
            writer.writeInt(-1)
        case .closeSession, .ping:
            break
        }
    }
}
