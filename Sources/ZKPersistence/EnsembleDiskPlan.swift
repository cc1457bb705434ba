import ZKModel

/// The data-directory rules of an ensemble member, shared by the server and the simulator
/// (which proved them): which txns the peer starts with, and what a TRUNC cuts and deletes.
public enum EnsembleDiskPlan {
    /// The txns a member's peer starts with: every retained logged txn up to the recovered
    /// state, not only those after the newest snapshot (a snapshot may hold txns this member
    /// only fast-forwarded, which a TRUNC takes back). `baseZxid` is the state below the
    /// first of them: the zxid just before it, or the recovered zxid when no log is left.
    public static func peerLog(_ files: DataFiles, payloadBytesMax: Int, upTo lastZxid: Zxid) throws -> (baseZxid: Zxid, log: [Txn]) {
        let txns = try loggedTxns(files, payloadBytesMax: payloadBytesMax).filter { $0.zxid <= lastZxid }
        guard let first = txns.first else { return (lastZxid, []) }
        // A history that starts at zxid 0 (snapshot.0 still there, the log from the first
        // txn of an epoch on) has base 0, as the simulator's members have.
        let startsAtZero = files.snapshots.contains { $0.zxid == 0 } && ZxidLayout.counter(of: first.zxid) == 1
        return (startsAtZero ? 0 : first.zxid - 1, txns)
    }

    /// Every readable txn of every log, in zxid order; a txn already seen in an earlier
    /// file (a restart logged it again) counts once. With `from`, reading starts at the
    /// newest log that begins at or before that zxid.
    public static func loggedTxns(_ files: DataFiles, payloadBytesMax: Int, from zxid: Zxid = 0) throws -> [Txn] {
        let scanner = TxnLogScanner(payloadBytesMax: payloadBytesMax)
        var txns: [Txn] = []
        let logs = files.logs.sorted()
        let start = logs.lastIndex { $0.zxid <= zxid } ?? 0
        for file in logs[start...] {
            for logged in scanner.scan(try files.read(file)).txns where logged.txn.zxid > (txns.last?.zxid ?? 0) {
                txns.append(logged.txn)
            }
        }
        return txns
    }

    /// DIFF from the log (ZooKeeper's `snapshotSizeFactor`): what a leader sends a learner
    /// whose last zxid is `lastZxid`, from the last logged txn at or before it on. Nil when
    /// the log does not reach back that far, or when the txns after it take more than
    /// `bytesMax` bytes of log (a snapshot is then the cheaper sync).
    public static func logDiff(_ logged: [Txn], after lastZxid: Zxid, bytesMax: Int) -> [Txn]? {
        guard let firstAfter = logged.firstIndex(where: { $0.zxid > lastZxid }) ?? (logged.isEmpty ? nil : logged.count),
            firstAfter > 0
        else { return nil }
        var bytes = 0
        for txn in logged[firstAfter...] {
            bytes += TxnLogFormat.entry(txn).readableBytes
            if bytes > bytesMax { return nil }
        }
        return Array(logged[(firstAfter - 1)...])
    }

    /// What a TRUNC to `zxid` does to the files.
    public struct Truncation: Equatable, Sendable {
        /// Logs to cut at a byte offset (every entry from there on is after `zxid`).
        public var cuts: [DataFileName: Int] = [:]
        /// Logs that start after `zxid`, and snapshots after it (ZooKeeper deletes those
        /// too: they may hold txns this member only fast-forwarded).
        public var deletions: [DataFileName] = []
    }

    public static func truncation(_ files: DataFiles, to zxid: Zxid, payloadBytesMax: Int) throws -> Truncation {
        var plan = Truncation()
        plan.deletions = files.snapshots.filter { $0.zxid > zxid }.sorted()
        let scanner = TxnLogScanner(payloadBytesMax: payloadBytesMax)
        for file in files.logs.sorted() {
            if file.zxid > zxid {
                plan.deletions.append(file)
                continue
            }
            if let cut = scanner.scan(try files.read(file)).txns.first(where: { $0.txn.zxid > zxid })?.offset {
                plan.cuts[file] = cut
            }
        }
        return plan
    }
}
