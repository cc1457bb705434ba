import Logging
import NIOCore
import NIOPosix
import ZKConsensus
import ZKPersistence
import ZKQuorum
import ZKWire

/// One learner–leader connection and its codec. Loop-confined (the replica's loop runs
/// every quorum channel), which is what makes `@unchecked Sendable` safe.
final class QuorumLink: @unchecked Sendable {
    var codec: QuorumLinkCodec
    var channel: Channel?
    /// The other member: known when we dial our leader; from FOLLOWERINFO when it dials us.
    var peer: ServerID?
    /// A SNAP being streamed from the leader's copy of its tree, a slice whenever the
    /// socket can take more (`QuorumLinks.pumpSnap`).
    var snapStream: SnapshotFormat.BodyWriter?
    /// What was sent after that SNAP while it streams, encoded in order; it follows the stream.
    var afterSnap = ByteBuffer()
    /// The stream's last slice is still draining: the unsent-bytes bound waits for it.
    var snapDraining = false
    /// `pumpSnap` is running (a write may call it again through a writability change).
    var pumpingSnap = false
    /// FOLLOWERINFO/OBSERVERINFO went out on this connection. The peer repeats it until
    /// LEADERINFO comes (for links that lose messages); on TCP once is enough, and a
    /// ZooKeeper leader drops a learner that sends it twice ("is not ACKEPOCH").
    var sentLearnerInfo = false

    init(codec: QuorumLinkCodec, peer: ServerID?) {
        self.codec = codec
        self.peer = peer
    }
}

/// The quorum port: a leader's connections from its learners, a learner's connection to its
/// leader. Messages to the leader wait while the learner is still connecting; learners that
/// connect before this member knows it leads wait until it does (or closes them once it
/// follows someone else).
///
/// `@unchecked Sendable`: every field is touched only on `loop`.
final class QuorumLinks: @unchecked Sendable {
    let me: ServerID
    let servers: [ServerID: QuorumServer]
    let loop: EventLoop
    let logger: Logger
    let configText: String
    let dataBytesMax: Int32
    let connectTimeoutMs: Int64
    /// Set by the server: a message arrived, a link to a member broke, who this member follows.
    var deliver: ((PeerMessage, ServerID) -> Void)!
    var lost: ((ServerID) -> Void)!
    var currentRole: (() -> (state: ServerState, leader: ServerID?))!

    private var links: [ServerID: QuorumLink] = [:]
    /// Learners that said hello before this member led, with their hello.
    private var waitingLearners: [ServerID: (QuorumLink, PeerMessage)] = [:]
    /// Messages for the leader being dialled, and which leader that is.
    private var toLeader: [PeerMessage] = []
    private var dialingLeader: ServerID?
    private var touched: [ObjectIdentifier: Channel] = [:]
    private var flushScheduled = false
    static let redialDelayMs: Int64 = 100
    /// Bytes written to one link and not yet taken by its socket before the link counts as
    /// stuck and is closed (the peer then syncs again): a learner that stops reading cannot
    /// make the leader buffer without bound. A SNAP streams within it (`pumpSnap`).
    static let linkUnsentBytesMax = 64 << 20
    /// Bytes of a SNAP stream encoded at a time.
    static let snapSliceBytes = 1 << 20
    static var waterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: linkUnsentBytesMax / 2, high: linkUnsentBytesMax)
    }

    init(me: ServerID, servers: [ServerID: QuorumServer], loop: EventLoop, logger: Logger, configText: String, dataBytesMax: Int32, connectTimeoutMs: Int64) {
        self.me = me
        self.servers = servers
        self.loop = loop
        self.logger = logger
        self.configText = configText
        self.dataBytesMax = dataBytesMax
        self.connectTimeoutMs = connectTimeoutMs
    }

    var localAddress: SocketAddress? { servers[me]!.outgoingAddress }

    func codec(_ side: QuorumLinkCodec.Side) -> QuorumLinkCodec {
        QuorumLinkCodec(side: side, serverId: me, configText: configText, dataBytesMax: dataBytesMax)
    }

    func bind(host: String) throws -> Channel {
        try ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: Self.waterMark)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let link = QuorumLink(codec: codec(.leader), peer: nil)
                    link.channel = channel
                    try channel.pipeline.syncOperations.addHandler(QuorumChannelHandler(links: self, link: link))
                }
            }
            .bind(host: host, port: servers[me]!.quorumPort).wait()
    }

    // MARK: - Sending (on loop)

    func send(_ message: PeerMessage, to peer: ServerID) {
        let isLearnerInfo: Bool
        if case .learnerInfo = message { isLearnerInfo = true } else { isLearnerInfo = false }
        if let link = links[peer], let channel = link.channel {
            if isLearnerInfo {
                if link.sentLearnerInfo { return }
                link.sentLearnerInfo = true
            }
            if link.snapStream != nil {
                link.codec.encode(message, into: &link.afterSnap)
                if link.afterSnap.readableBytes > Self.linkUnsentBytesMax {
                    refused(link, reason: "more than \(Self.linkUnsentBytesMax) bytes waiting behind a SNAP: the peer reads too slowly")
                }
                return
            }
            if !channel.isWritable, !link.snapDraining {
                refused(link, reason: "more than \(Self.linkUnsentBytesMax) bytes unsent: the peer stopped reading")
                return
            }
            var buffer = channel.allocator.buffer(capacity: 64)
            if case .snap(let zxid, let snapshot) = message {
                link.codec.encodeSnapPacket(zxid: zxid, into: &buffer)
                channel.write(buffer, promise: nil)
                link.snapStream = SnapshotFormat.BodyWriter(tree: snapshot.tree, sessions: snapshot.sessions)
                pumpSnap(link)
                return
            }
            link.codec.encode(message, into: &buffer)
            channel.write(buffer, promise: nil)
            touched[ObjectIdentifier(channel)] = channel
            return
        }
        let role = currentRole()
        guard role.state == .following || role.state == .observing, role.leader == peer else { return }
        if isLearnerInfo, toLeader.contains(where: { if case .learnerInfo = $0 { return true } else { return false } }) { return }
        toLeader.append(message)
        dialLeader(peer)
    }

    /// Streams the link's SNAP while its socket takes more: slices of `snapSliceBytes` up to
    /// the write buffer's high-water mark, the rest once it drained below the low one
    /// (`QuorumChannelHandler.channelWritabilityChanged`); then the end marker and what was
    /// sent meanwhile. The leader never holds more than the water mark of the stream.
    func pumpSnap(_ link: QuorumLink) {
        // A write can make the channel writable again at once, which calls back in here.
        guard !link.pumpingSnap, let channel = link.channel else { return }
        link.pumpingSnap = true
        defer { link.pumpingSnap = false }
        while channel.isWritable, var stream = link.snapStream {
            var writer = JuteWriter(channel.allocator.buffer(capacity: Self.snapSliceBytes + 4096))
            stream.write(into: &writer, bytesMax: Self.snapSliceBytes)
            guard stream.isFinished else {
                link.snapStream = stream
                channel.writeAndFlush(writer.buffer, promise: nil)
                continue
            }
            link.snapStream = nil
            QuorumLinkCodec.snapStreamEnd(into: &writer.buffer)
            writer.buffer.writeBuffer(&link.afterSnap)
            link.afterSnap = ByteBuffer()
            link.snapDraining = true
            channel.writeAndFlush(writer.buffer).whenComplete { _ in link.snapDraining = false }
        }
    }

    /// After a batch of actions: flush what was written, once per turn of the loop. Every
    /// ACK, REQUEST and PING answer that arrives is a batch of its own; flushing each one
    /// cost the leader a write syscall per message per link (a quarter of its CPU under a
    /// 64-session setData load). The task runs after the loop handled every socket that
    /// was ready, so one write carries what all of them produced.
    func flush() {
        guard !touched.isEmpty, !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in
            flushScheduled = false
            flushTouched()
        }
    }

    private func flushTouched() {
        for channel in touched.values { channel.flush() }
        touched = [:]
    }

    func close(_ peer: ServerID) {
        flushTouched()  // what was sent before the close still leaves
        if dialingLeader == peer {
            dialingLeader = nil
            toLeader = []
        }
        if let (link, _) = waitingLearners.removeValue(forKey: peer) { link.channel?.close(promise: nil) }
        links[peer]?.channel?.close(promise: nil)
    }

    private func dialLeader(_ leader: ServerID) {
        guard dialingLeader != leader, let server = servers[leader] else { return }
        dialingLeader = leader
        attemptDial(leader, server)
    }

    private func attemptDial(_ leader: ServerID, _ server: QuorumServer) {
        let link = QuorumLink(codec: codec(.learner), peer: leader)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(connectTimeoutMs))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: Self.waterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(QuorumChannelHandler(links: self, link: link))
                }
            }
            .bindingOutgoing(to: localAddress)
            .connect(host: server.host, port: server.quorumPort)
            .whenComplete { [self] result in
                guard dialingLeader == leader else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    link.channel = channel
                    dialingLeader = nil
                    links[leader] = link
                    let pending = toLeader
                    toLeader = []
                    for message in pending { send(message, to: leader) }
                    flush()
                case .failure:
                    // The leader may not listen yet (it decides a little after us); the
                    // peer's initLimit decides when to give up.
                    loop.scheduleTask(in: .milliseconds(Self.redialDelayMs)) { [self] in
                        guard dialingLeader == leader else { return }
                        attemptDial(leader, server)
                    }
                }
            }
    }

    // MARK: - From channels (on loop)

    /// A learner's first packet (leader side): it says who it is.
    func introduced(_ link: QuorumLink, _ message: PeerMessage, learner: LearnerInfo) throws {
        let sid = learner.serverId
        guard sid != me, let server = servers[sid] else {
            throw QuorumWireError.unexpected("learner sid \(sid) is not a configured server")
        }
        guard case .learnerInfo(_, let observer) = message, observer == server.isObserver else {
            throw QuorumWireError.unexpected("server.\(sid) is \(server.isObserver ? "an observer" : "a participant") but said otherwise")
        }
        link.peer = sid
        if let (old, _) = waitingLearners.removeValue(forKey: sid) { old.channel?.close(promise: nil) }
        if let old = links.removeValue(forKey: sid) {
            old.channel?.close(promise: nil)
            lost(sid)
        }
        if currentRole().state == .leading {
            links[sid] = link
            deliver(message, sid)
        } else {
            waitingLearners[sid] = (link, message)
        }
    }

    /// This member now leads: learners that came early are taken in; if it follows
    /// someone, they go.
    func roleChanged(to state: ServerState) {
        switch state {
        case .leading:
            for sid in waitingLearners.keys.sorted() {
                let (link, message) = waitingLearners.removeValue(forKey: sid)!
                links[sid] = link
                deliver(message, sid)
            }
        case .following, .observing:
            for (link, _) in waitingLearners.values { link.channel?.close(promise: nil) }
            waitingLearners = [:]
        case .looking:
            break
        }
    }

    func received(_ message: PeerMessage, on link: QuorumLink) {
        guard let peer = link.peer, links[peer] === link else { return }
        deliver(message, peer)
    }

    func closed(_ link: QuorumLink) {
        guard let peer = link.peer else { return }
        if let (waiting, _) = waitingLearners[peer], waiting === link { waitingLearners[peer] = nil }
        guard links[peer] === link else { return }
        links[peer] = nil
        lost(peer)
    }

    func refused(_ link: QuorumLink, reason: String) {
        logger.warning(
            "quorum connection closed",
            metadata: [
                "peer": "\(link.peer.map { "server.\($0)" } ?? "unidentified")",
                "address": "\(link.channel?.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(reason)",
            ])
        link.channel?.close(promise: nil)
    }
}

/// One quorum connection: bare `QuorumPacket`s (and a SNAP's stream) both ways.
final class QuorumChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let links: QuorumLinks
    let link: QuorumLink
    private var buffer = ByteBuffer()

    init(links: QuorumLinks, link: QuorumLink) {
        self.links = links
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(&bytes) }
        do {
            while let message = try link.codec.decode(from: &buffer) {
                if link.peer == nil {
                    guard let info = link.codec.learnerInfo else {
                        throw QuorumWireError.unexpected("\(message.packetType) before FOLLOWERINFO/OBSERVERINFO")
                    }
                    try links.introduced(link, message, learner: info)
                } else {
                    links.received(message, on: link)
                }
            }
            if buffer.readerIndex > 1 << 20 { buffer.discardReadBytes() }
        } catch {
            links.refused(link, reason: "\(error)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        links.closed(link)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, link.snapStream != nil { links.pumpSnap(link) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
