import NIOCore
import ZKReplica

/// One client loop's current `ReadView`. `view` is set (by a task the replica's shell
/// submits after the writes of the batch that made the view) and read only on `loop`,
/// which is what makes the `@unchecked Sendable` safe: a slot only crosses threads to be
/// handed to that loop's connection handlers and tasks.
final class ReadViewSlot: @unchecked Sendable {
    let loop: EventLoop
    var view: ReadView?

    init(loop: EventLoop) { self.loop = loop }

    /// One slot per loop of `group`.
    static func slots(for group: EventLoopGroup) -> [ReadViewSlot] {
        group.makeIterator().map { ReadViewSlot(loop: $0) }
    }
}
