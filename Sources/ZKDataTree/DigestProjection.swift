import DequeModule
import ZKModel

/// The tree digest each prepared txn will leave once applied, which a ZooKeeper leader puts
/// in PROPOSAL as `TxnDigest` and its learners compare after applying. The committed tree's
/// digest is carried forward through the txns prepared and not applied yet, node by node,
/// by the rules `DataTree.apply` follows (only what the digest covers: path, data and stat;
/// never children). Costs what each txn changes, like `PendingChanges`.
public struct DigestProjection: Sendable {
    struct Entry: Sendable {
        /// The node as the pending txns leave it; nil once one of them deleted it.
        var node: DataNode?
        /// The txn that wrote it last.
        var zxid: Zxid
    }

    /// Nodes pending txns changed; every other node is as the tree holds it.
    private var nodes: [String: Entry] = [:]
    /// The paths each pending txn wrote, in zxid order.
    private var pathsByTxn: Deque<(zxid: Zxid, paths: [String])> = []
    /// The digest after the last projected txn, while it is pending.
    private var last: (zxid: Zxid, digest: UInt64)?

    public init() {}

    /// The digest `tree` will have once `txn` is applied after every txn projected before.
    public mutating func project(_ txn: Txn, tree: DataTree) -> UInt64 {
        var step = Step(tree: tree, header: txn.header, digest: last?.digest ?? tree.digest)
        apply(txn.body, &step)
        pathsByTxn.append((txn.zxid, step.written))
        last = (txn.zxid, step.digest)
        return step.digest
    }

    /// The tree applied every txn up to `zxid`: what they wrote is read from it again.
    public mutating func removeApplied(upTo zxid: Zxid) {
        while let first = pathsByTxn.first, first.zxid <= zxid {
            pathsByTxn.removeFirst()
            for path in first.paths where (nodes[path]?.zxid ?? .max) <= zxid { nodes[path] = nil }
        }
        if let last, last.zxid <= zxid { self.last = nil }
    }

    /// What one txn is carried through with.
    struct Step {
        let tree: DataTree
        let header: TxnHeader
        var digest: UInt64
        var written: [String] = []
    }

    func current(_ path: String, _ step: Step) -> DataNode? {
        if let entry = nodes[path] { return entry.node }
        return step.tree.node(path)
    }

    mutating func write(_ path: String, _ node: DataNode?, _ step: inout Step) {
        if let old = current(path, step) { step.digest &-= TreeDigest.of(path: path, node: old) }
        if let node { step.digest &+= TreeDigest.of(path: path, node: node) }
        nodes[path] = Entry(node: node, zxid: step.header.zxid)
        step.written.append(path)
    }

    mutating func apply(_ body: TxnBody, _ step: inout Step) {
        switch body {
        case .createSession, .check, .error:
            break
        case .closeSession(let paths):
            var all = Set(paths)
            all.formUnion(step.tree.ephemeralPaths(of: step.header.clientId))
            for path in all.sorted() { delete(path, &step) }
        case .create(let path, let data, _, let ephemeral, let parentCVersion):
            create(path, data: data, owner: ephemeral ? step.header.clientId : 0, parentCVersion: parentCVersion, &step)
        case .createContainer(let path, let data, _, let parentCVersion):
            create(path, data: data, owner: EphemeralOwner.container, parentCVersion: parentCVersion, &step)
        case .createTTL(let path, let data, _, let parentCVersion, let ttl):
            create(path, data: data, owner: EphemeralOwner.ttl(ttl), parentCVersion: parentCVersion, &step)
        case .delete(let path), .deleteContainer(let path):
            delete(path, &step)
        case .setData(let path, let data, let version):
            guard var node = current(path, step) else { return }
            node.data = data
            node.version = version
            node.mzxid = step.header.zxid
            node.mtime = step.header.time
            write(path, node, &step)
        case .setACL(let path, _, let version):
            // The digest leaves the ACL out; the aversion is in it.
            guard var node = current(path, step) else { return }
            node.aversion = version
            write(path, node, &step)
        case .multi(let bodies):
            guard !bodies.contains(where: { if case .error = $0 { return true } else { return false } }) else { return }
            for body in bodies { apply(body, &step) }
        }
    }

    mutating func create(_ path: String, data: [UInt8]?, owner: Int64, parentCVersion: Int32, _ step: inout Step) {
        guard let parentPath = PathRules.parent(of: path), var parent = current(parentPath, step), current(path, step) == nil else { return }
        let newCVersion = parentCVersion == -1 ? parent.cversion &+ 1 : parentCVersion
        if newCVersion > parent.cversion {
            parent.cversion = newCVersion
            parent.pzxid = step.header.zxid
            write(parentPath, parent, &step)
        }
        let zxid = step.header.zxid, time = step.header.time
        write(path, DataNode(data: data, acl: [], czxid: zxid, mzxid: zxid, pzxid: zxid, ctime: time, mtime: time, ephemeralOwner: owner), &step)
    }

    mutating func delete(_ path: String, _ step: inout Step) {
        guard current(path, step) != nil, let parentPath = PathRules.parent(of: path), var parent = current(parentPath, step) else { return }
        if step.header.zxid > parent.pzxid {
            parent.pzxid = step.header.zxid
            write(parentPath, parent, &step)
        }
        write(path, nil, &step)
    }
}
