import NIOCore
import NIOEmbedded
import Testing
import ZKModel
import ZKReplica
import ZKWire
@testable import ZKServer

/// Reads answered on the connection's own loop (`ReadView`) keep ZooKeeper's order: a read
/// waits behind its session's writes, never shows a state older than one the client saw,
/// and goes to the replica whenever the handler cannot be sure.
@Suite struct LocalReadTests {
    static func getData(_ xid: Xid, _ path: String) -> ByteBuffer {
        HandlerHarness.request(xid, .getData) {
            $0.writeString(path)
            $0.writeBool(false)
        }
    }

    static func create(_ xid: Xid, _ path: String, _ data: String) -> ByteBuffer {
        HandlerHarness.request(xid, .create) {
            $0.writeString(path)
            $0.writeBuffer(Array(data.utf8))
            $0.writeACLs(ACL.openACLUnsafe)
            $0.writeInt(0)
        }
    }

    static func setData(_ xid: Xid, _ path: String, _ data: String) -> ByteBuffer {
        HandlerHarness.request(xid, .setData) {
            $0.writeString(path)
            $0.writeBuffer(Array(data.utf8))
            $0.writeInt(-1)
        }
    }

    /// xid, zxid, err, and for a getData reply its data.
    static func parse(_ frame: ByteBuffer) -> (xid: Xid, zxid: Zxid, err: Int32, data: String?) {
        var frame = frame
        let xid = frame.readInteger(as: Int32.self)!, zxid = frame.readInteger(as: Int64.self)!, err = frame.readInteger(as: Int32.self)!
        guard err == 0, let length = frame.readInteger(as: Int32.self), length >= 0, let bytes = frame.readBytes(length: Int(length)) else {
            return (xid, zxid, err, nil)
        }
        return (xid, zxid, err, String(decoding: bytes, as: UTF8.self))
    }

    static func framed(_ payloads: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for payload in payloads {
            all.writeInteger(Int32(payload.readableBytes))
            all.writeImmutableBuffer(payload)
        }
        return all
    }

    /// An established session with /x = "one", whose loop holds the current view.
    static func harness() throws -> HandlerHarness {
        var h = try HandlerHarness(localReads: true)
        try h.establish()
        try h.sendFrame(create(1, "/x", "one"))
        h.persist()
        #expect(try h.frames().map { parse($0).err } == [0])
        try prime(&h)
        return h
    }

    /// A read the loop has no view for goes to the replica and brings the loop a view.
    static func prime(_ h: inout HandlerHarness) throws {
        let answered = h.handler.localReadsAnswered
        try h.sendFrame(getData(99, "/zookeeper"))
        #expect(try h.frames().count == 1)
        #expect(h.handler.localReadsAnswered == answered)
        #expect(h.readViews?.view?.zxid == h.shell.replica.tree.lastProcessedZxid)
    }

    @Test func aPlainRead_isAnsweredOnTheConnectionsLoop() throws {
        var h = try Self.harness()
        let zxid = h.shell.replica.tree.lastProcessedZxid
        let received = h.shell.replica.stats.packetsReceived
        try h.sendFrame(Self.getData(2, "/x"))
        let reply = try #require(try h.frames().first.map(Self.parse))
        #expect(reply.xid == 2 && reply.zxid == zxid && reply.err == 0 && reply.data == "one")
        #expect(h.handler.localReadsAnswered == 1)
        // The replica heard of it: the session lives on and the statistics count it.
        #expect(h.shell.replica.stats.packetsReceived == received + 1)
    }

    @Test func aReadBehindTheSessionsWrite_waitsForIt() throws {
        var h = try Self.harness()
        try h.send(Self.framed([Self.setData(2, "/x", "two"), Self.getData(3, "/x")]))
        #expect(try h.frames().isEmpty)
        h.persist()
        let replies = try h.frames().map(Self.parse)
        #expect(replies.map(\.xid) == [2, 3])
        #expect(replies.last?.data == "two")
        #expect(h.handler.localReadsAnswered == 0)
        try h.sendFrame(Self.getData(4, "/x"))
        #expect(try h.frames().map { Self.parse($0).data } == ["two"])
        #expect(h.handler.localReadsAnswered == 1)
    }

    /// The replica's reply to the write reached the client before the loop got the view
    /// with it: the read goes to the replica rather than show the old value.
    @Test func aViewOlderThanWhatTheClientSaw_isNotUsed() throws {
        var h = try Self.harness()
        let old = h.readViews?.view
        try h.sendFrame(Self.setData(2, "/x", "two"))
        h.persist()
        #expect(try h.frames().count == 1)
        h.readViews?.view = old
        try h.sendFrame(Self.getData(3, "/x"))
        #expect(try h.frames().map { Self.parse($0).data } == ["two"])
        #expect(h.handler.localReadsAnswered == 0)
    }

    /// A client that reconnects here was let in because the tree is as new as what it saw
    /// elsewhere; the loop's view may not have caught up yet, and must not answer it.
    @Test func aReconnectingClient_isNotAnsweredFromAnOlderView() throws {
        var h = try HandlerHarness(localReads: true)
        try h.establish()
        try Self.prime(&h)
        let empty = try #require(h.readViews?.view)
        try h.sendFrame(Self.create(1, "/x", "one"))
        h.persist()
        #expect(try h.frames().count == 1)
        let second = EmbeddedChannel(loop: h.loop)
        let handler = ClientConnectionHandler(shell: h.shell, limits: ClientConnectionLimits(frameBytesMax: 0xfffff))
        try second.pipeline.syncOperations.addHandler(handler)
        second.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 40001)
        try second.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2181)).wait()
        h.loop.run()
        try second.writeInbound(Self.framed([HandlerHarness.connectRequest()]))
        h.loop.run()
        h.persist()
        h.readViews?.view = empty
        try second.writeInbound(Self.framed([Self.getData(1, "/x")]))
        h.loop.run()
        var replies = ByteBuffer()
        while var chunk = try second.readOutbound(as: ByteBuffer.self) { replies.writeBuffer(&chunk) }
        var frames: [ByteBuffer] = []
        while let length = replies.readInteger(as: Int32.self) { frames.append(replies.readSlice(length: Int(length))!) }
        #expect(frames.count == 2)
        #expect(frames.last.map { Self.parse($0).data } == "one")
        #expect(handler.localReadsAnswered == 0)
    }

    /// A view the replica's tree shares makes every change copy the trie nodes on its path:
    /// a loop that answered nothing from its view since the last batch is given none, and
    /// gets the current one back with its next read.
    @Test func aLoopThatStoppedReading_isGivenNoView() throws {
        var h = try Self.harness()
        try h.sendFrame(Self.setData(2, "/x", "two"))
        h.persist()
        #expect(h.readViews?.view != nil)  // the priming read used the view before this batch
        try h.sendFrame(Self.setData(3, "/x", "three"))
        h.persist()
        #expect(h.readViews?.view == nil)
        #expect(try h.frames().count == 2)
        try Self.prime(&h)
        try h.sendFrame(Self.getData(4, "/x"))
        #expect(try h.frames().map { Self.parse($0).data } == ["three"])
        #expect(h.handler.localReadsAnswered == 1)
    }

    @Test func readsBeforeTheSessionIsEstablished_goToTheReplica() throws {
        var h = try HandlerHarness(localReads: true)
        try h.send(Self.framed([HandlerHarness.connectRequest(), Self.getData(1, "/")]))
        h.persist()
        let frames = try h.frames()
        #expect(frames.count == 2)
        #expect(frames.last.map { Self.parse($0).xid } == 1)
        #expect(h.handler.localReadsAnswered == 0)
    }

    /// A client that does not read its replies gets no more of them from the loop: the
    /// replica's unsent-bytes limits hold it.
    @Test func anUnwritableSocket_sendsReadsToTheReplica() throws {
        var h = try Self.harness()
        h.channel.isWritable = false
        try h.sendFrame(Self.getData(2, "/x"))
        #expect(try h.frames().map { Self.parse($0).data } == ["one"])
        #expect(h.handler.localReadsAnswered == 0)
    }

    @Test func withoutAPublishedView_everyReadGoesToTheReplica() throws {
        var h = try HandlerHarness()
        try h.establish()
        try h.sendFrame(Self.getData(1, "/zookeeper"))
        #expect(try h.frames().count == 1)
        #expect(h.handler.localReadsAnswered == 0)
    }
}
