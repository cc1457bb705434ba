/// `TxnHeader` as ZooKeeper logs it.
public struct TxnHeader: Hashable, Sendable {
    public var clientId: SessionID
    public var cxid: Xid
    public var zxid: Zxid
    public var time: Int64
    public var type: Int32
    public init(clientId: SessionID, cxid: Xid, zxid: Zxid, time: Int64, type: Int32) {
        self.clientId = clientId
        self.cxid = cxid
        self.zxid = zxid
        self.time = time
        self.type = type
    }
}

/// A transaction body: what a write means once prepared, independent of who asked for it.
public indirect enum TxnBody: Hashable, Sendable {
    case createSession(timeoutMs: Int32)
    case closeSession(pathsToDelete: [String])
    /// `create`/`create2` (type 1 or 15), possibly ephemeral; `parentCVersion` is the parent's stored cversion after it.
    case create(path: String, data: [UInt8]?, acl: [ACL], ephemeral: Bool, parentCVersion: Int32)
    case createContainer(path: String, data: [UInt8]?, acl: [ACL], parentCVersion: Int32)
    case createTTL(path: String, data: [UInt8]?, acl: [ACL], parentCVersion: Int32, ttl: Int64)
    case delete(path: String)
    case deleteContainer(path: String)
    /// `version` is the node's new version.
    case setData(path: String, data: [UInt8]?, version: Int32)
    /// `version` is the node's new aversion.
    case setACL(path: String, acl: [ACL], version: Int32)
    case check(path: String, version: Int32)
    case error(ErrorCode)
    case multi([TxnBody])

    /// The txn type written in the header (an `OpCode` raw value). `create` uses 1; the
    /// caller may log 15 for create2, which decodes the same.
    public var type: OpCode {
        switch self {
        case .createSession: return .createSession
        case .closeSession: return .closeSession
        case .create: return .create
        case .createContainer: return .createContainer
        case .createTTL: return .createTTL
        case .delete: return .delete
        case .deleteContainer: return .deleteContainer
        case .setData: return .setData
        case .setACL: return .setACL
        case .check: return .check
        case .error: return .error
        case .multi: return .multi
        }
    }
}

extension TxnBody {
    /// Nodes applying this body changes, about: what the replica budgets per event.
    public var changedPathsEstimate: Int {
        switch self {
        case .closeSession(let paths): return 1 + paths.count
        case .multi(let bodies): return bodies.reduce(1) { $0 + $1.changedPathsEstimate }
        default: return 1
        }
    }
}

/// A whole transaction: header plus body.
public struct Txn: Hashable, Sendable {
    public var header: TxnHeader
    public var body: TxnBody
    /// The tree digest once this txn is applied, as the leader that made it computed it
    /// (ZooKeeper's `TxnDigest`, in PROPOSAL, INFORM and log entries); nil when it came
    /// without one. A check value derived from the history, so not part of the txn's
    /// identity: two copies of a txn with and without it are the same txn.
    public var digest: UInt64?
    public init(header: TxnHeader, body: TxnBody, digest: UInt64? = nil) {
        self.header = header
        self.body = body
        self.digest = digest
    }
    public var zxid: Zxid { header.zxid }

    public static func == (lhs: Txn, rhs: Txn) -> Bool { lhs.header == rhs.header && lhs.body == rhs.body }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(header)
        hasher.combine(body)
    }
}
