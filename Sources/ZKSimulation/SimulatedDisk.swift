import NIOCore
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence

/// One member's data directory as bytes, in ZooKeeper's formats: `log.<zxid>` files written
/// entry by entry and made durable by fsync, `snapshot.<zxid>` files, and the epoch files.
/// A crash keeps what was fsynced plus any prefix of what was only written, cut at any byte
/// (a torn tail); a restart reads it back through the real `Recovery`.
struct SimulatedDisk {
    struct LogFile {
        var bytes: [UInt8]
        /// Bytes known to be on the platter.
        var durableBytes: Int
    }

    var acceptedEpoch: Int64 = 0
    var currentEpoch: Int64 = 0
    var snapshots: [Zxid: [UInt8]] = [:]
    var logs: [Zxid: LogFile] = [:]
    /// Where the retained logs begin: 0, or the snapshot a SNAP sync installed. Every txn
    /// after it is kept, so a TRUNC can go back below newer snapshots.
    var baseZxid: Zxid = 0
    /// Periodic snapshots wait until the log is durable up to their zxid before they count
    /// (a snapshot must never be ahead of the durable log: the peer's history would have a
    /// hole between the log's end and the snapshot).
    var pendingSnapshots: [Zxid: [UInt8]] = [:]
    /// The log appends go to; a new one starts after a restart, a TRUNC or a SNAP.
    var currentLog: Zxid?
    static let options: RecoveryOptions = {
        var options = RecoveryOptions(payloadBytesMax: 0xfffff + 1024)
        options.trustEmptySnapshot = true
        return options
    }()

    /// Writes txns (not yet durable); returns where an fsync issued now would reach.
    mutating func append(_ txns: [Txn]) -> (file: Zxid, length: Int) {
        let file = currentLog ?? txns[0].zxid
        if currentLog == nil {
            logs[file] = LogFile(bytes: Array(TxnLogFormat.fileHeader().readableBytesView), durableBytes: 0)
            currentLog = file
        }
        for txn in txns { logs[file]!.bytes += TxnLogFormat.entry(txn).readableBytesView }
        return (file, logs[file]!.bytes.count)
    }

    /// An fsync issued when the file was `length` bytes long, its last txn `zxid`, completed.
    mutating func synced(file: Zxid, length: Int, upTo zxid: Zxid) {
        guard let log = logs[file] else { return }
        logs[file]!.durableBytes = max(log.durableBytes, min(length, log.bytes.count))
        for (snapshotZxid, bytes) in pendingSnapshots where snapshotZxid <= zxid {
            snapshots[snapshotZxid] = bytes
            pendingSnapshots[snapshotZxid] = nil
        }
    }

    /// Power loss: each log keeps its durable bytes, and the unsynced writes survive as a
    /// prefix of the order they were written in (`extraBytes(unsynced)` of the first file
    /// that has some; nothing after it), as with the server's single log writer, which makes
    /// one batch durable before it writes the next.
    mutating func crash(extraBytes: (Int) -> Int) {
        var cut = false
        for file in logs.keys.sorted() {
            let log = logs[file]!
            let unsynced = log.bytes.count - log.durableBytes
            let extra = cut ? 0 : extraBytes(unsynced)
            if extra < unsynced { cut = true }
            let kept = log.durableBytes + extra
            logs[file] = LogFile(bytes: Array(log.bytes.prefix(kept)), durableBytes: kept)
        }
        currentLog = nil
        pendingSnapshots = [:]
    }

    var files: DataFiles {
        DataFiles(
            snapshots: snapshots.keys.sorted().map { DataFileName(kind: .snapshot, zxid: $0) },
            logs: logs.keys.sorted().map { DataFileName(kind: .log, zxid: $0) },
            read: { [snapshots, logs] name in
                name.kind == .snapshot ? snapshots[name.zxid] ?? [] : logs[name.zxid]?.bytes ?? []
            })
    }

    /// Start-up as the server does it: recovery, then the torn tail cut off. Returns the
    /// state, and the txns logged after the snapshot, which the peer starts with.
    mutating func recover() throws -> (state: RecoveredState, durable: PeerDurableState) {
        let state = try Recovery.recover(files, options: Self.options)
        if let torn = state.tornTail {
            logs[torn.file.zxid]!.bytes.removeLast(logs[torn.file.zxid]!.bytes.count - torn.offset)
            logs[torn.file.zxid]!.durableBytes = min(logs[torn.file.zxid]!.durableBytes, torn.offset)
        }
        // The peer gets every retained txn, not just those after the newest snapshot: a
        // snapshot may hold txns this member only fast-forwarded, which a TRUNC takes back.
        let log = try EnsembleDiskPlan.loggedTxns(files, payloadBytesMax: Self.options.payloadBytesMax)
            .filter { $0.zxid > baseZxid && $0.zxid <= state.lastZxid }
        return (state, PeerDurableState(acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch, baseZxid: baseZxid, log: log))
    }

    /// A periodic snapshot of the applied state (which may be ahead of what is durable in
    /// the log, or not committed at all); the log rolls with it.
    mutating func takeSnapshot(tree: DataTree, sessions: [SessionID: Int32]) {
        pendingSnapshots[tree.lastProcessedZxid] = Array(SnapshotFormat.encode(tree: tree, sessions: sessions).readableBytesView)
        currentLog = nil
    }

    /// autopurge (`PurgePlan`, as the server runs it): the newest `retainCount` durable
    /// snapshots stay with the logs needed after the oldest of them; the retained history
    /// then begins at the oldest log left. Returns how many files went.
    mutating func purge(retainCount: Int) -> Int {
        let names = files
        let deletions = PurgePlan.filesToDelete(validSnapshots: names.snapshots, allFiles: names.snapshots + names.logs, retainCount: retainCount)
        for file in deletions {
            switch file.kind {
            case .snapshot: snapshots[file.zxid] = nil
            case .log:
                precondition(file.zxid != currentLog, "purge would delete the log being written, 0x\(String(file.zxid, radix: 16))")
                logs[file.zxid] = nil
            }
        }
        if deletions.contains(where: { $0.kind == .log }), let first = logs.keys.min() { baseZxid = max(baseZxid, first - 1) }
        return deletions.count
    }

    /// Every readable txn in the logs, in zxid order (durable or not: the page cache has them).
    func loggedTxns(durableOnly: Bool = false) -> [Txn] {
        let scanner = TxnLogScanner(payloadBytesMax: Self.options.payloadBytesMax)
        var txns: [Txn] = []
        for file in logs.keys.sorted() {
            let log = logs[file]!
            let bytes = durableOnly ? Array(log.bytes.prefix(log.durableBytes)) : log.bytes
            for logged in scanner.scan(bytes).txns where logged.txn.zxid > (txns.last?.zxid ?? 0) { txns.append(logged.txn) }
        }
        return txns
    }

    /// TRUNC: every log entry after `zxid` goes, and every snapshot after it (ZooKeeper
    /// deletes those too); the state is then read back from disk.
    mutating func truncate(to zxid: Zxid) throws -> RecoveredState {
        precondition(zxid >= baseZxid, "TRUNC to 0x\(String(zxid, radix: 16)) below the retained base 0x\(String(baseZxid, radix: 16))")
        for snapshot in pendingSnapshots.keys where snapshot > zxid { pendingSnapshots[snapshot] = nil }
        let plan = try EnsembleDiskPlan.truncation(files, to: zxid, payloadBytesMax: Self.options.payloadBytesMax)
        for file in plan.deletions {
            if file.kind == .snapshot { snapshots[file.zxid] = nil } else { logs[file.zxid] = nil }
        }
        for (file, cut) in plan.cuts {
            logs[file.zxid]!.bytes.removeLast(logs[file.zxid]!.bytes.count - cut)
            logs[file.zxid]!.durableBytes = min(logs[file.zxid]!.durableBytes, cut)
        }
        currentLog = nil
        return try Recovery.recover(files, options: Self.options)
    }

    /// SNAP: the leader's state becomes this member's snapshot; older files are superseded.
    mutating func installSnapshot(zxid: Zxid, _ snapshot: SyncSnapshot) {
        snapshots = [zxid: Array(SnapshotFormat.encode(tree: snapshot.tree, sessions: snapshot.sessions).readableBytesView)]
        logs = [:]
        currentLog = nil
        pendingSnapshots = [:]
        baseZxid = zxid
    }

    /// The zxids this member could not lose in a crash: under a snapshot or fsynced.
    func holdsDurably(_ zxid: Zxid) -> Bool {
        if let newest = snapshots.keys.max(), newest >= zxid { return true }
        return loggedTxns(durableOnly: true).contains { $0.zxid == zxid }
    }
}
