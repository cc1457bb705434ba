import NIOCore
import ZKReplica
import ZKWire

/// Per-connection framing on the connection's own event loop: split frames, refuse oversized
/// ones, and pass whole frames to the replica. A bad length closes this connection only.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let shell: ReplicaShell
    private var decoder: FrameDecoder
    private var buffered: ByteBuffer?
    private var connectionId: ConnectionID = 0
    private var stopped = false

    init(shell: ReplicaShell, frameBytesMax: Int) {
        self.shell = shell
        self.decoder = FrameDecoder(frameBytesMax: frameBytesMax)
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionId = shell.allocateConnectionId()
        let remote = context.channel.remoteAddress
        shell.opened(connectionId, channel: context.channel, address: remote?.ipAddress ?? "0.0.0.0", port: remote?.port ?? 0)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopped = true
        shell.closed(connectionId)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stopped else { return }
        var incoming = unwrapInboundIn(data)
        if buffered == nil || buffered!.readableBytes == 0 {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        var outputs: [FrameDecoder.Output] = []
        do {
            while let output = try decoder.next(from: &buffered!) {
                outputs.append(output)
                // After a four-letter word nothing else is read on this connection.
                if case .fourLetterWord = output {
                    stopped = true
                    break
                }
            }
        } catch {
            stopped = true
            if !outputs.isEmpty { shell.received(connectionId, outputs) }
            context.close(promise: nil)
            return
        }
        if buffered!.readableBytes == 0 { buffered = nil } else { buffered!.discardReadBytes() }
        if !outputs.isEmpty { shell.received(connectionId, outputs) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
