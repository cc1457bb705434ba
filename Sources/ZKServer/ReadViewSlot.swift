import NIOCore
import Synchronization
import ZKReplica

/// One client loop's current `ReadView`. `view` is set (by a task the replica's shell
/// submits after the writes of the batch that made the view) and read only on `loop`;
/// `wanted` is the one field both threads touch, and it is atomic. That is what makes the
/// `@unchecked Sendable` safe: a slot only crosses threads to be handed to that loop's
/// connection handlers and tasks.
///
/// A view is handed to a loop only while its connections use one: a view the replica's
/// tree still shares makes every change copy the trie nodes on its path (measured: a fifth
/// of delete throughput when every loop got every view), so a loop that answered nothing
/// from its view since the last batch gets none (nil) and asks again when a read comes.
final class ReadViewSlot: @unchecked Sendable {
    let loop: EventLoop
    var view: ReadView? {
        didSet { askedForView = false }
    }
    /// The replica was asked for a view since the last one (or nil) reached this loop.
    private var askedForView = false
    /// A connection on this loop answered a read from the view, or asked for one, since
    /// the replica last decided what to hand this loop.
    private let wanted = Atomic<Bool>(false)

    init(loop: EventLoop) { self.loop = loop }

    /// On the loop: a read was answered from the view.
    func markUsed() {
        if !wanted.load(ordering: .relaxed) { wanted.store(true, ordering: .relaxed) }
    }

    /// On the loop, with a read a view could answer: true when the loop has no view and
    /// has not asked for one yet, so the caller asks the replica.
    func needsView() -> Bool {
        guard view == nil, !askedForView else { return false }
        askedForView = true
        markUsed()
        return true
    }

    /// On the replica's loop: whether the loop wanted a view since the last call.
    func takeWanted() -> Bool { wanted.exchange(false, ordering: .relaxed) }

    /// One slot per loop of `group`.
    static func slots(for group: EventLoopGroup) -> [ReadViewSlot] {
        group.makeIterator().map { ReadViewSlot(loop: $0) }
    }
}
