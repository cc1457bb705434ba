import HashTreeCollections
import ZKModel

/// Why a tree could not be rebuilt from stored nodes.
public enum TreeRestoreError: Error, Equatable, Sendable {
    case missingParent(path: String)
    case duplicateNode(path: String)
    case invalidPath(String)
    case missingRoot
}

extension DataTree {
    /// A tree with no nodes at all, to be filled by `restoreNode` in pre-order (parents first),
    /// as a snapshot stores them.
    public static func empty() -> DataTree {
        var tree = DataTree()
        tree.nodes = [:]
        tree.digest = 0
        tree.dataBytes = 0
        return tree
    }

    /// Adds a node read from a snapshot. Its `children` are rebuilt from later nodes' paths;
    /// the root may arrive as `""` or `/`.
    public mutating func restoreNode(path rawPath: String, node rawNode: DataNode) throws {
        let path = rawPath.isEmpty ? "/" : rawPath
        guard nodes[path] == nil else { throw TreeRestoreError.duplicateNode(path: path) }
        var node = rawNode
        node.children = []
        if path != "/" {
            guard path.hasPrefix("/"), !path.hasSuffix("/") else { throw TreeRestoreError.invalidPath(path) }
            guard let parentPath = PathRules.parent(of: path), nodes[parentPath] != nil else {
                throw TreeRestoreError.missingParent(path: path)
            }
            // In place, so the parent's child set is not copied; the digest does not cover children.
            nodes[parentPath]?.children.insert(PathRules.name(of: path))
        }
        setNode(path, node)
    }

    /// Completes a restore: the built-in config node exists, quota roots are found and their
    /// stats recounted (as ZooKeeper's `setupQuota` does after loading).
    public mutating func finishRestore(lastProcessedZxid zxid: Zxid) throws {
        guard nodes["/"] != nil else { throw TreeRestoreError.missingRoot }
        if nodes[Self.procPath] == nil {
            try restoreNode(path: Self.procPath, node: DataNode(data: [], acl: ACL.openACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0))
        }
        if nodes[Self.quotaPath] == nil {
            try restoreNode(path: Self.quotaPath, node: DataNode(data: [], acl: ACL.openACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0))
        }
        if nodes[Self.configPath] == nil {
            try restoreNode(
                path: Self.configPath,
                node: DataNode(data: [], acl: ACL.readACLUnsafe, czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0, aversion: -1))
        }
        quotaRoots = []
        let prefix = Self.quotaPath + "/"
        let limitsSuffix = "/" + QuotaNames.limits
        for path in nodes.keys where path.hasPrefix(prefix) && path.hasSuffix(limitsSuffix) {
            let root = String(path.dropFirst(Self.quotaPath.count).dropLast(limitsSuffix.count))
            if !root.isEmpty { quotaRoots.insert(root) }
        }
        for root in quotaRoots { recountQuota(root) }
        lastProcessedZxid = zxid
    }

    /// Replays a logged txn during recovery, over a snapshot that may already contain some of
    /// its effects: NONODE/NODEEXISTS are expected, and a top-level `create` (type 1) that
    /// finds its node still raises the parent's cversion and pzxid (ZooKeeper's rule).
    public mutating func replay(_ txn: Txn) {
        var ignored: [WatchTrigger] = []
        let outcome = apply(txn, triggers: &ignored)
        guard case .failed(.nodeExists) = outcome, txn.header.type == OpCode.create.rawValue,
            case .create(let path, _, _, _, let parentCVersion) = txn.body,
            let parentPath = PathRules.parent(of: path), var parent = nodes[parentPath]
        else { return }
        let newCVersion = parentCVersion == -1 ? parent.cversion &+ 1 : parentCVersion
        if newCVersion > parent.cversion {
            parent.cversion = newCVersion
            parent.pzxid = txn.zxid
            setNode(parentPath, parent)
        }
    }

    /// Removes the ephemerals of a session that no longer exists, without a txn (ZooKeeper's
    /// `killSession` at start-up for sessions missing from the session table).
    public mutating func killSession(_ sessionId: SessionID, zxid: Zxid) {
        var ignored: [WatchTrigger] = []
        for path in ephemeralPaths(of: sessionId) { _ = deleteNode(path, zxid: zxid, triggers: &ignored) }
    }

    /// Every node in pre-order (parents before children), children in ZooKeeper's listing
    /// order: the order ZooKeeper writes a snapshot in.
    public func preorder(_ body: (String, DataNode) throws -> Void) rethrows {
        var cursor = PreorderCursor(self)
        while let (path, node) = cursor.next() { try body(path, node) }
    }

    /// `preorder` one node at a time, so that a walk can stop and go on later: a SNAP
    /// streams a copy of the tree (an O(1) copy: the nodes are a persistent hash trie) a
    /// slice at a time while the original changes.
    public struct PreorderCursor: Sendable {
        let tree: DataTree
        var stack: [(String, DataNode)]

        public init(_ tree: DataTree) {
            self.tree = tree
            stack = tree.nodes["/"].map { [("/", $0)] } ?? []
        }

        public mutating func next() -> (String, DataNode)? {
            guard let (path, node) = stack.popLast() else { return nil }
            for name in node.listedChildren.reversed() {
                let childPath = PathRules.join(path, name)
                if let child = tree.nodes[childPath] { stack.append((childPath, child)) }
            }
            return (path, node)
        }
    }
}
