import NIOCore

extension ReplicaShell {
    /// The graceful stop (SIGTERM, SIGINT): no more requests are taken, every txn handed to
    /// the log is made durable and answered, then each connection is closed after its
    /// pending replies. The future completes once every connection is closed (a client that
    /// does not hang up is cut off after the close linger time).
    ///
    /// Nothing acknowledged depends on this: a reply already waited for its txn to be
    /// durable. What it adds is that the txns in flight are answered rather than lost to the
    /// client as a connection loss, and that the log file is closed at an entry's end.
    func shutDown() -> EventLoopFuture<Void> {
        let finished = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            self.stopping = true
            self.txnLog.close {
                // The log queued its last durability report on this loop before calling
                // `done`, so by the time this runs those replies were handed to the channels;
                // each close queues behind them on the channel's own loop.
                self.eventLoop.execute { self.closeEveryChannel().cascade(to: finished) }
            }
        }
        return finished.futureResult
    }

    private func closeEveryChannel() -> EventLoopFuture<Void> {
        let open = Array(channels.values)
        channels = [:]
        for channel in open {
            channel.triggerUserOutboundEvent(ClientConnectionHandler.CloseGracefully(), promise: nil)
        }
        return EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: eventLoop)
    }
}
