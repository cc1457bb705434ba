import NIOCore
import ZKModel

/// The log step of the write path. `append` must call `persisted` (on the replica's event
/// loop) once every txn handed to it so far is durable; replies wait for that call.
/// The standalone server keeps its tree in memory until the file-backed log lands.
public protocol TxnLogWriter: AnyObject, Sendable {
    func append(_ txns: [Txn], persisted: @escaping @Sendable (Zxid) -> Void)
}

/// Durable as soon as it is appended: memory is the store. One call covers the whole batch
/// the replica produced in an event-loop turn, which is how group commit will work on disk.
public final class InMemoryTxnLog: TxnLogWriter {
    let eventLoop: EventLoop

    public init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    public func append(_ txns: [Txn], persisted: @escaping @Sendable (Zxid) -> Void) {
        guard let last = txns.last?.zxid else { return }
        eventLoop.execute { persisted(last) }
    }
}
