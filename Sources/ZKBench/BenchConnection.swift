import DequeModule
import NIOCore
import ZKClientCore
import ZKModel

/// Monotonic nanoseconds (CLOCK_MONOTONIC through NIO).
@inline(__always) func nowNs() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

/// One benchmark session on one socket. In a phase it keeps up to `window` requests in
/// flight, taking each next request from the phase and handing each reply back with the
/// time it was sent; everything it sends after one read goes out in one write.
///
/// `@unchecked Sendable`: every field is touched on the channel's event loop only (the
/// driver reaches it through `eventLoop.submit`/`flatSubmit`).
final class BenchConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection does in the current phase.
    struct Phase {
        /// The next request to send, or nil when this connection has sent all it should.
        var next: () -> ClientRequest?
        /// A reply, the time its request was sent and the time it arrived.
        var replied: (ClientReply, _ sentNs: UInt64, _ nowNs: UInt64) -> Void
    }

    let index: Int
    let eventLoop: EventLoop
    private(set) var session: ClientSession
    private var context: ChannelHandlerContext?
    private var received: ByteBuffer?
    private var sentNs: Deque<UInt64> = []
    private var window = 1
    private var phase: Phase?
    private var phaseDone: EventLoopPromise<Void>?
    private let connected: EventLoopPromise<Void>
    private var connectedSettled = false
    private var pinger: RepeatedTask?
    private var lastSendNs: UInt64 = 0
    /// Watch notifications and the time each arrived.
    var notified: ((WatchedEvent, UInt64) -> Void)?
    private(set) var failure: String?

    init(index: Int, sessionTimeoutMs: Int32, eventLoop: EventLoop) {
        self.index = index
        self.eventLoop = eventLoop
        session = ClientSession(timeoutMs: sessionTimeoutMs)
        connected = eventLoop.makePromise()
    }

    /// Succeeds once the server answered the ConnectRequest with a live session.
    var connectedFuture: EventLoopFuture<Void> { connected.futureResult }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        var buffer = context.channel.allocator.buffer(capacity: 64)
        session.connect(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        lastSendNs = nowNs()
        let intervalMs = Int64(session.requestedTimeoutMs / 3)
        pinger = context.eventLoop.scheduleRepeatedTask(
            initialDelay: .milliseconds(intervalMs), delay: .milliseconds(intervalMs)
        ) { [weak self] _ in self?.pingIfQuiet(intervalMs: intervalMs) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var earlier = received {
            earlier.writeBuffer(&buffer)
            buffer = earlier
            received = nil
        }
        let now = nowNs()
        do {
            while let event = try session.receive(&buffer) { handle(event, now: now) }
        } catch {
            fail("protocol error from the server: \(error)")
            return
        }
        if buffer.readableBytes > 0 { received = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) { fill() }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        self.context = nil
        if session.state != .closed { fail("the server closed the connection") }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail("socket error: \(error)")
        context.close(promise: nil)
    }

    /// Runs a phase with up to `window` requests in flight; succeeds when the phase has no
    /// more requests for this connection and every reply came.
    func run(_ phase: Phase, window: Int) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        precondition(phaseDone == nil, "connection \(index) is already in a phase")
        let done = eventLoop.makePromise(of: Void.self)
        if let failure {
            done.fail(BenchError.connection(index: index, failure))
            return done.futureResult
        }
        self.phase = phase
        self.window = window
        phaseDone = done
        fill()
        return done.futureResult
    }

    func close() {
        pinger?.cancel()
        context?.close(promise: nil)
    }

    private func handle(_ event: ClientEvent, now: UInt64) {
        switch event {
        case .connected:
            connectedSettled = true
            connected.succeed(())
        case .sessionExpired:
            fail("the server refused the session")
        case .reply(let reply):
            let sent = sentNs.removeFirst()
            phase?.replied(reply, sent, now)
        case .notification(let event):
            notified?(event, now)
        case .pong:
            break
        }
    }

    /// Sends what the window and the phase allow, in one write.
    private func fill() {
        guard let phase else { return }
        if let context, session.state == .connected {
            var buffer = context.channel.allocator.buffer(capacity: 0)
            let now = nowNs()
            while session.outstandingCount < window, let request = phase.next() {
                session.send(request, into: &buffer)
                sentNs.append(now)
            }
            if buffer.readableBytes > 0 {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                lastSendNs = now
            }
        }
        // A closeSession's reply leaves the session closed: the phase ends with it.
        if session.outstandingCount == 0, let done = phaseDone {
            self.phase = nil
            phaseDone = nil
            done.succeed(())
        }
    }

    private func pingIfQuiet(intervalMs: Int64) {
        guard let context, session.state == .connected else { return }
        let now = nowNs()
        guard now - lastSendNs >= UInt64(intervalMs) * 1_000_000 else { return }
        var buffer = context.channel.allocator.buffer(capacity: 16)
        session.ping(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        lastSendNs = now
    }

    private func fail(_ message: String) {
        guard failure == nil else { return }
        failure = message
        if !connectedSettled {
            connectedSettled = true
            connected.fail(BenchError.connection(index: index, message))
        }
        phaseDone?.fail(BenchError.connection(index: index, message))
        phaseDone = nil
        phase = nil
        context?.close(promise: nil)
    }
}

public enum BenchError: Error, CustomStringConvertible {
    case connection(index: Int, String)
    case timedOut(String)
    case badHost(String)
    case setup(String)

    public var description: String {
        switch self {
        case .connection(let index, let message): return "session \(index): \(message)"
        case .timedOut(let what): return "timed out: \(what)"
        case .badHost(let host): return "not HOST:PORT: \(host)"
        case .setup(let message): return message
        }
    }
}
