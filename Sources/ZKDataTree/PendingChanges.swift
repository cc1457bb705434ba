import ZKModel

/// What prepare needs to know about a node, committed or pending (ZooKeeper's `ChangeRecord`).
public struct ChangeRecord: Hashable, Sendable {
    public var exists: Bool
    public var acl: [ACL]
    public var version: Int32
    /// The stored cversion: child creations only.
    public var cversion: Int32
    public var aversion: Int32
    public var ephemeralOwner: Int64
    public var childCount: Int
    /// The zxid of the pending txn that produced this record.
    public var zxid: Zxid

    init(_ node: DataNode) {
        exists = true
        acl = node.acl
        version = node.version
        cversion = node.cversion
        aversion = node.aversion
        ephemeralOwner = node.ephemeralOwner
        childCount = node.children.count
        zxid = 0
    }

    init(createdWith acl: [ACL], ephemeralOwner: Int64, zxid: Zxid) {
        exists = true
        self.acl = acl
        version = 0
        cversion = 0
        aversion = 0
        self.ephemeralOwner = ephemeralOwner
        childCount = 0
        self.zxid = zxid
    }
}

/// The overlay of prepared but not yet applied writes. Validation of a new write sees the
/// committed tree as these pending txns will leave it, so pipelined writes validate correctly.
public struct PendingChanges: Sendable {
    /// Latest pending state per path; a record with `exists == false` is a pending delete.
    public private(set) var records: [String: ChangeRecord] = [:]

    public init() {}

    public var isEmpty: Bool { records.isEmpty }

    /// Forgets records whose txns are applied to the tree now.
    public mutating func removeApplied(upTo zxid: Zxid) {
        guard !records.isEmpty else { return }
        records = records.filter { $0.value.zxid > zxid }
    }

    public mutating func removeAll() { records.removeAll() }

    func record(_ path: String, in tree: DataTree) -> ChangeRecord? {
        if let pending = records[path] { return pending.exists ? pending : nil }
        return tree.node(path).map(ChangeRecord.init)
    }

    mutating func set(_ path: String, _ record: ChangeRecord) { records[path] = record }

    /// The session's ephemeral paths as the pending txns will leave them, sorted.
    func ephemeralPaths(of session: SessionID, in tree: DataTree) -> [String] {
        var paths = Set(tree.ephemerals[session] ?? [])
        for (path, record) in records {
            if record.exists && record.ephemeralOwner == session {
                paths.insert(path)
            } else if !record.exists {
                paths.remove(path)
            }
        }
        return paths.sorted()
    }
}
