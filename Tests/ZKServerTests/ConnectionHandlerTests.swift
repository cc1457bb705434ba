import Logging
import NIOCore
import NIOEmbedded
import Testing
import ZKModel
import ZKReplica
import ZKWire
@testable import ZKServer

/// Stands in for the socket at the head of the pipeline: counts the reads that reach it,
/// keeps writes unwritten while `stalled` (their promises pending, as a socket whose client
/// stopped reading does), and records closes, keeping the channel open on an output-only
/// close (a half-close: the client may still send).
final class SocketModel: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var reads = 0
    var stalled = false
    var held: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    var closeModes: [CloseMode] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if stalled {
            held.append((unwrapOutboundIn(data), promise))
        } else {
            context.write(data, promise: promise)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closeModes.append(mode)
        if mode == .output {
            promise?.succeed(())
        } else {
            context.close(mode: mode, promise: promise)
        }
    }

    /// The client reads again: what was held is written.
    func drain() {
        stalled = false
        let pending = held
        held = []
        for (bytes, promise) in pending { context!.write(wrapOutboundOut(bytes), promise: promise) }
        context!.flush()
    }
}

/// The log step, recorded: tests say when the txns are durable.
final class RecordingLog: TxnLogWriter, @unchecked Sendable {
    // Touched only on the test's thread, which runs the embedded event loop.
    var txns: [Txn] = []
    func append(_ txns: [Txn]) { self.txns += txns }
    func roll() {}
    func close(done: @escaping @Sendable () -> Void) { done() }
    var slowSyncCount: Int { 0 }
    func reset() -> UInt64 { 0 }
    func takeSyncDurationsMs() -> [Int64] { [] }
    func takeBatchSizes() -> [Int64] { [] }
}

/// One client connection through the real handler and shell, on an embedded event loop.
struct HandlerHarness {
    let loop = EmbeddedEventLoop()
    let log = RecordingLog()
    let socket = SocketModel()
    let shell: ReplicaShell
    let channel: EmbeddedChannel
    let handler: ClientConnectionHandler
    /// The embedded loop's `ReadView` slot, when the harness answers reads on the loop.
    let readViews: ReadViewSlot?
    var received = ByteBuffer()

    init(
        limits: ClientConnectionLimits = ClientConnectionLimits(frameBytesMax: 0xfffff), localReads: Bool = false,
        _ configure: (inout ReplicaConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = ReplicaConfiguration()
        configure(&configuration)
        readViews = localReads ? ReadViewSlot(loop: loop) : nil
        shell = ReplicaShell(
            replica: Replica(configuration: configuration, now: ReplicaShell.now(), monotonicMs: 0xa425f), eventLoop: loop,
            logger: Logger(label: "test"), readViewSlots: readViews.map { [$0] } ?? [])
        shell.txnLog = log
        channel = EmbeddedChannel(loop: loop)
        handler = ClientConnectionHandler(shell: shell, limits: limits)
        try channel.pipeline.syncOperations.addHandler(socket)
        try channel.pipeline.syncOperations.addHandler(handler)
        channel.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2181)).wait()
        loop.run()
    }

    func send(_ bytes: ByteBuffer) throws {
        try channel.writeInbound(bytes)
        loop.run()
    }

    func sendFrame(_ payload: ByteBuffer) throws {
        var framed = ByteBuffer()
        framed.writeInteger(Int32(payload.readableBytes))
        framed.writeImmutableBuffer(payload)
        try send(framed)
    }

    func persist() {
        guard let last = log.txns.last else { return }
        shell.logPersisted(upTo: last.zxid)
        loop.run()
    }

    /// Whole frames the client got so far (payloads, prefix removed).
    mutating func frames() throws -> [ByteBuffer] {
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { received.writeBuffer(&chunk) }
        var frames: [ByteBuffer] = []
        while let length = received.getInteger(at: received.readerIndex, as: Int32.self), received.readableBytes >= 4 + Int(length) {
            received.moveReaderIndex(forwardBy: 4)
            frames.append(received.readSlice(length: Int(length))!)
        }
        return frames
    }

    static func connectRequest() -> ByteBuffer {
        var writer = JuteWriter()
        ConnectRequest(lastZxidSeen: 0, timeOut: 30000, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16), readOnly: false)
            .encode(into: &writer)
        return writer.buffer
    }

    static func request(_ xid: Xid, _ op: OpCode, _ body: (inout JuteWriter) -> Void) -> ByteBuffer {
        var writer = JuteWriter()
        writer.writeInt(xid)
        writer.writeInt(op.rawValue)
        body(&writer)
        return writer.buffer
    }

    /// Handshake to an established session.
    mutating func establish() throws {
        try sendFrame(Self.connectRequest())
        persist()
        #expect(try frames().count == 1)
    }
}

@Suite struct ConnectionHandlerTests {
    /// A ConnectRequest arriving a byte at a time is one frame; so is a request split
    /// across reads.
    @Test func partialFramesAreJoined() throws {
        var h = try HandlerHarness()
        var framed = ByteBuffer()
        let connect = HandlerHarness.connectRequest()
        framed.writeInteger(Int32(connect.readableBytes))
        framed.writeImmutableBuffer(connect)
        for byte in framed.readableBytesView { try h.send(ByteBuffer(bytes: [byte])) }
        h.persist()
        let response = try h.frames()
        #expect(response.count == 1)
        #expect(response.first?.readableBytes == 37)
        var request = ByteBuffer()
        let exists = HandlerHarness.request(1, .exists) {
            $0.writeString("/")
            $0.writeBool(false)
        }
        request.writeInteger(Int32(exists.readableBytes))
        request.writeImmutableBuffer(exists)
        try h.send(request.getSlice(at: 0, length: 5)!)
        #expect(try h.frames().isEmpty)
        try h.send(request.getSlice(at: 5, length: request.readableBytes - 5)!)
        let reply = try h.frames()
        #expect(reply.count == 1)
        #expect(reply.first?.getInteger(at: 0, as: Int32.self) == 1)
    }

    /// A length above `jute.maxbuffer` ends the connection without a reset: FIN first (an
    /// output close), what the client still sends is discarded, and the channel closes
    /// when the linger time passes.
    @Test func oversizedFrameClosesGracefully() throws {
        var limits = ClientConnectionLimits(frameBytesMax: 1024)
        limits.closeLingerMs = 500
        var h = try HandlerHarness(limits: limits)
        try h.establish()
        var oversized = ByteBuffer()
        oversized.writeInteger(Int32(1025))
        oversized.writeRepeatingByte(7, count: 100)
        try h.send(oversized)
        #expect(h.socket.closeModes == [.output])
        #expect(h.channel.isActive)
        try h.send(ByteBuffer(repeating: 1, count: 5000))
        #expect(try h.frames().isEmpty)
        h.loop.advanceTime(by: .milliseconds(500))
        #expect(!h.channel.isActive)
        #expect(h.shell.replica.sessions.sessions.count == 1)
    }

    /// A client that stops reading: its writes stay pending, the replica holds its next
    /// requests, and the handler stops reading the socket; when the client reads again
    /// everything is answered in order and reading resumes.
    @Test func unwritableSocketStopsReading() throws {
        var h = try HandlerHarness { $0.connectionUnsentBytesPause = 250_000 }
        try h.establish()
        try h.sendFrame(HandlerHarness.request(1, .create) {
            $0.writeString("/big")
            $0.writeBuffer([UInt8](repeating: 7, count: 100_000))
            $0.writeACLs(ACL.openACLUnsafe)
            $0.writeInt(0)
        })
        h.persist()
        #expect(try h.frames().count == 1)
        h.socket.stalled = true
        var burst = ByteBuffer()
        for xid in Int32(2)...20 {
            let getData = HandlerHarness.request(xid, .getData) {
                $0.writeString("/big")
                $0.writeBool(false)
            }
            burst.writeInteger(Int32(getData.readableBytes))
            burst.writeImmutableBuffer(getData)
        }
        try h.send(burst)
        // Three replies (one write) are queued on the stalled socket; the rest wait in the replica.
        let replyBytes = 4 + 16 + 4 + 100_000 + 68
        #expect(h.socket.held.reduce(0) { $0 + $1.0.readableBytes } == 3 * replyBytes)
        let readsBefore = h.socket.reads
        h.channel.read()
        #expect(h.socket.reads == readsBefore)
        h.socket.drain()
        h.loop.run()
        h.socket.drain()
        h.loop.run()
        h.socket.drain()
        h.loop.run()
        let replies = try h.frames()
        #expect(replies.map { $0.getInteger(at: 0, as: Int32.self) } == (2...20).map { Optional($0) })
        // Reading resumed: the held read went through.
        #expect(h.socket.reads > readsBefore)
    }

    /// A connection that closes with half a request sent leaves nothing behind.
    @Test func closeMidRequestForgetsTheConnection() throws {
        var h = try HandlerHarness()
        try h.establish()
        var partial = ByteBuffer()
        partial.writeInteger(Int32(1000))
        partial.writeRepeatingByte(1, count: 10)
        try h.send(partial)
        _ = try h.channel.close().wait()
        h.loop.run()
        #expect(h.shell.replica.sessions.sessions.count == 1)
        #expect(h.shell.replica.sessions.sessions.values.first?.connection == nil)
    }
}
