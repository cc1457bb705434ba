import ZKModel

extension Replica {
    /// The view the client connections' loops answer plain reads from (`ReadView`); nil
    /// while this member does not serve clients from its tree (an ensemble member between
    /// leaders, or read-only) or with `connectionLoopReads=no`.
    public var readView: ReadView? {
        servesReadViews ? ReadView(tree: tree, configuration: configuration) : nil
    }

    public var servesReadViews: Bool { configuration.connectionLoopReads && isServing }

    /// A connection's loop answered `count` reads from a view: the client was heard from,
    /// so its session and its connection live on as after any request, and the statistics
    /// count the requests and replies. Loops report at most every
    /// `ClientConnectionLimits.localReadsReportIntervalMs`, far inside any session timeout.
    public mutating func readsAnsweredLocally(_ id: ConnectionID, count: Int, now: ReplicaTime) -> [ReplicaAction] {
        actions = []
        guard let (phase, timeoutMs) = connections.peek(id, { ($0.phase, $0.negotiatedTimeoutMs) }),
            case .established(let sessionId) = phase
        else { return [] }
        connectionExpiry.update(id, now: now.elapsedMs, timeoutMs: Int64(timeoutMs))
        touch(sessionId, now: now)
        stats.packetsReceived += count
        stats.packetsSent += count
        // Answered within the millisecond they arrived in: ZooKeeper's whole-ms latency is 0.
        stats.recordLatency(0, times: count)
        metrics.observe(.readlatency, 0, times: count)
        connections.peek(id) { connection in
            connection.stats.packetsReceived += count
            connection.stats.packetsSent += count
        }
        return takeActions(now: now)
    }
}
