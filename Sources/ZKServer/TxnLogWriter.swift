import NIOCore
import ZKModel

/// The log step of the write path. The log reports durability through the callbacks it was
/// built with (`persisted(upTo:)` once every txn handed to it so far is durable); replies
/// wait for that report.
protocol TxnLogWriter: AnyObject, Sendable {
    /// Queues txns in zxid order.
    func append(_ txns: [Txn])
    /// The next append starts a new log file.
    func roll()
    /// Makes everything appended so far durable (and reported), closes the file and takes
    /// no more txns; `done` runs once that is finished (a graceful stop waits for it).
    func close(done: @escaping @Sendable () -> Void)
    /// Waits until what was queued is written, closes the file and starts a new generation
    /// (reports of what was written before carry the old one); returns it.
    func reset() -> UInt64
    /// Fsyncs slower than `fsync.warningthresholdms` so far.
    var slowSyncCount: Int { get }
    /// How long each fsync since the last call took, in ms (`fsynctime`).
    func takeSyncDurationsMs() -> [Int64]
    /// How many txns each group commit since the last call wrote (`sync_processor_batch_size`).
    func takeBatchSizes() -> [Int64]
}
