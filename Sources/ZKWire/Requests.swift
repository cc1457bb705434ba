import NIOCore
import ZKModel

public struct RequestHeader: Hashable, Sendable {
    public var xid: Xid
    public var type: Int32
    public init(xid: Xid, type: Int32) {
        self.xid = xid
        self.type = type
    }
}

/// create, create2, createContainer and createTTL share one shape; `opCode` says which was sent.
public struct CreateRequest: Hashable, Sendable {
    public var opCode: OpCode
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]?
    public var flags: Int32
    /// −1 unless sent with createTTL.
    public var ttl: Int64
    public init(opCode: OpCode, path: String, data: [UInt8]?, acl: [ACL]?, flags: Int32, ttl: Int64 = -1) {
        self.opCode = opCode
        self.path = path
        self.data = data
        self.acl = acl
        self.flags = flags
        self.ttl = ttl
    }
}

/// `SetWatches` (101) and `SetWatches2` (105); the persistent lists are empty for 101.
public struct SetWatchesRequest: Hashable, Sendable {
    public var relativeZxid: Zxid
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]
    public var persistentWatches: [String]
    public var persistentRecursiveWatches: [String]
    public init(
        relativeZxid: Zxid, dataWatches: [String], existWatches: [String], childWatches: [String],
        persistentWatches: [String] = [], persistentRecursiveWatches: [String] = []
    ) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
        self.persistentWatches = persistentWatches
        self.persistentRecursiveWatches = persistentRecursiveWatches
    }
}

public struct ReconfigRequest: Hashable, Sendable {
    public var joiningServers: String?
    public var leavingServers: String?
    public var newMembers: String?
    public var curConfigId: Int64
}

/// One operation inside `multi` (writes) or `multiRead` (reads).
public enum MultiOp: Hashable, Sendable {
    case create(CreateRequest)
    case delete(path: String, version: Int32)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case check(path: String, version: Int32)
    case getChildren(path: String)
    case getData(path: String)

    public var opCode: OpCode {
        switch self {
        case .create(let request): return request.opCode
        case .delete: return .delete
        case .setData: return .setData
        case .check: return .check
        case .getChildren: return .getChildren
        case .getData: return .getData
        }
    }
    public var isRead: Bool {
        switch self {
        case .getChildren, .getData: return true
        default: return false
        }
    }
}

/// A decoded client request body.
public enum Request: Hashable, Sendable {
    case create(CreateRequest)
    case delete(path: String, version: Int32)
    case exists(path: String, watch: Bool)
    case getData(path: String, watch: Bool)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case getACL(path: String)
    case setACL(path: String, acl: [ACL]?, version: Int32)
    case getChildren(path: String, watch: Bool)
    case getChildren2(path: String, watch: Bool)
    case sync(path: String)
    case ping
    case check(path: String, version: Int32)
    case multi([MultiOp])
    case multiRead([MultiOp])
    case reconfig(ReconfigRequest)
    case checkWatches(path: String, type: Int32)
    case removeWatches(path: String, type: Int32)
    case deleteContainer(path: String)
    case auth(type: Int32, scheme: String, auth: [UInt8])
    case setWatches(SetWatchesRequest, version2: Bool)
    case sasl(token: [UInt8]?)
    case getEphemerals(prefix: String)
    case getAllChildrenNumber(path: String)
    case addWatch(path: String, mode: Int32)
    case whoAmI
    case closeSession

    /// Decodes the body that follows a `RequestHeader` of type `type`.
    /// Throws `JuteError.unknownType` for opcodes ZooKeeper does not accept from clients.
    public static func decode(type: Int32, from reader: inout JuteReader) throws -> Request {
        guard let opCode = OpCode(rawValue: type) else { throw JuteError.unknownType(type) }
        switch opCode {
        case .create, .create2, .createContainer:
            return .create(try decodeCreate(opCode, &reader))
        case .createTTL:
            return .create(try decodeCreate(opCode, &reader))
        case .delete:
            return .delete(path: try reader.readPath(), version: try reader.readInt())
        case .exists:
            return .exists(path: try reader.readPath(), watch: try reader.readBool())
        case .getData:
            return .getData(path: try reader.readPath(), watch: try reader.readBool())
        case .setData:
            return .setData(path: try reader.readPath(), data: try reader.readBuffer(), version: try reader.readInt())
        case .getACL:
            return .getACL(path: try reader.readPath())
        case .setACL:
            return .setACL(path: try reader.readPath(), acl: try reader.readACLs(), version: try reader.readInt())
        case .getChildren:
            return .getChildren(path: try reader.readPath(), watch: try reader.readBool())
        case .getChildren2:
            return .getChildren2(path: try reader.readPath(), watch: try reader.readBool())
        case .sync:
            return .sync(path: try reader.readPath())
        case .ping:
            return .ping
        case .multi, .multiRead:
            return try decodeMulti(opCode, &reader)
        case .reconfig:
            return .reconfig(
                ReconfigRequest(
                    joiningServers: try reader.readString(), leavingServers: try reader.readString(),
                    newMembers: try reader.readString(), curConfigId: try reader.readLong()))
        case .checkWatches:
            return .checkWatches(path: try reader.readPath(), type: try reader.readInt())
        case .removeWatches:
            return .removeWatches(path: try reader.readPath(), type: try reader.readInt())
        case .auth:
            let authType = try reader.readInt()
            let scheme = try reader.readString() ?? ""
            return .auth(type: authType, scheme: scheme, auth: try reader.readBuffer() ?? [])
        case .setWatches, .setWatches2:
            let zxid = try reader.readLong()
            let data = try reader.readStringVector() ?? []
            let exist = try reader.readStringVector() ?? []
            let child = try reader.readStringVector() ?? []
            guard opCode == .setWatches2 else {
                return .setWatches(SetWatchesRequest(relativeZxid: zxid, dataWatches: data, existWatches: exist, childWatches: child), version2: false)
            }
            let persistent = try reader.readStringVector() ?? []
            let recursive = try reader.readStringVector() ?? []
            return .setWatches(
                SetWatchesRequest(
                    relativeZxid: zxid, dataWatches: data, existWatches: exist, childWatches: child,
                    persistentWatches: persistent, persistentRecursiveWatches: recursive), version2: true)
        case .sasl:
            return .sasl(token: try reader.readBuffer())
        case .getEphemerals:
            return .getEphemerals(prefix: try reader.readPath())
        case .getAllChildrenNumber:
            return .getAllChildrenNumber(path: try reader.readPath())
        case .addWatch:
            return .addWatch(path: try reader.readPath(), mode: try reader.readInt())
        case .whoAmI:
            return .whoAmI
        case .closeSession:
            return .closeSession
        case .check:
            return .check(path: try reader.readPath(), version: try reader.readInt())
        case .deleteContainer:
            return .deleteContainer(path: try reader.readPath())
        case .notification, .createSession, .error:
            throw JuteError.unknownType(type)
        }
    }

    static func decodeCreate(_ opCode: OpCode, _ reader: inout JuteReader) throws -> CreateRequest {
        let path = try reader.readPath()
        let data = try reader.readBuffer()
        let acl = try reader.readACLs()
        let flags = try reader.readInt()
        let ttl = opCode == .createTTL ? try reader.readLong() : -1
        return CreateRequest(opCode: opCode, path: path, data: data, acl: acl, flags: flags, ttl: ttl)
    }

    static func decodeMulti(_ opCode: OpCode, _ reader: inout JuteReader) throws -> Request {
        var ops: [MultiOp] = []
        while true {
            let type = try reader.readInt()
            let done = try reader.readBool()
            _ = try reader.readInt()  // err, always −1 in requests
            if done { break }
            guard let subCode = OpCode(rawValue: type) else { throw JuteError.invalidMulti("invalid type of op \(type)") }
            switch subCode {
            case .create, .create2, .createContainer, .createTTL:
                var create = try decodeCreate(subCode, &reader)
                guard let mode = CreateMode(rawValue: create.flags) else {
                    throw JuteError.invalidMulti("invalid flag \(create.flags) for create mode")
                }
                // Inside multi the flags pick the op, as ZooKeeper's `Op.create` does: TTL flags
                // make a createTTL, container flags a createContainer.
                if mode.isTTL {
                    create.opCode = .createTTL
                } else if mode.isContainer {
                    create.opCode = .createContainer
                } else if subCode == .createTTL {
                    create.opCode = .create
                }
                ops.append(.create(create))
            case .delete:
                ops.append(.delete(path: try reader.readPath(), version: try reader.readInt()))
            case .setData:
                ops.append(.setData(path: try reader.readPath(), data: try reader.readBuffer(), version: try reader.readInt()))
            case .check:
                ops.append(.check(path: try reader.readPath(), version: try reader.readInt()))
            case .getChildren:
                ops.append(.getChildren(path: try reader.readPath()))
                _ = try reader.readBool()
            case .getData:
                ops.append(.getData(path: try reader.readPath()))
                _ = try reader.readBool()
            default:
                throw JuteError.invalidMulti("invalid type of op \(type)")
            }
            if let last = ops.last, last.isRead != (opCode == .multiRead) {
                throw JuteError.invalidMulti("read and write ops mixed")
            }
        }
        return opCode == .multi ? .multi(ops) : .multiRead(ops)
    }
}
