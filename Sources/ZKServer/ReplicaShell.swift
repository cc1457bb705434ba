import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// Owns the `Replica` and carries out its actions. Every mutable field is touched only on
/// `eventLoop`, which is what makes the `@unchecked Sendable` below safe: handlers on other
/// loops reach it only through `eventLoop.execute`.
final class ReplicaShell: @unchecked Sendable {
    let eventLoop: EventLoop
    let logger: Logger
    /// Read by tests (`@testable`); changed only by carrying out events.
    private(set) var replica: Replica
    /// Internal for `ReplicaShell+Shutdown`, which closes them all.
    var channels: [ConnectionID: Channel] = [:]
    /// Set by a graceful stop: frames are no longer handed to the replica and new
    /// connections are closed at once.
    var stopping = false
    /// Set once by the server before the first event: the log needs the shell's callbacks.
    var txnLog: TxnLogWriter!
    var snapshots: SnapshotScheduler?
    var directory: DataDirectory?
    /// Set for an ensemble member: carries out the peer's work (messages, epochs, TRUNC, SNAP).
    var ensemble: EnsembleWork?
    /// The log's generation (bumped by TRUNC and SNAP); older durability reports are stale.
    var logGeneration: UInt64 = 0
    /// False for an observer with `syncEnabled=false`: it logs no txns and takes no
    /// periodic snapshots (ZooKeeper's observer then has no sync processor); what it is
    /// handed counts as durable at once, and after a restart the leader syncs it.
    var logsTxns = true
    /// An ensemble member's periodic snapshot waits until its log is durable up to the
    /// snapshot's zxid: a snapshot ahead of the durable log would leave a hole in the
    /// history the peer restarts with.
    private var snapshotAwaitingLog: (tree: ZKDataTree.DataTree, sessions: [SessionID: Int32])?
    private let nextConnectionId = NIOLockedValueBox<ConnectionID>(1)
    /// One per client loop: where the replica's `readView` is published (`ReadView`).
    private let readViewSlots: [ReadViewSlot]
    /// The state views were last decided for: they are decided again when it changes.
    private var publishedView: (zxid: Zxid, present: Bool)?
    /// Which slots were last handed a view (not nil).
    private var slotsHoldingView: Set<ObjectIdentifier> = []
    /// `run` is re-entered when ensemble work hands the replica an event at once; views
    /// are published only when the outermost run has written everything.
    private var runDepth = 0

    init(replica: Replica, eventLoop: EventLoop, logger: Logger, readViewSlots: [ReadViewSlot] = []) {
        self.replica = replica
        self.eventLoop = eventLoop
        self.logger = logger
        self.readViewSlots = readViewSlots
    }

    /// The slot of a connection's loop (called once per connection, on that loop).
    func readViewSlot(for loop: EventLoop) -> ReadViewSlot? {
        readViewSlots.first { $0.loop === loop }
    }

    /// Both clocks: elapsed time is the monotonic clock (an NTP step does not move it), wall
    /// time only stamps txns.
    static func now() -> ReplicaTime {
        ReplicaTime(
            elapsedMs: Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000),
            wallMs: Int64(Date().timeIntervalSince1970 * 1000))
    }

    func allocateConnectionId() -> ConnectionID {
        nextConnectionId.withLockedValue { value in
            defer { value += 1 }
            return value
        }
    }

    // MARK: - Events from connections (called from any loop)

    func opened(_ id: ConnectionID, channel: Channel, address: String, port: Int) {
        eventLoop.execute {
            guard !self.stopping else { return channel.close(promise: nil) }
            self.channels[id] = channel
            self.run(self.replica.connectionOpened(id, address: address, port: port, now: Self.now()))
        }
    }

    func closed(_ id: ConnectionID) {
        eventLoop.execute {
            self.channels[id] = nil
            self.run(self.replica.connectionClosed(id, now: Self.now()))
        }
    }

    /// Frames from one read of the connection; `bytes` of its socket's data, which the
    /// connection's handler counts as in transit until this loop took them.
    /// `localReads`: reads the handler answered itself since it last reported any.
    func received(_ id: ConnectionID, _ outputs: [FrameDecoder.Output], bytes: Int, localReads: Int = 0) {
        eventLoop.execute {
            let now = Self.now()
            var actions: [ReplicaAction] = []
            if localReads > 0 { actions += self.replica.readsAnsweredLocally(id, count: localReads, now: now) }
            for output in outputs where !self.stopping {
                switch output {
                case .frame(let frame): actions += self.replica.frameReceived(id, frame, now: now)
                case .fourLetterWord(let word):
                    if ["dirs", "conf", "mntr"].contains(word) { self.refreshDiskFigures() }
                    actions += self.replica.fourLetterWordReceived(id, word: word, now: now)
                }
            }
            self.run(actions)
            self.channels[id]?.triggerUserOutboundEvent(ClientConnectionHandler.BytesTaken(bytes: bytes), promise: nil)
        }
    }

    /// From a connection's loop: it answered `count` reads from its view.
    func readsAnsweredLocally(_ id: ConnectionID, count: Int) {
        eventLoop.execute {
            self.run(self.replica.readsAnsweredLocally(id, count: count, now: Self.now()))
        }
    }

    /// From a connection's loop: its socket took `bytes` of reply frames.
    func written(_ id: ConnectionID, bytes: Int) {
        eventLoop.execute {
            self.run(self.replica.repliesWritten(id, bytes: bytes, now: Self.now()))
        }
    }

    func tick() {
        run(replica.tick(now: Self.now()))
    }

    /// From the log's thread: every txn up to `zxid` is durable.
    func logPersisted(upTo zxid: Zxid, generation: UInt64 = 0) {
        eventLoop.execute {
            // A report from before a TRUNC or SNAP speaks of txns that are gone or rewritten.
            guard generation == self.logGeneration else { return }
            self.run(self.replica.logPersisted(upTo: zxid, now: Self.now()))
            if let pending = self.snapshotAwaitingLog, pending.tree.lastProcessedZxid <= zxid {
                self.snapshotAwaitingLog = nil
                self.snapshots?.start(tree: pending.tree, sessions: pending.sessions)
            }
        }
    }

    /// On the loop: a report's look at the replica, which acts on nothing outside it.
    func handleReport<Value>(_ body: (inout Replica, ReplicaTime) -> Value) -> Value {
        body(&replica, Self.now())
    }

    /// On the loop: one event for the replica, its actions carried out.
    func handle(_ event: (inout Replica, ReplicaTime) -> [ReplicaAction]) {
        run(event(&replica, Self.now()))
    }

    /// From the log's thread: the log stopped after an I/O error.
    func logFailed() {
        eventLoop.execute { self.run(self.replica.logFailed(now: Self.now())) }
    }

    // MARK: - Carrying out actions (on eventLoop)

    /// What one batch of actions sends on one connection: the bytes, and how many of them
    /// are reply frames the replica counts as unsent until the socket takes them.
    private struct Outgoing {
        var id: ConnectionID
        var bytes = ByteBuffer()
        var frameBytes = 0
        /// What the connection's handler learns from these bytes (`ClientOutput`).
        var answers = 0
        var zxid: Zxid = 0
        var establishes = false

        var output: ClientOutput { ClientOutput(bytes: bytes, answers: answers, zxid: zxid, establishes: establishes) }
    }

    /// A connection's bytes go out in writes of about this size, each reporting its reply
    /// bytes once the socket took it: the replica hears of progress while a large batch
    /// drains, and refills the socket before it runs dry.
    static let writeChunkBytes = 256 * 1024

    private func run(_ actions: [ReplicaAction]) {
        runDepth += 1
        defer {
            runDepth -= 1
            if runDepth == 0 {
                publishReadView()
                writeLogLines()
            }
        }
        guard !actions.isEmpty else { return }
        defer { ensemble?.batchDone() }
        // Written in the order the batch first touched each connection.
        var outgoing: [Outgoing] = []
        var indexOf: [ConnectionID: Int] = [:]
        var txns: [Txn] = []
        func buffer(_ id: ConnectionID) -> Int {
            if let index = indexOf[id] { return index }
            outgoing.append(Outgoing(id: id))
            indexOf[id] = outgoing.count - 1
            return outgoing.count - 1
        }
        // A frame's bytes are what the encoder wrote (`EncodedSize`, which the replica
        // counted, is the same number; a unit test holds the two together).
        func encode(_ id: ConnectionID, _ frame: (inout ByteBuffer) -> Void) {
            let index = buffer(id)
            let before = outgoing[index].bytes.readableBytes
            frame(&outgoing[index].bytes)
            outgoing[index].frameBytes += outgoing[index].bytes.readableBytes - before
            guard outgoing[index].bytes.readableBytes >= Self.writeChunkBytes else { return }
            write(outgoing[index])
            outgoing[index] = Outgoing(id: outgoing[index].id)
        }
        for action in actions {
            switch action {
            case .sendConnectResponse(let id, let response):
                let index = buffer(id)
                outgoing[index].answers += 1
                if response.sessionId != 0 && response.timeOut > 0 { outgoing[index].establishes = true }
                // The replica took the session because its tree is at least as new as
                // anything the client saw (lastZxidSeen): so must a view answering it be.
                outgoing[index].zxid = max(outgoing[index].zxid, replica.tree.lastProcessedZxid)
                encode(id) { FrameEncoder.connectResponse(response, into: &$0) }
            case .sendReply(let id, let header, let response):
                let index = buffer(id)
                outgoing[index].answers += 1
                outgoing[index].zxid = max(outgoing[index].zxid, header.zxid)
                encode(id) { FrameEncoder.reply(header, response, into: &$0) }
            case .sendNotification(let id, let event, let zxid):
                let index = buffer(id)
                outgoing[index].zxid = max(outgoing[index].zxid, zxid)
                encode(id) { FrameEncoder.notification(event, zxid: zxid, into: &$0) }
            case .sendText(let id, let text):
                outgoing[buffer(id)].bytes.writeString(text)
            case .closeConnection(let id):
                var pending: Outgoing?
                if let index = indexOf.removeValue(forKey: id) {
                    pending = outgoing[index]
                    outgoing[index] = Outgoing(id: id)
                }
                closeChannel(id, after: pending)
            case .setReading(let id, let enabled):
                channels[id]?.triggerUserOutboundEvent(ClientConnectionHandler.Reading(enabled: enabled), promise: nil)
            case .notice(let id, let text):
                let client = channels[id]?.remoteAddress.map { "\($0)" } ?? "connection \(id)"
                logger.warning("\(text)", metadata: ["client": "\(client)"])
            case .appendLog(let txn):
                txns.append(txn)
            case .resumeLater:
                // Behind whatever is queued on this loop now: other clients go first.
                eventLoop.execute { self.run(self.replica.resume(now: Self.now())) }
            case .peer(let work):
                guard let ensemble else { preconditionFailure("standalone replica asked for ensemble work: \(work)") }
                // Txns decided before a TRUNC or SNAP reach the log before it changes.
                if !txns.isEmpty {
                    appendToLog(txns)
                    txns = []
                }
                ensemble.carryOut(work)
            }
        }
        for item in outgoing where item.bytes.readableBytes > 0 { write(item) }
        if !txns.isEmpty { appendToLog(txns) }
    }

    /// The replica's lines about sessions and roles, into the operator's log.
    private func writeLogLines() {
        for line in replica.takeLogLines() {
            let metadata = line.fields.mapValues { Logger.MetadataValue.string($0) }
            logger.log(level: line.level == .notice ? .notice : .info, "\(line.message)", metadata: metadata)
        }
    }

    private func appendToLog(_ txns: [Txn]) {
        guard logsTxns else {
            if let last = txns.last { logPersisted(upTo: last.zxid, generation: logGeneration) }
            return
        }
        txnLog.append(txns)
        guard let snapshots, snapshots.txnsLogged(txns.count) else { return }
        txnLog.roll()
        if ensemble == nil {
            snapshots.start(tree: replica.tree, sessions: replica.sessionTimeouts)
        } else {
            snapshotAwaitingLog = (replica.tree, replica.sessionTimeouts)
        }
    }

    /// Writes one connection's bytes; once its socket took them, the replica hears how many
    /// reply bytes left (a client that stops reading never lets that happen).
    private func write(_ item: Outgoing) {
        guard let channel = channels[item.id] else { return }
        guard item.frameBytes > 0 else { return channel.writeAndFlush(item.output, promise: nil) }
        let id = item.id, frameBytes = item.frameBytes
        channel.writeAndFlush(item.output).whenSuccess { [self] in written(id, bytes: frameBytes) }
    }

    /// When the replica's state changed, hands each client loop that used its view since
    /// the last change the new one, and takes the old one from a loop that did not (see
    /// `ReadViewSlot`). The task queues behind the writes this run submitted to the same
    /// loop, so a handler sees a view only after the notifications and replies of the
    /// batch that made it.
    private func publishReadView() {
        guard !readViewSlots.isEmpty else { return }
        let state = (zxid: replica.tree.lastProcessedZxid, present: replica.servesReadViews)
        if let publishedView, publishedView == state { return }
        publishedView = state
        let view = replica.readView
        for slot in readViewSlots {
            if view != nil, slot.takeWanted() {
                hand(view, to: slot)
            } else if slotsHoldingView.contains(ObjectIdentifier(slot)) {
                hand(nil, to: slot)
            }
        }
    }

    private func hand(_ view: ReadView?, to slot: ReadViewSlot) {
        if view == nil {
            slotsHoldingView.remove(ObjectIdentifier(slot))
        } else {
            slotsHoldingView.insert(ObjectIdentifier(slot))
        }
        slot.loop.execute { slot.view = view }
    }

    /// From a client loop without a view that has a read for one: hand it the current view
    /// (behind everything written so far, as after a batch).
    func viewWanted(by slot: ReadViewSlot) {
        eventLoop.execute {
            guard let view = self.replica.readView else { return }
            self.hand(view, to: slot)
        }
    }

    /// Sends what is pending, then closes without a reset: the handler half-closes and
    /// discards what the client still sends until it hangs up or the linger time passes.
    private func closeChannel(_ id: ConnectionID, after pending: Outgoing?) {
        guard let channel = channels.removeValue(forKey: id) else { return }
        if let pending { channel.writeAndFlush(pending.output, promise: nil) }
        channel.triggerUserOutboundEvent(ClientConnectionHandler.CloseGracefully(), promise: nil)
    }
}
