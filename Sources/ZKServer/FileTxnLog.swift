import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ZKModel
import ZKPersistence

/// Limits and switches of the file log, from `zoo.cfg`.
struct FileTxnLogConfiguration: Sendable {
    /// `<dataLogDir>/version-2`.
    var directory: String
    /// Preallocation block; 0 turns it off.
    var preAllocBytes: Int
    var forceSync: Bool
    /// The most txns one fsync covers.
    var batchTxnsMax: Int
    var fsyncWarningThresholdMs: Int
}

/// ZooKeeper's transaction log on disk with group commit. Appends from the replica loop are
/// queued; one writer thread takes everything queued (up to `batchTxnsMax` txns), writes it
/// with one `pwrite`, makes it durable with one `fdatasync`, and reports the last zxid through
/// `persisted`. A write or sync error stops the log for good: nothing more is written (so
/// the file never holds a txn after a gap) and `failed` is called once.
///
/// `@unchecked Sendable`: `queue` is only touched under `queueLock`; `file`, `position`, `fileSize`, `failure` and `generation` only on the
/// writer thread.
final class FileTxnLog: TxnLogWriter, @unchecked Sendable {
    enum Command {
        case append([Txn])
        case roll
        /// Ends the current file and starts a new generation: reports of txns written
        /// before it carry the old one (a TRUNC or SNAP is about to rewrite those zxids).
        case reset(done: @Sendable () -> Void)
        /// The graceful stop: what came before is written and synced, then nothing more.
        case close(done: @Sendable () -> Void)
    }

    let configuration: FileTxnLogConfiguration
    let logger: Logger
    private let persisted: @Sendable (Zxid, UInt64) -> Void
    private let failed: @Sendable (String) -> Void
    private let queueLock = ConditionLock(value: 0)
    private var queue: [Command] = []
    private var file: PosixFile?
    private var position = 0
    private var fileSize = 0
    private var failure: String?
    /// After `close`: later appends are dropped (the process is about to exit).
    private var closed = false
    private let slowSyncs = NIOLockedValueBox(0)
    var slowSyncCount: Int { slowSyncs.withLockedValue { $0 } }
    /// Bounded: a report takes them, and nobody asking for a day keeps only the newest.
    private let syncDurationsMs = NIOLockedValueBox<[Int64]>([])
    static let syncDurationsKeptMax = 4096

    func takeSyncDurationsMs() -> [Int64] { syncDurationsMs.withLockedValue { taken in defer { taken = [] }; return taken } }
    private let batchSizes = NIOLockedValueBox<[Int64]>([])

    func takeBatchSizes() -> [Int64] { batchSizes.withLockedValue { taken in defer { taken = [] }; return taken } }
    /// Bumped by `reset`; every durability report carries the generation it was written in.
    private var generation: UInt64 = 0

    init(
        configuration: FileTxnLogConfiguration, logger: Logger, persisted: @escaping @Sendable (Zxid, UInt64) -> Void,
        failed: @escaping @Sendable (String) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.persisted = persisted
        self.failed = failed
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "txn-log"
        thread.start()
    }

    func append(_ txns: [Txn]) { enqueue(.append(txns)) }

    /// The next append starts a new file (after a snapshot, as ZooKeeper rolls).
    func roll() { enqueue(.roll) }

    func close(done: @escaping @Sendable () -> Void) { enqueue(.close(done: done)) }

    /// Waits until what was queued before is written, closes the file and starts a new
    /// generation; returns it. Called from the replica loop around a TRUNC or SNAP, which
    /// then change the files while nothing is being written.
    func reset() -> UInt64 {
        let finished = ConditionLock(value: 0)
        enqueue(.reset(done: { finished.lock(); finished.unlock(withValue: 1) }))
        finished.lock(whenValue: 1)
        finished.unlock()
        return generationAfterReset.withLockedValue { $0 }
    }

    /// Written by the writer thread before it signals a reset done.
    private let generationAfterReset = NIOLockedValueBox<UInt64>(0)

    private func enqueue(_ command: Command) {
        queueLock.lock()
        queue.append(command)
        queueLock.unlock(withValue: 1)
    }

    private func takeQueued() -> [Command] {
        queueLock.lock(whenValue: 1)
        let commands = queue
        queue = []
        queueLock.unlock(withValue: 0)
        return commands
    }

    // MARK: - Writer thread

    /// Runs for the life of the process; after `close` it only drops what it is handed
    /// (every reply already waited for its txn to be durable, so nothing dropped was answered).
    private func run() {
        while true {
            var batch: [Txn] = []
            for command in takeQueued() {
                switch command {
                case .append(let txns):
                    for txn in txns {
                        batch.append(txn)
                        if batch.count >= configuration.batchTxnsMax {
                            commit(batch)
                            batch = []
                        }
                    }
                case .roll:
                    commit(batch)
                    batch = []
                    closeFile()
                case .reset(let done):
                    commit(batch)
                    batch = []
                    closeFile()
                    generation += 1
                    generationAfterReset.withLockedValue { [generation] in $0 = generation }
                    done()
                case .close(let done):
                    commit(batch)
                    batch = []
                    closeFile()
                    if !closed { logger.info("transaction log closed") }
                    closed = true
                    done()
                }
            }
            commit(batch)
        }
    }

    /// Writes and syncs `txns` and reports them durable; the first error stops the log.
    private func commit(_ txns: [Txn]) {
        guard let last = txns.last, failure == nil, !closed else { return }
        var bytes = ByteBuffer()
        for txn in txns { TxnLogFormat.writeEntry(TxnCodec.encode(txn), into: &bytes) }
        do {
            let file = try openFileIfNeeded(firstZxid: txns[0].zxid)
            if let size = LogPreallocation.sizeNeeded(
                position: position, appendBytes: bytes.readableBytes, currentSize: fileSize,
                blockBytes: configuration.preAllocBytes)
            {
                try file.truncate(to: size)
                fileSize = size
            }
            try bytes.withUnsafeReadableBytes { try file.write($0, at: position) }
            position += bytes.readableBytes
            fileSize = max(fileSize, position)
            if configuration.forceSync { try timedSync(file) }
            batchSizes.withLockedValue { kept in
                if kept.count >= Self.syncDurationsKeptMax { kept.removeFirst(kept.count / 2) }
                kept.append(Int64(txns.count))
            }
        } catch {
            fail("\(error)")
            return
        }
        persisted(last.zxid, generation)
    }

    private func timedSync(_ file: PosixFile) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        try file.syncData()
        let elapsedMs = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        syncDurationsMs.withLockedValue { kept in
            if kept.count >= Self.syncDurationsKeptMax { kept.removeFirst(kept.count / 2) }
            kept.append(Int64(elapsedMs))
        }
        if elapsedMs > configuration.fsyncWarningThresholdMs {
            slowSyncs.withLockedValue { $0 += 1 }
            logger.warning(
                "fsync of the transaction log was slow", metadata: ["file": "\(file.path)", "ms": "\(elapsedMs)"])
        }
    }

    /// A new file is named after its first txn and made durable (header, size, directory
    /// entry) before any txn goes in.
    private func openFileIfNeeded(firstZxid: Zxid) throws -> PosixFile {
        if let file { return file }
        let path = (configuration.directory as NSString).appendingPathComponent(DataFileName(kind: .log, zxid: firstZxid).name)
        let file = try PosixFile.open(path, flags: O_RDWR | O_CREAT | O_TRUNC)
        self.file = file
        let header = TxnLogFormat.fileHeader()
        try header.withUnsafeReadableBytes { try file.write($0, at: 0) }
        position = header.readableBytes
        fileSize = position
        try file.sync()
        try PosixFile.syncDirectory(configuration.directory)
        logger.info("new transaction log", metadata: ["file": "\(path)"])
        return file
    }

    private func closeFile() {
        file?.close()
        file = nil
    }

    private func fail(_ message: String) {
        failure = message
        closeFile()
        logger.critical(
            "transaction log write failed; refusing writes until restarted (reads continue)",
            metadata: ["error": "\(message)"])
        failed(message)
    }
}
