import ZKModel
import ZKWire

/// A request as a ZooKeeper client sends it: opcode and body, encoded exactly as the Java
/// client encodes it (jute, the same records the server's `Request.decode` reads).
public enum ClientRequest: Hashable, Sendable {
    case create(path: String, data: [UInt8], acl: [ACL], mode: CreateMode)
    case delete(path: String, version: Int32)
    case exists(path: String, watch: Bool)
    case getData(path: String, watch: Bool)
    case setData(path: String, data: [UInt8], version: Int32)
    case getChildren(path: String, watch: Bool)
    case check(path: String, version: Int32)
    case sync(path: String)
    /// create, delete, setData and check ops, all or nothing.
    case multi([ClientRequest])
    case closeSession

    public var opCode: OpCode {
        switch self {
        case .create: return .create
        case .delete: return .delete
        case .exists: return .exists
        case .getData: return .getData
        case .setData: return .setData
        case .getChildren: return .getChildren
        case .check: return .check
        case .sync: return .sync
        case .multi: return .multi
        case .closeSession: return .closeSession
        }
    }

    /// Whether the server logs a txn for it (a write), as opposed to answering from its tree.
    public var isWrite: Bool {
        switch self {
        case .create, .delete, .setData, .multi, .closeSession: return true
        case .exists, .getData, .getChildren, .check, .sync: return false
        }
    }

    public func encodeBody(into writer: inout JuteWriter) {
        switch self {
        case .create(let path, let data, let acl, let mode):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(acl)
            writer.writeInt(mode.rawValue)
        case .delete(let path, let version), .check(let path, let version):
            writer.writeString(path)
            writer.writeInt(version)
        case .exists(let path, let watch), .getData(let path, let watch), .getChildren(let path, let watch):
            writer.writeString(path)
            writer.writeBool(watch)
        case .setData(let path, let data, let version):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeInt(version)
        case .sync(let path):
            writer.writeString(path)
        case .multi(let ops):
            // Each op: its MultiHeader (type, done = false, err = -1) and body; then the end marker.
            for op in ops {
                precondition(op.isMultiOp, "\(op.opCode) cannot be a multi op")
                writer.writeInt(op.opCode.rawValue)
                writer.writeBool(false)
                writer.writeInt(-1)
                op.encodeBody(into: &writer)
            }
            writer.writeInt(-1)
            writer.writeBool(true)
            writer.writeInt(-1)
        case .closeSession:
            break
        }
    }

    var isMultiOp: Bool {
        switch self {
        case .create, .delete, .setData, .check: return true
        default: return false
        }
    }
}
