import ZKDataTree
import ZKModel

/// The files of a data directory, as listed and read by the shell.
public struct DataFiles {
    public var snapshots: [DataFileName]
    public var logs: [DataFileName]
    public var read: (DataFileName) throws -> [UInt8]

    public init(snapshots: [DataFileName], logs: [DataFileName], read: @escaping (DataFileName) throws -> [UInt8]) {
        self.snapshots = snapshots
        self.logs = logs
        self.read = read
    }
}

public struct RecoveryOptions: Sendable {
    /// The largest log entry payload accepted.
    public var payloadBytesMax: Int
    /// `snapshot.trust.empty`: logs without any snapshot are replayed from an empty tree
    /// instead of stopping start-up.
    public var trustEmptySnapshot = false
    /// How many of the newest snapshots are tried before giving up (ZooKeeper looks at 100).
    public var snapshotsTriedMax = 100

    public init(payloadBytesMax: Int) { self.payloadBytesMax = payloadBytesMax }
}

/// The state a data directory holds, and what the shell must do about its files.
public struct RecoveredState: Sendable {
    public var tree: DataTree
    /// Live sessions and their timeouts.
    public var sessions: [SessionID: Int32]
    /// The snapshot the state was built on; nil for an empty directory or trusted empty snapshot.
    public var snapshot: DataFileName?
    public var replayedTxnCount = 0
    /// A torn final entry in the newest log: the file should be cut at `offset`.
    public var tornTail: (file: DataFileName, offset: Int, reason: String)?
    /// Things worth a log line: snapshots skipped, sessions killed, torn tails in older files,
    /// digest mismatches.
    public var notes: [String] = []
    /// Txns or snapshots whose recorded tree digest differed from the recomputed one (ZooKeeper
    /// only logs and counts these too).
    public var digestMismatches = 0
    /// The snapshot's digest record, checked once replay reaches its zxid.
    var pendingDigest: (zxid: Zxid, value: UInt64)?

    public var lastZxid: Zxid { tree.lastProcessedZxid }
}

public enum RecoveryError: Error, CustomStringConvertible, Equatable {
    case corruptLog(file: String, offset: Int, reason: String)
    case missingTxns(after: Zxid, next: Zxid, file: String)
    case logsWithoutSnapshot(firstLog: String)
    case noValidSnapshot(tried: [String])
    case unreadable(file: String, reason: String)

    public var description: String {
        switch self {
        case .corruptLog(let file, let offset, let reason):
            return "transaction log \(file) is damaged at offset \(offset): \(reason)"
        case .missingTxns(let after, let next, let file):
            return "transactions are missing: after zxid 0x\(String(after, radix: 16)) the next one found is 0x\(String(next, radix: 16)) in \(file)"
        case .logsWithoutSnapshot(let firstLog):
            return "transaction logs exist (\(firstLog), …) but no snapshot; set snapshot.trust.empty=true to replay them from an empty tree"
        case .noValidSnapshot(let tried):
            return "no valid snapshot among \(tried.joined(separator: ", "))"
        case .unreadable(let file, let reason):
            return "cannot read \(file): \(reason)"
        }
    }
}

/// Start-up recovery as ZooKeeper does it: the newest valid snapshot, then every logged txn
/// after it, replayed idempotently. Stricter than ZooKeeper in one way: a gap in the zxid
/// sequence stops start-up instead of silently skipping committed data.
public enum Recovery {
    public static func recover(_ files: DataFiles, options: RecoveryOptions) throws -> RecoveredState {
        var state = try loadSnapshot(files, options: options)
        try replayLogs(files, options: options, into: &state)
        let owners = Set(state.tree.ephemerals.keys)
        for sessionId in owners.subtracting(state.sessions.keys).sorted() {
            state.tree.killSession(sessionId, zxid: state.tree.lastProcessedZxid)
            state.notes.append("removed the ephemerals of dead session 0x\(String(UInt64(bitPattern: sessionId), radix: 16))")
        }
        return state
    }

    static func loadSnapshot(_ files: DataFiles, options: RecoveryOptions) throws -> RecoveredState {
        let newestFirst = files.snapshots.sorted(by: >).prefix(options.snapshotsTriedMax)
        var notes: [String] = []
        for name in newestFirst {
            do {
                let bytes = try files.read(name)
                let contents = try SnapshotFormat.decode(bytes, zxid: name.zxid, lengthMax: Int32(clamping: options.payloadBytesMax))
                var state = RecoveredState(tree: contents.tree, sessions: contents.sessions, snapshot: name)
                state.notes = notes
                state.pendingDigest = contents.digest
                checkSnapshotDigest(&state)
                return state
            } catch {
                notes.append("skipped snapshot \(name.name): \(error)")
            }
        }
        if !newestFirst.isEmpty { throw RecoveryError.noValidSnapshot(tried: newestFirst.map(\.name)) }
        if let firstLog = files.logs.min(), !options.trustEmptySnapshot {
            throw RecoveryError.logsWithoutSnapshot(firstLog: firstLog.name)
        }
        var state = RecoveredState(tree: DataTree(), sessions: [:], snapshot: nil)
        state.notes = notes
        return state
    }

    static func replayLogs(_ files: DataFiles, options: RecoveryOptions, into state: inout RecoveredState) throws {
        let logs = files.logs.sorted()
        let base = state.tree.lastProcessedZxid
        let scanner = TxnLogScanner(payloadBytesMax: options.payloadBytesMax)
        var startIndex = logs.lastIndex { $0.zxid <= base } ?? 0
        // A log without txns (a crash right after it was created) does not start where its
        // name says: a later restart may have logged those zxids in a file named lower. Read
        // from the log before it (found by the simulator).
        while startIndex > 0, (try? scanner.scan(files.read(logs[startIndex])).txns.isEmpty) ?? false { startIndex -= 1 }
        for index in logs.indices where index >= startIndex {
            let name = logs[index]
            let bytes: [UInt8]
            do {
                bytes = try files.read(name)
            } catch {
                throw RecoveryError.unreadable(file: name.name, reason: "\(error)")
            }
            let scan = scanner.scan(bytes)
            for logged in scan.txns where logged.txn.zxid > state.tree.lastProcessedZxid {
                try checkContinuity(after: state.tree.lastProcessedZxid, next: logged.txn.zxid, file: name)
                apply(logged.txn, to: &state)
                checkSnapshotDigest(&state)
                if let digest = logged.digest, digest.version == TreeDigest.version,
                    UInt64(bitPattern: digest.treeDigest) != state.tree.digest
                {
                    noteDigestMismatch("txn 0x\(String(logged.txn.zxid, radix: 16)) in \(name.name)", &state)
                }
            }
            switch scan.end {
            case .clean:
                break
            case .corrupt(let offset, let reason):
                throw RecoveryError.corruptLog(file: name.name, offset: offset, reason: reason)
            case .tornTail(let offset, let reason):
                if index == logs.count - 1 {
                    state.tornTail = (name, offset, reason)
                } else {
                    state.notes.append("log \(name.name) ends with an incomplete entry at offset \(offset) (\(reason)); reading on from the next log")
                }
            }
        }
    }

    /// A fuzzy snapshot's digest belongs to a zxid at or after its own: check it when there.
    static func checkSnapshotDigest(_ state: inout RecoveredState) {
        guard let pending = state.pendingDigest, pending.zxid <= state.tree.lastProcessedZxid else { return }
        state.pendingDigest = nil
        if pending.zxid == state.tree.lastProcessedZxid && pending.value != state.tree.digest {
            noteDigestMismatch("snapshot \(state.snapshot?.name ?? "")", &state)
        }
    }

    static func noteDigestMismatch(_ what: String, _ state: inout RecoveredState) {
        state.digestMismatches += 1
        if state.digestMismatches <= 10 { state.notes.append("tree digest mismatch after \(what)") }
    }

    /// Within an epoch zxids are consecutive; a new epoch may start anywhere above.
    static func checkContinuity(after last: Zxid, next: Zxid, file: DataFileName) throws {
        let sameEpoch = ZxidLayout.epoch(of: next) == ZxidLayout.epoch(of: last)
        if sameEpoch && next != last + 1 {
            throw RecoveryError.missingTxns(after: last, next: next, file: file.name)
        }
    }

    static func apply(_ txn: Txn, to state: inout RecoveredState) {
        switch txn.body {
        case .createSession(let timeoutMs): state.sessions[txn.header.clientId] = timeoutMs
        case .closeSession: state.sessions[txn.header.clientId] = nil
        default: break
        }
        state.tree.replay(txn)
        state.replayedTxnCount += 1
    }
}

/// Which files a purge deletes (`PurgeTxnLog`): keep the `retainCount` newest valid snapshots
/// and every log needed to replay from the oldest of them; delete older snapshots and logs.
public enum PurgePlan {
    public static func filesToDelete(validSnapshots: [DataFileName], allFiles: [DataFileName], retainCount: Int) -> [DataFileName] {
        let kept = validSnapshots.sorted(by: >).prefix(max(retainCount, 1))
        guard let oldestKept = kept.last else { return [] }
        let logs = allFiles.filter { $0.kind == .log }.sorted()
        let neededLog = logs.last { $0.zxid <= oldestKept.zxid }
        return allFiles.filter { file in
            guard file.zxid < oldestKept.zxid else { return false }
            return file != neededLog
        }.sorted()
    }
}
