import NIOCore
import Testing
import ZKModel
import ZKReplica
import ZKWire

/// Every limit a client controls: what is held, when the shell is told to stop reading,
/// and what closes a connection.
@Suite struct BackpressureTests {
    static func notices(_ actions: [ReplicaAction], _ id: ConnectionID) -> [String] {
        actions.compactMap { if case .notice(id, let text) = $0 { return text } else { return nil } }
    }

    /// A client that pipelines reads of a large node and reads no replies is served until
    /// its unsent replies pass the pause bound; then its frames wait and its socket is not
    /// read, with one notice. Replies the socket takes let it go on.
    @Test func unreadRepliesHoldFurtherRequests() {
        var h = ReplicaHarness { $0.connectionUnsentBytesPause = 300_000 }
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/big", data: [UInt8](repeating: 7, count: 100_000)))
        h.unread = [1]
        var actions: [ReplicaAction] = []
        for xid in Int32(2)...21 { actions += h.send(1, Req.getData(xid, "/big")) }
        // Three replies reach 300,264 unsent bytes: the fourth request waits.
        #expect(actions.replies(to: 1).count == 3)
        #expect(actions.filter { $0 == .setReading(1, enabled: false) }.count == 1)
        #expect(Self.notices(actions, 1).count == 1)
        #expect(Self.notices(actions, 1).first?.contains("connectionUnsentBytesPause") == true)
        // The socket takes two replies: two more requests are answered.
        let bytes = ReplicaAction.sendReply(1, actions.replies(to: 1)[0].header, actions.replies(to: 1)[0].response).frameBytes!
        var resumed = h.record(h.replica.repliesWritten(1, bytes: 2 * bytes, now: h.time))
        #expect(resumed.replies(to: 1).map(\.header.xid) == [5, 6])
        #expect(!resumed.contains(.setReading(1, enabled: true)))
        // Everything taken: the rest are answered in order and reading resumes, with no
        // second notice.
        h.unread = []
        resumed = h.record(h.replica.repliesWritten(1, bytes: 5 * bytes, now: h.time))
        #expect(resumed.replies(to: 1).map(\.header.xid) == Array(7...21))
        #expect(resumed.contains(.setReading(1, enabled: true)))
        #expect(Self.notices(resumed, 1).isEmpty)
    }

    /// Reads queued behind a write wait for the client to read too: a write's commit does
    /// not release a burst of replies past the pause bound.
    @Test func drainStopsAtThePauseBound() {
        var h = ReplicaHarness { $0.connectionUnsentBytesPause = 250_000 }
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/big", data: [UInt8](repeating: 7, count: 100_000)))
        h.unread = [1]
        h.send(1, Req.setData(2, "/small", [1]))
        for xid in Int32(3)...8 { h.send(1, Req.getData(xid, "/big")) }
        let applied = h.persist()
        #expect(applied.replies(to: 1).map(\.header.xid) == [2, 3, 4, 5])
    }

    /// `connectionRequestsInFlightMax`: writes beyond it wait for earlier ones to commit.
    @Test func requestsInFlightPerConnectionAreBounded() {
        var h = ReplicaHarness { $0.connectionRequestsInFlightMax = 5 }
        h.connect(1)
        var actions: [ReplicaAction] = []
        for xid in Int32(1)...12 { actions += h.send(1, Req.create(xid, "/n\(xid)")) }
        #expect(actions.appendedTxns.count == 5)
        #expect(actions.contains(.setReading(1, enabled: false)))
        #expect(Self.notices(actions, 1).first?.contains("connectionRequestsInFlightMax") == true)
        var committed = h.persist()
        #expect(committed.replies(to: 1).map(\.header.xid) == [1, 2, 3, 4, 5])
        #expect(committed.appendedTxns.count == 5)
        committed = h.persist() + h.persist()
        #expect(committed.replies(to: 1).map(\.header.xid) == Array(6...12))
        #expect(committed.contains(.setReading(1, enabled: true)))
    }

    /// `globalOutstandingLimit`, as ZooKeeper's throttle: past it a connection with a
    /// request in flight waits, but one with nothing in flight still gets a request in, so a
    /// greedy client cannot starve a quiet one.
    @Test func globalLimitHoldsBusyConnectionsButNotIdleOnes() {
        var h = ReplicaHarness {
            $0.globalOutstandingLimit = 4
            $0.connectionRequestsInFlightMax = 100
        }
        h.connect(1)
        h.connect(2)
        var greedy: [ReplicaAction] = []
        for xid in Int32(1)...10 { greedy += h.send(1, Req.create(xid, "/g\(xid)")) }
        #expect(greedy.appendedTxns.count == 4)
        #expect(Self.notices(greedy, 1).first?.contains("globalOutstandingLimit") == true)
        // The quiet connection's first request is taken; its second waits.
        #expect(h.send(2, Req.create(1, "/q1")).appendedTxns.count == 1)
        #expect(h.send(2, Req.create(2, "/q2")).appendedTxns.isEmpty)
        // As the log catches up both connections go on, and nothing is lost or reordered.
        var later: [ReplicaAction] = []
        for _ in 0..<6 { later += h.persist() }
        #expect(later.replies(to: 1).map(\.header.xid) == Array(1...10))
        #expect(later.replies(to: 2).map(\.header.xid) == [1, 2])
        #expect(later.replies(to: 1).allSatisfy { $0.header.err == 0 })
    }

    /// Notifications pile up for a client that reads nothing; past the close bound its
    /// connection is closed with one notice (its session lives on).
    @Test func notificationsPastTheCloseBoundCloseTheConnection() {
        var h = ReplicaHarness {
            $0.connectionUnsentBytesPause = 1_000
            $0.connectionUnsentBytesClose = 5_000
        }
        h.connect(1)
        h.connect(2)
        for index in 0..<200 { h.send(1, Req.exists(Int32(index + 1), "/w\(index)", watch: true)) }
        h.unread = [1]
        let session = h.replica.sessions.sessions.values.first { $0.connection == 1 }!.id
        var actions: [ReplicaAction] = []
        for index in 0..<200 { actions += h.sendAndPersist(2, Req.create(Int32(index + 1), "/w\(index)")) }
        let closed = actions.closes(1)
        #expect(closed)
        #expect(Self.notices(actions, 1).count == 1)
        #expect(Self.notices(actions, 1).first?.contains("connectionUnsentBytesClose") == true)
        #expect(actions.notifications(to: 1).count < 200)
        #expect(h.replica.sessions.sessions[session] != nil)
    }

    /// A shell that kept reading while told to stop: past `connectionHeldBytesMax` the
    /// connection is closed.
    @Test func framesHeldPastTheBoundCloseTheConnection() {
        var h = ReplicaHarness {
            $0.frameBytesMax = 10_000
            $0.connectionRequestsInFlightMax = 1
        }
        h.connect(1)
        h.send(1, Req.create(1, "/a"))
        let held = h.replica.configuration.connectionHeldBytesMax
        var actions: [ReplicaAction] = []
        var sent = 0
        var xid: Int32 = 2
        while sent <= held + 10_000, !actions.closes(1) {
            let frame = Req.setData(xid, "/a", [UInt8](repeating: 1, count: 5_000))
            sent += frame.readableBytes
            actions += h.send(1, frame)
            xid += 1
        }
        let closed = actions.closes(1)
        #expect(closed)
        #expect(sent > held)
        #expect(Self.notices(actions, 1).contains { $0.contains("bytes of requests held") })
    }

    /// `connectionAuthIdsMax`: each digest auth adds an id; past the bound the auth fails
    /// and the connection closes.
    @Test func authIdsPerConnectionAreBounded() {
        var h = ReplicaHarness { $0.connectionAuthIdsMax = 3 }
        h.connect(1)
        // The connection holds its ip id already: two digests fit.
        #expect(h.send(1, Req.auth("digest", "a:1")).reply(to: 1, xid: ReservedXid.auth)?.header.err == 0)
        #expect(h.send(1, Req.auth("digest", "b:1")).reply(to: 1, xid: ReservedXid.auth)?.header.err == 0)
        #expect(h.send(1, Req.auth("digest", "a:1")).reply(to: 1, xid: ReservedXid.auth)?.header.err == 0)
        let refused = h.send(1, Req.auth("digest", "c:1"))
        #expect(refused.reply(to: 1, xid: ReservedXid.auth)?.header.err == ErrorCode.authFailed.rawValue)
        #expect(refused.closes(1))
    }

    /// An auth packet that cannot be decoded closes the connection without a reply, as
    /// ZooKeeper's `processPacket` does.
    @Test func undecodableAuthPacketClosesWithoutReply() {
        var h = ReplicaHarness()
        h.connect(1)
        let truncated = requestFrame(ReservedXid.auth, .auth) { $0.writeInt(0) }
        let actions = h.send(1, truncated)
        #expect(actions.replies(to: 1).isEmpty)
        #expect(actions.closes(1))
    }

    /// A create whose ACL count is negative reads as an empty list and fails with
    /// INVALIDACL, as Java's jute reads it.
    @Test func negativeACLCountIsInvalidACL() {
        var h = ReplicaHarness()
        h.connect(1)
        let create = requestFrame(1, .create) {
            $0.writeString("/n")
            $0.writeBuffer([])
            $0.writeInt(-5)
            $0.writeInt(0)
        }
        #expect(h.sendAndPersist(1, create).reply(to: 1, xid: 1)?.header.err == ErrorCode.invalidACL.rawValue)
    }

    /// Frames sent while the session is being created wait for it, whatever their number.
    @Test func framesAheadOfTheSessionWaitForIt() {
        var h = ReplicaHarness()
        h.open(1)
        h.send(1, connectFrame())
        for xid in Int32(1)...50 { h.send(1, Req.exists(xid, "/x")) }
        let actions = h.persist()
        #expect(actions.timeline(1).first == "connect")
        #expect(actions.replies(to: 1).map(\.header.xid) == Array(1...50))
    }
}

/// No reply larger than `replyBytesMax` is built: a multiRead or getChildren past it
/// closes the connection with a notice (ZooKeeper's client drops a frame past its
/// `jute.maxbuffer` the same way), and a getData of the largest storable node still works.
@Suite struct ReplySizeTests {
    static func multiRead(_ xid: Xid, getData path: String, count: Int) -> ByteBuffer {
        requestFrame(xid, .multiRead) {
            for _ in 0..<count {
                $0.writeInt(OpCode.getData.rawValue)
                $0.writeBool(false)
                $0.writeInt(-1)
                $0.writeString(path)
                $0.writeBool(false)
            }
            $0.writeInt(-1)
            $0.writeBool(true)
            $0.writeInt(-1)
        }
    }

    @Test func multiReadPastTheBoundClosesTheConnection() {
        var h = ReplicaHarness()
        h.connect(1)
        let data = [UInt8](repeating: 1, count: 0xfffff - 100)
        #expect(h.sendAndPersist(1, Req.create(1, "/big", data: data)).reply(to: 1, xid: 1)?.header.err == 0)
        // One large read fits.
        #expect(h.send(1, Req.getData(2, "/big")).reply(to: 1, xid: 2)?.header.err == 0)
        // 2,100 of them would be a reply past 2 GiB: refused before it is built.
        let refused = h.send(1, Self.multiRead(3, getData: "/big", count: 2_100))
        #expect(refused.replies(to: 1).isEmpty)
        let closed = refused.closes(1)
        #expect(closed)
        #expect(BackpressureTests.notices(refused, 1).first?.contains("replyBytesMax") == true)
    }

    @Test func getChildrenPastTheBoundClosesTheConnection() {
        var h = ReplicaHarness { $0.replyBytesMaxSetting = 4096 }
        h.connect(1)
        h.sendAndPersist(1, Req.create(1, "/p"))
        for index in 0..<200 { h.send(1, Req.create(Int32(index + 2), "/p/child-with-a-longish-name-\(index)")) }
        h.persist()
        let refused = h.send(1, Req.getChildren(500, "/p"))
        let closed = refused.closes(1)
        #expect(closed)
        h.connect(2)
        #expect(h.send(2, Req.exists(1, "/p")).reply(to: 2, xid: 1)?.header.err == 0)
    }
}
