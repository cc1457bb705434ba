import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ZKModel
import ZKReplica
import ZKWire

/// Owns the `Replica` and carries out its actions. Every mutable field is touched only on
/// `eventLoop`, which is what makes the `@unchecked Sendable` below safe: handlers on other
/// loops reach it only through `eventLoop.execute`.
final class ReplicaShell: @unchecked Sendable {
    let eventLoop: EventLoop
    let logger: Logger
    private var replica: Replica
    private var channels: [ConnectionID: Channel] = [:]
    /// Set once by the server before the first event: the log needs the shell's callbacks.
    var txnLog: TxnLogWriter!
    var snapshots: SnapshotScheduler?
    var directory: DataDirectory?
    private let nextConnectionId = NIOLockedValueBox<ConnectionID>(1)

    init(replica: Replica, eventLoop: EventLoop, logger: Logger) {
        self.replica = replica
        self.eventLoop = eventLoop
        self.logger = logger
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func allocateConnectionId() -> ConnectionID {
        nextConnectionId.withLockedValue { value in
            defer { value += 1 }
            return value
        }
    }

    // MARK: - Events from connections (called from any loop)

    func opened(_ id: ConnectionID, channel: Channel, address: String, port: Int) {
        eventLoop.execute {
            self.channels[id] = channel
            self.run(self.replica.connectionOpened(id, address: address, port: port, now: Self.nowMs()))
        }
    }

    func closed(_ id: ConnectionID) {
        eventLoop.execute {
            self.channels[id] = nil
            self.run(self.replica.connectionClosed(id, now: Self.nowMs()))
        }
    }

    func received(_ id: ConnectionID, _ outputs: [FrameDecoder.Output]) {
        eventLoop.execute {
            let now = Self.nowMs()
            var actions: [ReplicaAction] = []
            for output in outputs {
                switch output {
                case .frame(let frame): actions += self.replica.frameReceived(id, frame, now: now)
                case .fourLetterWord(let word):
                    if word == "dirs" || word == "conf", let directory = self.directory {
                        self.replica.directorySizes = directory.sizes()
                    }
                    actions += self.replica.fourLetterWordReceived(id, word: word, now: now)
                }
            }
            self.run(actions)
        }
    }

    func tick() {
        run(replica.tick(now: Self.nowMs()))
    }

    /// From the log's thread: every txn up to `zxid` is durable.
    func logPersisted(upTo zxid: Zxid) {
        eventLoop.execute { self.run(self.replica.logPersisted(upTo: zxid, now: Self.nowMs())) }
    }

    /// From the log's thread: the log stopped after an I/O error.
    func logFailed() {
        eventLoop.execute { self.run(self.replica.logFailed(now: Self.nowMs())) }
    }

    // MARK: - Carrying out actions (on eventLoop)

    private func run(_ actions: [ReplicaAction]) {
        guard !actions.isEmpty else { return }
        var outgoing: [ConnectionID: ByteBuffer] = [:]
        var order: [ConnectionID] = []
        var txns: [Txn] = []
        func buffer(_ id: ConnectionID, _ write: (inout ByteBuffer) -> Void) {
            if outgoing[id] == nil {
                outgoing[id] = ByteBuffer()
                order.append(id)
            }
            write(&outgoing[id]!)
        }
        for action in actions {
            switch action {
            case .sendConnectResponse(let id, let response):
                buffer(id) { FrameEncoder.connectResponse(response, into: &$0) }
            case .sendReply(let id, let header, let response):
                buffer(id) { FrameEncoder.reply(header, response, into: &$0) }
            case .sendNotification(let id, let event, let zxid):
                buffer(id) { FrameEncoder.notification(event, zxid: zxid, into: &$0) }
            case .sendText(let id, let text):
                buffer(id) { $0.writeString(text) }
            case .closeConnection(let id):
                let pending = outgoing.removeValue(forKey: id)
                order.removeAll { $0 == id }
                closeChannel(id, after: pending)
            case .appendLog(let txn):
                txns.append(txn)
            case .peer(let work):
                // This shell runs a standalone replica, which has no peer and never asks.
                preconditionFailure("standalone replica asked for ensemble work: \(work)")
            }
        }
        for id in order {
            if let bytes = outgoing[id], let channel = channels[id] { channel.writeAndFlush(bytes, promise: nil) }
        }
        if !txns.isEmpty {
            txnLog.append(txns)
            if let snapshots, snapshots.txnsLogged(txns.count) {
                txnLog.roll()
                snapshots.start(tree: replica.tree, sessions: replica.sessionTimeouts)
            }
        }
    }

    private func closeChannel(_ id: ConnectionID, after pending: ByteBuffer?) {
        guard let channel = channels.removeValue(forKey: id) else { return }
        if let pending {
            channel.writeAndFlush(pending).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }
}
