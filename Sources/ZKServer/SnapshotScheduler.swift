import Dispatch
import Logging
import NIOConcurrencyHelpers
import ZKDataTree
import ZKModel

/// ZooKeeper's snapshot policy: after snapCount/2 + a random share of snapCount/2 logged
/// txns, roll the log and write a snapshot of the applied tree in the background. The tree is
/// a persistent value, so the copy handed over costs nothing and writes go on meanwhile.
///
/// `@unchecked Sendable`: `txnsSinceRoll` and `randomRoll` are only touched on the replica
/// loop; `inProgress` is a locked box.
final class SnapshotScheduler: @unchecked Sendable {
    let directory: DataDirectory
    let snapCount: Int
    let logger: Logger
    private var txnsSinceRoll = 0
    private var randomRoll: Int
    private let inProgress = NIOLockedValueBox(false)
    private let queue = DispatchQueue(label: "swiftkeeper.snapshot")
    /// How long each snapshot since the last report took (`snapshottime`).
    private let durationsMs = NIOLockedValueBox<[Int64]>([])

    /// A snapshot is being written now.
    var isWriting: Bool { inProgress.withLockedValue { $0 } }

    func takeDurationsMs() -> [Int64] { durationsMs.withLockedValue { taken in defer { taken = [] }; return taken } }

    init(directory: DataDirectory, snapCount: Int, logger: Logger) {
        self.directory = directory
        self.snapCount = snapCount
        self.logger = logger
        self.randomRoll = Int.random(in: 0..<max(1, snapCount / 2))
    }

    /// Counts logged txns; true when the log should roll and a snapshot start.
    func txnsLogged(_ count: Int) -> Bool {
        txnsSinceRoll += count
        guard txnsSinceRoll > snapCount / 2 + randomRoll else { return false }
        txnsSinceRoll = 0
        randomRoll = Int.random(in: 0..<max(1, snapCount / 2))
        return true
    }

    /// Writes a snapshot of this state unless one is still being written.
    func start(tree: DataTree, sessions: [SessionID: Int32]) {
        let busy = inProgress.withLockedValue { running -> Bool in
            if running { return true }
            running = true
            return false
        }
        if busy {
            logger.warning("too busy to snapshot, skipping")
            return
        }
        queue.async { [self] in
            defer { inProgress.withLockedValue { $0 = false } }
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                let path = try directory.writeSnapshot(tree: tree, sessions: sessions, zxid: tree.lastProcessedZxid)
                let elapsedMs = Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
                durationsMs.withLockedValue { $0.append(elapsedMs) }
                logger.info("snapshot written", metadata: ["file": "\(path)", "nodes": "\(tree.nodes.count)", "ms": "\(elapsedMs)"])
            } catch {
                logger.error("snapshot failed; the log still holds every txn", metadata: ["error": "\(error)"])
            }
        }
    }
}
