import Foundation
import Logging
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence

/// An ensemble member's disk work beyond appending txns: the epoch files, TRUNC and SNAP.
/// Runs on the replica loop, in the order the peer decided (an epoch file is durable before
/// the message that depends on it leaves), and briefly stops the log around TRUNC and SNAP
/// so that no write races the files being cut.
struct EnsembleDisk {
    let directory: DataDirectory
    let options: RecoveryOptions
    let logger: Logger

    static let acceptedEpochFile = "acceptedEpoch"
    static let currentEpochFile = "currentEpoch"

    func epochPath(_ name: String) -> String { (directory.snapshotDirectory as NSString).appendingPathComponent(name) }

    /// ZooKeeper's epoch files: the decimal number, no newline, in `dataDir/version-2`,
    /// written atomically (temporary file, fsync, rename, fsync of the directory).
    func writeEpoch(_ name: String, _ value: Int64) throws {
        let path = epochPath(name)
        let temporary = path + ".tmp"
        let file = try PosixFile.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            let bytes = Array(String(value).utf8)
            try bytes.withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            file.close()
        } catch {
            file.close()
            throw error
        }
        try PosixFile.rename(temporary, to: path)
        try PosixFile.syncDirectory(directory.snapshotDirectory)
    }

    func readEpoch(_ name: String) throws -> Int64? {
        let path = epochPath(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard let value = Int64(line.trimmingCharacters(in: .whitespaces)) else {
            throw StartupError(description: "\(path) holds '\(line)', not an epoch")
        }
        return value
    }

    /// What the peer starts with. Missing epoch files are made as ZooKeeper makes them:
    /// currentEpoch from the last zxid, acceptedEpoch equal to it.
    func durableState(_ state: RecoveredState) throws -> PeerDurableState {
        let files = directory.files()
        let (baseZxid, log) = try EnsembleDiskPlan.peerLog(files, payloadBytesMax: options.payloadBytesMax, upTo: state.lastZxid)
        var current = try readEpoch(Self.currentEpochFile)
        if current == nil {
            current = ZxidLayout.epoch(of: state.lastZxid)
            try writeEpoch(Self.currentEpochFile, current!)
            logger.info("\(Self.currentEpochFile) not found; made from the last zxid", metadata: ["epoch": "\(current!)"])
        }
        var accepted = try readEpoch(Self.acceptedEpochFile)
        if accepted == nil {
            accepted = current
            try writeEpoch(Self.acceptedEpochFile, accepted!)
        }
        guard current! <= accepted! else {
            throw StartupError(description: "\(epochPath(Self.currentEpochFile)) (\(current!)) is newer than \(epochPath(Self.acceptedEpochFile)) (\(accepted!))")
        }
        return PeerDurableState(acceptedEpoch: accepted!, currentEpoch: current!, baseZxid: baseZxid, log: log)
    }

    /// TRUNC: cut every log after `zxid`, delete later logs and snapshots, and read back
    /// what is left. The log must be stopped (`FileTxnLog.reset`) first.
    func truncate(to zxid: Zxid) throws -> RecoveredState {
        let plan = try EnsembleDiskPlan.truncation(directory.files(), to: zxid, payloadBytesMax: options.payloadBytesMax)
        for (file, offset) in plan.cuts.sorted(by: { $0.key < $1.key }) { try directory.truncate(file, at: offset) }
        for file in plan.deletions { try FileManager.default.removeItem(atPath: directory.path(of: file)) }
        try PosixFile.syncDirectory(directory.logDirectory)
        try PosixFile.syncDirectory(directory.snapshotDirectory)
        logger.info("log truncated (TRUNC)", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "cut": "\(plan.cuts.count)", "deleted": "\(plan.deletions.count)"])
        return try directory.recover(options: options)
    }

    /// DIFF from the log for a learner whose last zxid is `lastZxid`: the logged txns from
    /// there on, when they take at most `snapshotSizeFactor` × the newest snapshot's size
    /// (ZooKeeper's rule; a negative factor turns it off). Nil means SNAP: the log does not
    /// reach back, is too large, or cannot be read (a purge may be removing it).
    func logDiff(after lastZxid: Zxid, snapshotSizeFactor: Double) -> [Txn]? {
        guard snapshotSizeFactor >= 0 else { return nil }
        let files = directory.files()
        let snapshotBytes = directory.validSnapshots().max().flatMap {
            (try? FileManager.default.attributesOfItem(atPath: directory.path(of: $0))[.size] as? NSNumber)?.intValue
        } ?? 0
        guard let logged = try? EnsembleDiskPlan.loggedTxns(files, payloadBytesMax: options.payloadBytesMax, from: lastZxid) else { return nil }
        return EnsembleDiskPlan.logDiff(logged, after: lastZxid, bytesMax: Int(Double(snapshotBytes) * snapshotSizeFactor))
    }

    /// SNAP: the leader's state replaces this member's files. Logs go first (a crash then
    /// leaves an older snapshot without logs, a consistent state the next sync repairs;
    /// never a new snapshot with stale txns after it), then the snapshot is written, then
    /// older snapshots go. The log must be stopped first.
    func installSnapshot(zxid: Zxid, _ snapshot: SyncSnapshot) throws {
        for file in directory.list(.log) { try FileManager.default.removeItem(atPath: directory.path(of: file)) }
        try PosixFile.syncDirectory(directory.logDirectory)
        try directory.writeSnapshot(tree: snapshot.tree, sessions: snapshot.sessions, zxid: zxid)
        for file in directory.list(.snapshot) where file.zxid != zxid {
            try FileManager.default.removeItem(atPath: directory.path(of: file))
        }
        logger.info("snapshot installed (SNAP)", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "nodes": "\(snapshot.tree.nodes.count)"])
    }
}

extension DataDirectory {
    func files() -> DataFiles {
        DataFiles(snapshots: list(.snapshot), logs: list(.log)) { file in try PosixFile.readAll(path(of: file)) }
    }
}
