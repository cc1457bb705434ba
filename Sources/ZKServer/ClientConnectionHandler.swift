import NIOCore
import ZKModel
import ZKReplica
import ZKWire

/// Limits of one client connection's handler.
struct ClientConnectionLimits: Sendable {
    /// `jute.maxbuffer`: a longer length prefix closes the connection.
    var frameBytesMax: Int
    /// Bytes handed to the replica loop and not yet taken by it beyond which the socket is
    /// not read: a busy replica loop is not flooded with one connection's frames.
    var inTransitBytesMax = 64 * 1024
    /// After the server closes a connection it sends FIN and discards what the client still
    /// sends for at most this long, so that the client sees a clean close rather than a
    /// reset for the bytes it had sent.
    var closeLingerMs: Int64 = 2000
    /// Reads answered on this loop (`ReadView`) are reported to the replica at most this
    /// often, so that it counts the session and the connection as alive (half a tick,
    /// at most 500 ms: far inside the shortest session timeout, two ticks).
    var localReadsReportIntervalMs: Int64 = 500
    /// Local replies are handed to the socket in writes of about this size; the next read
    /// is answered here only while the channel is writable (otherwise it goes to the
    /// replica, whose unsent-bytes limits hold a client that stops reading).
    var localReplyChunkBytes = 64 * 1024
}

/// What the replica's shell writes to a client connection: the bytes, and what the
/// handler must know of them to answer reads itself without reordering anything.
struct ClientOutput {
    var bytes: ByteBuffer
    /// Replies in `bytes` that answer a request the handler passed on (connect responses,
    /// replies; not notifications).
    var answers = 0
    /// The newest zxid a reply or notification in `bytes` carries.
    var zxid: Zxid = 0
    /// `bytes` hold the ConnectResponse that established a session.
    var establishes = false
}

/// Per-connection framing on the connection's own event loop: split frames, refuse oversized
/// ones, and pass whole frames to the replica. Reading the socket stops while the replica
/// holds this connection's frames (`Reading`) or has not taken the last ones yet
/// (`BytesTaken`), as NIO's `BackPressureHandler` stops reading while the channel is not
/// writable. A bad length closes this connection only, without a reset.
///
/// Plain reads are answered here from the loop's `ReadView` when nothing the replica was
/// handed is unanswered and the view is as new as anything this client was sent (see
/// `ReadView` for why that keeps ZooKeeper's ordering); everything else goes to the replica.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ClientOutput
    typealias OutboundOut = ByteBuffer

    /// From the replica loop: whether the replica takes more of this connection's frames.
    struct Reading: Sendable { var enabled: Bool }
    /// From the replica loop: it took `bytes` of the frames handed over.
    struct BytesTaken: Sendable { var bytes: Int }
    /// From the replica loop: send what is queued, then close without a reset.
    struct CloseGracefully: Sendable {}

    private let shell: ReplicaShell
    private let limits: ClientConnectionLimits
    private var decoder: FrameDecoder
    private var buffered: ByteBuffer?
    private var connectionId: ConnectionID = 0
    /// No more frames are decoded (after a four-letter word, a bad frame, or a close).
    private var stopped = false
    private var closing = false
    private var pausedByReplica = false
    private var bytesInTransit = 0
    /// NIO asked for a read while reading was held back.
    private var readHeld = false
    private var lingerTimer: Scheduled<Void>?
    /// This loop's view; nil when the shell publishes none (tests, `connectionLoopReads=no`).
    private var readViews: ReadViewSlot?
    private var localReads = LocalReadBookkeeping()
    /// Reads this handler answered from its loop's view (for tests).
    var localReadsAnswered: Int { localReads.answeredHere }

    init(shell: ReplicaShell, limits: ClientConnectionLimits) {
        self.shell = shell
        self.limits = limits
        self.decoder = FrameDecoder(frameBytesMax: limits.frameBytesMax)
    }

    private var mayRead: Bool { closing || (!pausedByReplica && bytesInTransit < limits.inTransitBytesMax) }

    func channelActive(context: ChannelHandlerContext) {
        connectionId = shell.allocateConnectionId()
        readViews = shell.readViewSlot(for: context.eventLoop)
        let remote = context.channel.remoteAddress
        shell.opened(connectionId, channel: context.channel, address: remote?.ipAddress ?? "0.0.0.0", port: remote?.port ?? 0)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopped = true
        lingerTimer?.cancel()
        shell.closed(connectionId)
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if mayRead {
            context.read()
        } else {
            readHeld = true
        }
    }

    private func readIfAllowed(context: ChannelHandlerContext) {
        guard readHeld, mayRead else { return }
        readHeld = false
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stopped else { return }  // closing: what the client still sends is discarded
        var incoming = unwrapInboundIn(data)
        if buffered == nil || buffered!.readableBytes == 0 {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        var outputs: [FrameDecoder.Output] = []
        let start = buffered!.readerIndex
        var failed = false
        var localReplies = ByteBuffer()
        do {
            while let output = try decoder.next(from: &buffered!) {
                if case .frame(let frame) = output {
                    if outputs.isEmpty, answerLocally(frame, into: &localReplies, context: context) { continue }
                    localReads.forwarded += 1
                }
                outputs.append(output)
                // After a four-letter word nothing else is read on this connection.
                if case .fourLetterWord = output {
                    stopped = true
                    break
                }
            }
        } catch {
            failed = true
            // One line, as ZooKeeper's "Len error" warning.
            let client = context.channel.remoteAddress.map { "\($0)" } ?? "connection \(connectionId)"
            shell.logger.warning(
                "invalid frame length \(error.length) (jute.maxbuffer \(limits.frameBytesMax)); closing",
                metadata: ["client": "\(client)"])
        }
        let consumed = buffered!.readerIndex - start
        if buffered!.readableBytes == 0 { buffered = nil } else { buffered!.discardReadBytes() }
        if localReplies.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(localReplies), promise: nil) }
        if !outputs.isEmpty {
            bytesInTransit += consumed
            shell.received(connectionId, outputs, bytes: consumed, localReads: localReads.takeUnreported())
        } else if let count = localReads.reportDue(nowMs: Self.nowMs(), intervalMs: limits.localReadsReportIntervalMs) {
            shell.readsAnsweredLocally(connectionId, count: count)
        }
        if failed { closeGracefully(context: context) }
    }

    /// Answers a plain read from this loop's view when that keeps ZooKeeper's order; the
    /// reply joins `replies`, which go out in chunks while the socket keeps up.
    private func answerLocally(_ frame: ByteBuffer, into replies: inout ByteBuffer, context: ChannelHandlerContext) -> Bool {
        guard localReads.mayAnswer, let slot = readViews else { return false }
        guard let view = slot.view else {
            // Reads come here while the replica keeps views from this loop: ask for one.
            if ReadView.answerable(frame), slot.needsView() { shell.viewWanted(by: slot) }
            return false
        }
        guard view.zxid >= localReads.deliveredZxid, context.channel.isWritable else { return false }
        guard let (header, response) = view.answer(frame, frameBytesMax: limits.frameBytesMax) else { return false }
        slot.markUsed()
        FrameEncoder.reply(header, response, into: &replies)
        localReads.answeredLocally()
        if replies.readableBytes >= limits.localReplyChunkBytes {
            context.write(wrapOutboundOut(replies), promise: nil)
            replies = ByteBuffer()
        }
        return true
    }

    static func nowMs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let output = unwrapOutboundIn(data)
        localReads.replicaWrote(output)
        context.write(wrapOutboundOut(output.bytes), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case let reading as Reading:
            pausedByReplica = !reading.enabled
            readIfAllowed(context: context)
        case let taken as BytesTaken:
            bytesInTransit = max(0, bytesInTransit - taken.bytes)
            readIfAllowed(context: context)
        case is CloseGracefully:
            closeGracefully(context: context)
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed(())
    }

    /// FIN once what is queued is written, then read and discard until the client hangs up
    /// (NIO then closes the channel) or the linger time passes.
    private func closeGracefully(context: ChannelHandlerContext) {
        guard !closing else { return }
        stopped = true
        closing = true
        buffered = nil
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        lingerTimer = context.eventLoop.scheduleTask(in: .milliseconds(limits.closeLingerMs)) {
            channel.close(promise: nil)
        }
        readIfAllowed(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
