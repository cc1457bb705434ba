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

    /// An fsync issued when the file was `length` bytes long completed.
    mutating func synced(file: Zxid, length: Int) {
        guard let log = logs[file] else { return }
        logs[file]!.durableBytes = max(log.durableBytes, min(length, log.bytes.count))
    }

    /// Power loss: each log keeps its durable bytes and `extraBytes(unsynced)` of the rest.
    mutating func crash(extraBytes: (Int) -> Int) {
        for file in logs.keys.sorted() {
            let log = logs[file]!
            let kept = log.durableBytes + extraBytes(log.bytes.count - log.durableBytes)
            logs[file] = LogFile(bytes: Array(log.bytes.prefix(kept)), durableBytes: kept)
        }
        currentLog = nil
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
        let base = state.snapshot?.zxid ?? 0
        let log = loggedTxns().filter { $0.zxid > base && $0.zxid <= state.lastZxid }
        return (state, PeerDurableState(acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch, baseZxid: base, log: log))
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

    /// TRUNC: every log entry after `zxid` goes; the state is then read back from disk.
    mutating func truncate(to zxid: Zxid) throws -> RecoveredState {
        let scanner = TxnLogScanner(payloadBytesMax: Self.options.payloadBytesMax)
        for file in logs.keys.sorted() {
            if file > zxid {
                logs[file] = nil
                continue
            }
            guard let cut = scanner.scan(logs[file]!.bytes).txns.first(where: { $0.txn.zxid > zxid })?.offset else { continue }
            logs[file]!.bytes.removeLast(logs[file]!.bytes.count - cut)
            logs[file]!.durableBytes = min(logs[file]!.durableBytes, cut)
        }
        currentLog = nil
        return try Recovery.recover(files, options: Self.options)
    }

    /// SNAP: the leader's state becomes this member's snapshot; older files are superseded.
    mutating func installSnapshot(zxid: Zxid, _ snapshot: SyncSnapshot) {
        snapshots = [zxid: Array(SnapshotFormat.encode(tree: snapshot.tree, sessions: snapshot.sessions).readableBytesView)]
        logs = [:]
        currentLog = nil
    }

    /// The zxids this member could not lose in a crash: under its snapshot or fsynced.
    func holdsDurably(_ zxid: Zxid) -> Bool {
        if let newest = snapshots.keys.max(), newest >= zxid { return true }
        return loggedTxns(durableOnly: true).contains { $0.zxid == zxid }
    }
}
