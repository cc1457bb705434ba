import ZKDataTree
import ZKModel

/// ZooKeeper 3.9's AdminServer `snapshot` command: the caller must hold ALL on `/`, proven
/// by an `Authorization: <scheme> <data>` header (`digest user:password`, or `ip`), and
/// one snapshot is taken per rate-limiter interval.
extension Replica {
    /// nil: take and send the snapshot; otherwise the HTTP status and JSON to answer.
    public mutating func adminSnapshotRefusal(authorization: String?, clientAddress: String, now: ReplicaTime) -> (
        status: Int, json: AdminJSON
    )? {
        let refuse = Self.refusal("snapshot")
        if let refused = adminAccessRefusal("snapshot", authorization: authorization, clientAddress: clientAddress) { return refused }
        guard configuration.adminSnapshotEnabled else { return refuse(503, nil) }
        // ZooKeeper's snapshot limiter reads its interval setting as microseconds.
        let intervalMs = configuration.adminRateLimiterIntervalMs / 1000
        if let last = lastAdminSnapshotMs, now.elapsedMs - last < intervalMs {
            metrics.count(.snapshotRateLimitedCount)
            return refuse(429, nil)
        }
        lastAdminSnapshotMs = now.elapsedMs
        return nil
    }

    public mutating func countSnapshotError() { metrics.count(.snapshotErrorCount) }

    /// How a refused `snapshot` or `restore` answers: the status, and JSON with the error.
    static func refusal(_ command: String) -> (Int, String?) -> (status: Int, json: AdminJSON) {
        { status, error in (status, .object([("command", .string(command)), ("error", error.map { .string($0) } ?? .null)])) }
    }

    /// ZooKeeper's checks before a command with an auth request runs: the server serves, the
    /// header proves ids, and they hold every permission bit on `/`.
    mutating func adminAccessRefusal(_ command: String, authorization: String?, clientAddress: String) -> (
        status: Int, json: AdminJSON
    )? {
        let refuse = Self.refusal(command)
        guard isServing else { return refuse(200, "This ZooKeeper instance is not currently serving requests") }
        guard let authorization else { return refuse(401, "Auth info is missing for the command") }
        guard let ids = adminAuthenticate(authorization, clientAddress: clientAddress) else {
            stats.authFailed += 1
            return refuse(401, "Not authenticated")
        }
        let rootACL = tree.node("/")?.acl ?? []
        let bits: [Permissions] = [.read, .write, .create, .delete, .admin]
        guard bits.allSatisfy({ ACLRules.allows(rootACL, $0, ids: ids, skipACL: configuration.skipACL) }) else {
            return refuse(403, "Not authorized")
        }
        return nil
    }

    /// The ids an admin request's `Authorization` header proves, as ZooKeeper's providers
    /// give them; nil when it proves nothing.
    func adminAuthenticate(_ authorization: String, clientAddress: String) -> [Id]? {
        let parts = authorization.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        switch parts[0] {
        case "digest":
            guard parts.count == 2, configuration.digestAuthEnabled else { return nil }
            let digestId = DigestHash.digestId(forCredentials: parts[1])
            var ids = [Id(scheme: "digest", id: digestId)]
            if let superDigest = configuration.superDigest, superDigest == digestId { ids.append(Id(scheme: "super", id: "")) }
            return ids
        case "ip":
            return [Id(scheme: "ip", id: clientAddress)]
        default:
            return nil
        }
    }
}

/// ZooKeeper 3.9's `restore` (POST a snapshot): the same authentication as `snapshot`, one
/// per `admin.rateLimiterIntervalInMS` (in ms here, as ZooKeeper's restore limiter reads it).
/// Standalone only: an ensemble member's restored tree would not be its ensemble's.
extension Replica {
    public mutating func adminRestoreRefusal(authorization: String?, clientAddress: String, bodyBytes: Int, now: ReplicaTime) -> (
        status: Int, json: AdminJSON
    )? {
        let refuse = Self.refusal("restore")
        if let refused = adminAccessRefusal("restore", authorization: authorization, clientAddress: clientAddress) { return refused }
        guard configuration.adminRestoreEnabled else { return refuse(503, nil) }
        guard peer == nil else { return refuse(500, "restore is supported on a standalone server only") }
        guard bodyBytes > 0 else { return refuse(400, nil) }
        if let last = lastAdminRestoreMs, now.elapsedMs - last < configuration.adminRateLimiterIntervalMs {
            metrics.count(.restoreRateLimitedCount)
            return refuse(429, nil)
        }
        lastAdminRestoreMs = now.elapsedMs
        return nil
    }

    /// A standalone server takes a restored snapshot as its state: every connection is
    /// closed (its client reconnects; a session the snapshot does not hold is gone), the
    /// txns not yet durable are dropped with their connections, and the next txn follows the
    /// snapshot's zxid. The shell has already closed the log and put the snapshot on disk.
    public mutating func restoreFromSnapshot(tree: DataTree, sessionTimeouts: [SessionID: Int32], now: ReplicaTime) -> [ReplicaAction] {
        precondition(peer == nil, "restore on an ensemble member \(configuration.serverId)")
        actions = []
        let before = self.tree.lastProcessedZxid
        inFlight.removeAll()
        expiring.removeAll()
        for id in connections.keys.sorted() {
            close(id)
            _ = connectionClosed(id, now: now)
        }
        replaceState(tree: tree, sessionTimeouts: sessionTimeouts, now: now)
        lastPreparedZxid = tree.lastProcessedZxid
        durableZxid = tree.lastProcessedZxid
        log(.notice, "restored from a snapshot", [
            "zxidBefore": "0x\(hex(before))", "zxid": "0x\(hex(tree.lastProcessedZxid))", "nodes": "\(tree.nodeCount)",
            "sessions": "\(sessionTimeouts.count)",
        ])
        return takeActions(now: now)
    }

    public mutating func countRestoreError() { metrics.count(.restoreErrorCount) }
}
