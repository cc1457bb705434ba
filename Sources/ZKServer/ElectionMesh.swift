import Foundation
import DequeModule
import Logging
import NIOCore
import NIOPosix
import ZKConsensus
import ZKQuorum

/// The election port as ZooKeeper's `QuorumCnxManager`: one connection per pair of members,
/// the one dialled by the higher sid (a lower sid that dials is hung up on and dialled
/// back), a handshake naming the dialler, then length-framed notifications of at most
/// 512 KiB. Notifications wait in a short per-member queue until a connection exists.
///
/// `@unchecked Sendable`: every field is touched only on `loop` (the replica's loop, which
/// also runs every election channel).
final class ElectionMesh: @unchecked Sendable {
    let me: ServerID
    let servers: [ServerID: QuorumServer]
    let loop: EventLoop
    let logger: Logger
    let configText: String
    let connectTimeoutMs: Int64
    /// Set by the server before the port opens.
    var deliver: ((ZKConsensus.Notification, ServerID) -> Void)!

    private var links: [ServerID: Channel] = [:]
    private var queued: [ServerID: Deque<ZKConsensus.Notification>] = [:]
    private var dialing: Set<ServerID> = []
    /// Notifications kept per member while no connection exists; the peer resends anyway.
    static let queuedNotificationsMax = 4

    init(me: ServerID, servers: [ServerID: QuorumServer], loop: EventLoop, logger: Logger, configText: String, connectTimeoutMs: Int64) {
        self.me = me
        self.servers = servers
        self.loop = loop
        self.logger = logger
        self.configText = configText
        self.connectTimeoutMs = connectTimeoutMs
    }

    var myServer: QuorumServer { servers[me]! }
    var localAddress: SocketAddress? { myServer.outgoingAddress }

    func bind(host: String, retries: Int) throws -> Channel {
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ElectionChannelHandler(mesh: self, peer: nil))
                }
            }
        var attempt = 0
        while true {
            do {
                return try bootstrap.bind(host: host, port: myServer.electionPort).wait()
            } catch {
                attempt += 1
                guard retries == 0 || attempt <= retries else { throw error }
                logger.warning("cannot bind the election port yet; retrying", metadata: ["port": "\(myServer.electionPort)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    // MARK: - Sending (on loop)

    func send(_ notification: ZKConsensus.Notification, to peer: ServerID) {
        guard servers[peer] != nil, peer != me else { return }
        if let channel = links[peer] {
            channel.writeAndFlush(frame(notification), promise: nil)
            return
        }
        var queue = queued[peer, default: []]
        queue.append(notification)
        while queue.count > Self.queuedNotificationsMax { queue.removeFirst() }
        queued[peer] = queue
        dial(peer)
    }

    private func frame(_ notification: ZKConsensus.Notification) -> ByteBuffer {
        var buffer = ByteBuffer()
        ElectionFrame.encode(NotificationCodec.encode(notification, configText: configText), into: &buffer)
        return buffer
    }

    /// Dials `peer`. To a lower sid the connection is ours to keep; to a higher one it only
    /// tells the peer to dial us back (it hangs up after our handshake).
    private func dial(_ peer: ServerID) {
        guard !dialing.contains(peer), let server = servers[peer] else { return }
        dialing.insert(peer)
        let keeps = peer < me
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(connectTimeoutMs))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ElectionChannelHandler(mesh: self, peer: keeps ? peer : nil, dialled: true))
                }
            }
            .bindingOutgoing(to: localAddress)
            .connect(host: server.host, port: server.electionPort)
            .whenComplete { [self] result in
                dialing.remove(peer)
                guard case .success(let channel) = result else { return }
                var hello = ByteBuffer()
                ElectionHandshake(serverId: me, electionAddress: "\(myServer.host):\(myServer.electionPort)").encode(into: &hello)
                channel.writeAndFlush(hello, promise: nil)
                if keeps { adopt(channel, for: peer) }
            }
    }

    private func adopt(_ channel: Channel, for peer: ServerID) {
        if let old = links[peer], old !== channel { old.close(promise: nil) }
        links[peer] = channel
        for notification in queued.removeValue(forKey: peer) ?? [] { channel.write(frame(notification), promise: nil) }
        channel.flush()
    }

    // MARK: - From channels (on loop)

    /// An accepted connection introduced itself. Returns whether the connection stays.
    func handshake(_ hello: ElectionHandshake, on channel: Channel) -> Bool {
        let remote = channel.remoteAddress.map { "\($0)" } ?? "?"
        guard hello.serverId != me else {
            logger.warning("election connection refused: it claims our own sid (a configuration error)", metadata: ["peer": "\(remote)", "sid": "\(hello.serverId)"])
            return false
        }
        guard servers[hello.serverId] != nil else {
            logger.warning("election connection refused: sid is not a configured server", metadata: ["peer": "\(remote)", "sid": "\(hello.serverId)"])
            return false
        }
        if hello.serverId < me {
            // The connection the higher sid dials is the one that survives.
            dial(hello.serverId)
            return false
        }
        adopt(channel, for: hello.serverId)
        return true
    }

    func received(_ payload: ByteBuffer, from peer: ServerID, on channel: Channel) throws {
        let decoded = try NotificationCodec.decode(payload)
        deliver(decoded.notification, peer)
    }

    func closed(_ channel: Channel, peer: ServerID?) {
        guard let peer, links[peer] === channel else { return }
        links[peer] = nil
    }

    func refused(_ channel: Channel, peer: ServerID?, reason: String) {
        logger.warning(
            "election connection closed", metadata: ["peer": "\(peer.map { "server.\($0)" } ?? "unidentified")", "address": "\(channel.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(reason)"])
        channel.close(promise: nil)
    }
}

/// One election connection: the handshake (accepted connections), then notifications.
final class ElectionChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let mesh: ElectionMesh
    /// Known from the start on connections we dialled and keep; after the handshake on accepted ones.
    var peer: ServerID?
    /// A connection we dialled to a higher sid: it only carries our handshake.
    let dialled: Bool
    private var buffer = ByteBuffer()
    /// A handshake plus a few notifications; anything more is buffered at most this far.
    static let bufferedBytesMax = Int(ElectionFrame.payloadBytesMax) + 8

    init(mesh: ElectionMesh, peer: ServerID?, dialled: Bool = false) {
        self.mesh = mesh
        self.peer = peer
        self.dialled = dialled
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        do {
            while true {
                if peer == nil {
                    if dialled {
                        // A higher sid only hangs up on this connection; nothing else may come.
                        buffer.clear()
                        return
                    }
                    guard let hello = try ElectionHandshake.decode(from: &buffer) else { break }
                    guard mesh.handshake(hello, on: context.channel) else {
                        context.close(promise: nil)
                        return
                    }
                    peer = hello.serverId
                }
                guard let payload = try ElectionFrame.decode(from: &buffer) else { break }
                try mesh.received(payload, from: peer!, on: context.channel)
            }
            buffer.discardReadBytes()
        } catch {
            mesh.refused(context.channel, peer: peer, reason: "\(error)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        mesh.closed(context.channel, peer: peer)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
