import HashTreeCollections
import ZKModel

/// A change that may fire watches: the node's path, the event, and the node's ACL at that
/// moment (notifications are filtered by READ permission, as ZooKeeper 3.9 does).
public struct WatchTrigger: Hashable, Sendable {
    public var path: String
    public var type: EventType
    public var acl: [ACL]

    public init(path: String, type: EventType, acl: [ACL]) {
        self.path = path
        self.type = type
        self.acl = acl
    }
}

/// What applying one op did.
public enum OpOutcome: Hashable, Sendable {
    case created(path: String, stat: Stat)
    case deleted
    case updated(Stat)
    case checked
    case failed(ErrorCode)
    case sessionCreated
    case sessionClosed
    case multi([OpOutcome])

    public var error: ErrorCode {
        switch self {
        case .failed(let code): return code
        case .multi(let outcomes):
            return outcomes.lazy.map(\.error).first(where: { $0 != .ok }) ?? .ok
        default: return .ok
        }
    }
}

/// The znode tree as a value: copies are O(1) and share structure (persistent hash tries),
/// so a snapshot can be written from a copy while the live tree keeps changing.
public struct DataTree: Sendable {
    public internal(set) var nodes: TreeDictionary<String, DataNode>
    public internal(set) var ephemerals: TreeDictionary<SessionID, TreeSet<String>>
    public internal(set) var containers: TreeSet<String>
    public internal(set) var ttls: TreeSet<String>
    /// Paths with a `zookeeper_limits` node under `/zookeeper/quota`.
    public internal(set) var quotaRoots: Set<String> = []
    public internal(set) var lastProcessedZxid: Zxid = 0
    /// ZooKeeper's tree digest of the current nodes (see `TreeDigest`).
    public internal(set) var digest: UInt64 = 0
    /// One stored copy of each distinct ACL list nodes were given, so nodes with the same
    /// ACL share one array (ZooKeeper's ACL cache does the same with a reference per node).
    /// Without it each node holds the copy its request decoded: about 80 bytes a node.
    private var sharedACLs: [[ACL]: [ACL]] = [:]
    /// Distinct lists shared at most; lists beyond are stored per node, as before.
    static let sharedACLsMax = 4096

    public static let quotaPath = "/zookeeper/quota"
    public static let configPath = "/zookeeper/config"
    public static let procPath = "/zookeeper"
    /// Paths that can never be deleted.
    public static let undeletable: Set<String> = ["/", procPath, quotaPath, configPath]

    public init() {
        nodes = [:]
        ephemerals = [:]
        containers = []
        ttls = []
        var root = DataNode(data: [], acl: ACL.openACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0)
        root.children.insert("zookeeper")
        var proc = DataNode(data: [], acl: ACL.openACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0)
        proc.children.insert("quota")
        proc.children.insert("config")
        let quota = DataNode(data: [], acl: ACL.openACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0)
        let config = DataNode(
            data: [], acl: ACL.readACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0, aversion: -1)
        setNode("/", root)
        setNode(Self.procPath, proc)
        setNode(Self.quotaPath, quota)
        setNode(Self.configPath, config)
    }

    /// The node at `path`; the empty path is ZooKeeper's second name for the root.
    public func node(_ path: String) -> DataNode? { nodes[path.isEmpty ? "/" : path] }

    /// ZooKeeper's node count counts the root twice (it is stored as "" and "/").
    public var nodeCount: Int { nodes.count + 1 }

    /// Ephemeral nodes of all sessions, kept by `setNode`.
    public internal(set) var ephemeralCount = 0
    /// Bytes of every path and its data (ZooKeeper's `approximateDataSize`), kept by `setNode`.
    public internal(set) var dataBytes = 0

    public var approximateDataSize: Int { dataBytes }

    /// Sorted ephemeral paths of `session`.
    public func ephemeralPaths(of session: SessionID) -> [String] {
        (ephemerals[session] ?? []).sorted()
    }

    /// Every descendant of `path` (not only children).
    public func descendantCount(of path: String) -> Int {
        // ZooKeeper counts keys starting with `path + "/"`; for "" that includes "/" itself.
        if path.isEmpty { return nodes.count }
        guard let node = nodes[path] else { return 0 }
        var count = 0
        var stack: [(String, DataNode)] = [(path, node)]
        while let (current, currentNode) = stack.popLast() {
            for child in currentNode.children {
                let childPath = PathRules.join(current, child)
                count += 1
                if let childNode = nodes[childPath] { stack.append((childPath, childNode)) }
            }
        }
        return count
    }

    // MARK: - Applying transactions

    /// Applies a committed transaction. Errors inside (NONODE, NODEEXISTS) are reported, not thrown,
    /// so that replay over a fuzzy snapshot can tolerate them.
    public mutating func apply(_ txn: Txn, triggers: inout [WatchTrigger]) -> OpOutcome {
        let outcome = apply(txn.body, header: txn.header, triggers: &triggers)
        if txn.zxid > lastProcessedZxid { lastProcessedZxid = txn.zxid }
        return outcome
    }

    mutating func apply(_ body: TxnBody, header: TxnHeader, triggers: inout [WatchTrigger]) -> OpOutcome {
        let zxid = header.zxid
        switch body {
        case .createSession:
            return .sessionCreated
        case .closeSession(let paths):
            var all = Set(paths)
            all.formUnion(ephemerals[header.clientId] ?? [])
            for path in all.sorted() { _ = deleteNode(path, zxid: zxid, triggers: &triggers) }
            return .sessionClosed
        case .create(let path, let data, let acl, let ephemeral, let parentCVersion):
            return createNode(
                path, data: data, acl: acl, owner: ephemeral ? header.clientId : 0, parentCVersion: parentCVersion,
                zxid: zxid, time: header.time, triggers: &triggers)
        case .createContainer(let path, let data, let acl, let parentCVersion):
            return createNode(
                path, data: data, acl: acl, owner: EphemeralOwner.container, parentCVersion: parentCVersion,
                zxid: zxid, time: header.time, triggers: &triggers)
        case .createTTL(let path, let data, let acl, let parentCVersion, let ttl):
            return createNode(
                path, data: data, acl: acl, owner: EphemeralOwner.ttl(ttl), parentCVersion: parentCVersion,
                zxid: zxid, time: header.time, triggers: &triggers)
        case .delete(let path), .deleteContainer(let path):
            return deleteNode(path, zxid: zxid, triggers: &triggers)
        case .setData(let path, let data, let version):
            guard var node = nodes[path] else { return .failed(.noNode) }
            let bytesDelta = Int64(data?.count ?? 0) - Int64(node.data?.count ?? 0)
            node.data = data
            node.version = version
            node.mzxid = zxid
            node.mtime = header.time
            setNode(path, node)
            updateQuota(for: path, countDelta: 0, bytesDelta: bytesDelta)
            triggers.append(WatchTrigger(path: path, type: .nodeDataChanged, acl: node.acl))
            return .updated(node.stat)
        case .setACL(let path, let acl, let version):
            guard var node = nodes[path] else { return .failed(.noNode) }
            node.acl = shared(acl)
            node.aversion = version
            setNode(path, node)
            return .updated(node.stat)
        case .check:
            return .checked
        case .error(let code):
            return .failed(code)
        case .multi(let bodies):
            return applyMulti(bodies, header: header, triggers: &triggers)
        }
    }

    mutating func applyMulti(_ bodies: [TxnBody], header: TxnHeader, triggers: inout [WatchTrigger]) -> OpOutcome {
        let failed = bodies.contains { if case .error = $0 { return true } else { return false } }
        var outcomes: [OpOutcome] = []
        outcomes.reserveCapacity(bodies.count)
        for body in bodies {
            if failed {
                // A failed multi changes nothing: ops before the failure report 0, the failing op its
                // code, the rest RUNTIMEINCONSISTENCY (already logged as such).
                if case .error(let code) = body { outcomes.append(.failed(code)) } else { outcomes.append(.failed(.ok)) }
            } else {
                outcomes.append(apply(body, header: header, triggers: &triggers))
            }
        }
        return .multi(outcomes)
    }

    mutating func createNode(
        _ path: String, data: [UInt8]?, acl: [ACL], owner: Int64, parentCVersion: Int32, zxid: Zxid, time: Int64,
        triggers: inout [WatchTrigger]
    ) -> OpOutcome {
        let name = PathRules.name(of: path)
        guard let parentPath = PathRules.parent(of: path),
            let (hasChild, parentACL, parentCVersionNow) = nodes[parentPath].map({ ($0.children.contains(name), $0.acl, $0.cversion) })
        else { return .failed(.noNode) }
        if hasChild { return .failed(.nodeExists) }
        let newCVersion = parentCVersion == -1 ? parentCVersionNow &+ 1 : parentCVersion
        updateInPlace(parentPath) { parent in
            if newCVersion > parent.cversion {
                parent.cversion = newCVersion
                parent.pzxid = zxid
            }
            parent.children.insert(name)
        }
        let node = DataNode(
            data: data, acl: shared(acl), czxid: zxid, mzxid: zxid, pzxid: zxid, ctime: time, mtime: time, ephemeralOwner: owner)
        setNode(path, node)
        updateQuota(for: path, countDelta: 1, bytesDelta: Int64(data?.count ?? 0))
        triggers.append(WatchTrigger(path: path, type: .nodeCreated, acl: acl))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged, acl: parentACL))
        return .created(path: path, stat: node.stat)
    }

    /// The stored copy of `acl` (see `sharedACLs`).
    mutating func shared(_ acl: [ACL]) -> [ACL] {
        if acl == ACL.openACLUnsafe { return ACL.openACLUnsafe }
        if let stored = sharedACLs[acl] { return stored }
        if sharedACLs.count < Self.sharedACLsMax { sharedACLs[acl] = acl }
        return acl
    }

    mutating func deleteNode(_ path: String, zxid: Zxid, triggers: inout [WatchTrigger]) -> OpOutcome {
        guard let node = nodes[path], let parentPath = PathRules.parent(of: path), let parentACL = nodes[parentPath]?.acl else {
            return .failed(.noNode)
        }
        updateInPlace(parentPath) { parent in
            parent.children.remove(PathRules.name(of: path))
            if zxid > parent.pzxid { parent.pzxid = zxid }
        }
        setNode(path, nil)
        updateQuota(for: path, countDelta: -1, bytesDelta: -Int64(node.data?.count ?? 0))
        triggers.append(WatchTrigger(path: path, type: .nodeDeleted, acl: node.acl))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged, acl: parentACL))
        return .deleted
    }
}
