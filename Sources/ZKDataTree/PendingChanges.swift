import DequeModule
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
/// Every operation costs in proportion to what it changes, never to how much is pending:
/// applying a txn forgets only the records it wrote, a session's ephemerals are found through
/// an index, and a failed multi undoes only its own records.
public struct PendingChanges: Sendable {
    /// Latest pending state per path; a record with `exists == false` is a pending delete.
    public private(set) var records: [String: ChangeRecord] = [:]
    /// The paths each pending txn wrote, in zxid order.
    private var pathsByTxn: Deque<(zxid: Zxid, paths: [String])> = []
    /// Paths whose pending record is a live ephemeral, by owner session.
    private var ephemeralsBySession: [SessionID: Set<String>] = [:]
    /// Paths written by the txn being prepared.
    private var txnPaths: [String] = []
    /// While a multi is prepared: each record it replaced, to put back if an op fails.
    private var undoLog: [(path: String, previous: ChangeRecord?)]?

    public init() {}

    public var isEmpty: Bool { records.isEmpty }

    /// Forgets the records of txns applied to the tree now (a later txn's record stays).
    public mutating func removeApplied(upTo zxid: Zxid) {
        while let first = pathsByTxn.first, first.zxid <= zxid {
            pathsByTxn.removeFirst()
            for path in first.paths {
                guard let record = records[path], record.zxid <= zxid else { continue }
                records[path] = nil
                unindex(path, record)
            }
        }
    }

    public mutating func removeAll() { self = PendingChanges() }

    func record(_ path: String, in tree: DataTree) -> ChangeRecord? {
        if let pending = records[path] { return pending.exists ? pending : nil }
        return tree.node(path).map(ChangeRecord.init)
    }

    mutating func set(_ path: String, _ record: ChangeRecord) {
        let previous = records.updateValue(record, forKey: path)
        undoLog?.append((path, previous))
        txnPaths.append(path)
        if let previous { unindex(path, previous) }
        index(path, record)
    }

    /// Starts bookkeeping for the txn with `zxid`; `finishTxn` files what it wrote.
    mutating func beginTxn() { txnPaths = [] }

    mutating func finishTxn(_ zxid: Zxid) {
        if !txnPaths.isEmpty { pathsByTxn.append((zxid, txnPaths)) }
        txnPaths = []
    }

    mutating func beginMulti() { undoLog = [] }

    /// Ends a multi; a failed one puts back every record it replaced, newest first.
    mutating func finishMulti(failed: Bool) {
        let log = undoLog ?? []
        undoLog = nil
        guard failed else { return }
        for (path, previous) in log.reversed() {
            if let current = records[path] { unindex(path, current) }
            records[path] = previous
            if let previous { index(path, previous) }
        }
        txnPaths = []
    }

    private mutating func index(_ path: String, _ record: ChangeRecord) {
        guard record.exists, EphemeralOwner.session(record.ephemeralOwner) != nil else { return }
        ephemeralsBySession[record.ephemeralOwner, default: []].insert(path)
    }

    private mutating func unindex(_ path: String, _ record: ChangeRecord) {
        guard record.exists, EphemeralOwner.session(record.ephemeralOwner) != nil else { return }
        ephemeralsBySession[record.ephemeralOwner]?.remove(path)
        if ephemeralsBySession[record.ephemeralOwner]?.isEmpty == true { ephemeralsBySession[record.ephemeralOwner] = nil }
    }

    /// The session's ephemeral paths as the pending txns will leave them, sorted.
    func ephemeralPaths(of session: SessionID, in tree: DataTree) -> [String] {
        var candidates = ephemeralsBySession[session] ?? []
        candidates.formUnion(tree.ephemerals[session] ?? [])
        return candidates.filter { path in
            guard let record = records[path] else { return true }
            return record.exists && record.ephemeralOwner == session
        }.sorted()
    }
}
