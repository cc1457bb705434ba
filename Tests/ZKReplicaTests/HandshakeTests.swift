import NIOCore
import Testing
import ZKModel
import ZKReplica
import ZKWire

/// The session handshake (reference §1.3, §2.1, §7.5).
@Suite struct HandshakeTests {
    @Test func newSession_connectResponseWaitsForTheDurableCreateSessionTxn() {
        var h = ReplicaHarness()
        h.open(1)
        let sent = h.send(1, connectFrame(timeout: 30000))
        #expect(sent.connectResponses(to: 1).isEmpty)
        #expect(sent.appendedTxns.map(\.body) == [.createSession(timeoutMs: 30000)])
        #expect(sent.appendedTxns.first?.header.clientId == firstSession)
        #expect(sent.appendedTxns.first?.zxid == 1)
        let persisted = h.persist()
        #expect(
            persisted == [
                .sendConnectResponse(
                    1, ConnectResponse(timeOut: 30000, sessionId: firstSession, passwd: SessionTable.password(for: firstSession), readOnly: false))
            ])
        #expect(h.replica.sessions.sessions[firstSession]?.timeoutMs == 30000)
    }

    @Test func workedExample_replyBytesMatchZooKeeper() throws {
        // Reference §1.3: the session id 0x01000008c8150000 comes from a clock of 0x8c815 ms.
        var h = ReplicaHarness(monotonicMs: 0x8c815)
        h.open(1)
        let request = bytes(
            "00000000 0000000000000000 00007530 0000000000000000 00000010 00000000000000000000000000000000 00")
        h.send(1, ByteBuffer(bytes: request))
        let actions = h.persist()
        guard case .sendConnectResponse(1, let response)? = actions.first else {
            Issue.record("no connect response: \(actions)")
            return
        }
        var out = ByteBuffer()
        FrameEncoder.connectResponse(response, into: &out)
        #expect(hex(out) == "00000025" + "00000000" + "00007530" + "01000008c8150000" + "00000010" + "a1e9cae41a514d83e7afc156f3b71705" + "00")
    }

    @Test(arguments: [(1000, 4000), (3999, 4000), (4000, 4000), (30000, 30000), (40000, 40000), (10_000_000, 40000), (0, 4000), (-5, 4000)] as [(Int32, Int32)])
    func newSession_timeout_isClampedToMinAndMax(requested: Int32, negotiated: Int32) {
        var h = ReplicaHarness()
        #expect(h.connect(1, timeout: requested).timeOut == negotiated)
        #expect(h.log.first?.body == .createSession(timeoutMs: negotiated))
    }

    @Test func newSession_customBounds_areUsed() {
        var h = ReplicaHarness {
            $0.minSessionTimeoutMs = 1000
            $0.maxSessionTimeoutMs = 5000
        }
        #expect(h.connect(1, timeout: 500).timeOut == 1000)
        #expect(h.connect(2, timeout: 9000).timeOut == 5000)
    }

    @Test func oldClientWithoutReadOnlyByte_gets36BytePayload() {
        var h = ReplicaHarness()
        h.open(1)
        h.send(1, connectFrame(readOnly: nil))
        let response = h.persist().connectResponses(to: 1).first
        #expect(response?.readOnly == nil)
        var out = ByteBuffer()
        FrameEncoder.connectResponse(response ?? .invalid(readOnly: nil), into: &out)
        #expect(out.readableBytes == 4 + 36)
    }

    @Test func newClientWithReadOnlyTrue_getsReadOnlyFalseFromAReadWriteServer() {
        var h = ReplicaHarness()
        h.open(1)
        h.send(1, connectFrame(readOnly: true))
        #expect(h.persist().connectResponses(to: 1).first?.readOnly == false)
    }

    @Test func sessionIds_areConsecutiveWithServerIdInTopByte() {
        var h = ReplicaHarness()
        #expect(h.connect(1).sessionId == firstSession)
        #expect(h.connect(2).sessionId == firstSession + 1)
        var other = ReplicaHarness(monotonicMs: 0xc87c5) { $0.serverId = 3 }
        #expect(other.connect(1).sessionId == 0x0300_000c_87c5_0000)
    }

    @Test func reattach_withPassword_resumesSessionAndClosesTheOldConnection() {
        var h = ReplicaHarness()
        let first = h.connect(1)
        h.open(2)
        let actions = h.send(2, connectFrame(sessionId: first.sessionId, passwd: first.passwd, timeout: 30000))
        #expect(actions.closes(1))
        #expect(!actions.closes(2))
        #expect(actions.appendedTxns.isEmpty)
        #expect(actions.connectResponses(to: 2) == [ConnectResponse(timeOut: 30000, sessionId: first.sessionId, passwd: first.passwd, readOnly: false)])
        // The session now lives on connection 2.
        let reply = h.sendAndPersist(2, Req.create(1, "/a")).reply(to: 2, xid: 1)
        #expect(reply?.header.err == 0)
    }

    @Test func reattach_wrongPassword_invalidResponseClose_andLegitimateConnectionClosedToo() {
        var h = ReplicaHarness()
        let first = h.connect(1)
        h.open(2)
        var wrong = first.passwd
        wrong[0] ^= 0xff
        let actions = h.send(2, connectFrame(sessionId: first.sessionId, passwd: wrong))
        #expect(actions.closes(1))
        #expect(actions.connectResponses(to: 2) == [.invalid(readOnly: false)])
        #expect(actions.timeline(2) == ["connect", "close"])
        #expect(ConnectResponse.invalid(readOnly: false).timeOut == 0)
        // The session itself survives; the right password still works.
        h.open(3)
        #expect(h.send(3, connectFrame(sessionId: first.sessionId, passwd: first.passwd)).connectResponses(to: 3).first?.sessionId == first.sessionId)
    }

    @Test func reattach_unknownSession_invalidResponseAndClose() {
        var h = ReplicaHarness()
        h.open(1)
        let actions = h.send(1, connectFrame(sessionId: 0x0100_0000_dead_0000, passwd: zeroPassword, readOnly: nil))
        #expect(actions.connectResponses(to: 1) == [.invalid(readOnly: nil)])
        #expect(actions.timeline(1) == ["connect", "close"])
    }

    @Test func reattach_renegotiatesTheRequestedTimeout() {
        // Reference §1.3: the timeout is clamped for every ConnectRequest and the valid reply carries
        // that negotiated value (ZooKeeper's finishSessionInit uses the connection's new timeout).
        var h = ReplicaHarness()
        let first = h.connect(1, timeout: 30000)
        h.open(2)
        let response = h.send(2, connectFrame(sessionId: first.sessionId, passwd: first.passwd, timeout: 10000)).connectResponses(to: 2).first
        #expect(response?.timeOut == 10000)
    }

    @Test func reattach_renegotiatedTimeout_governsExpiry() {
        var h = ReplicaHarness()
        let first = h.connect(1, timeout: 40000)
        h.open(2)
        h.send(2, connectFrame(sessionId: first.sessionId, passwd: first.passwd, timeout: 4000))
        #expect(h.replica.sessions.sessions[first.sessionId]?.timeoutMs == 4000)
        let deadline = ((h.now + 4000) / 2000 + 1) * 2000
        #expect(h.tick(at: deadline - 1).appendedTxns.isEmpty)
        #expect(h.tick(at: deadline).appendedTxns.map(\.body) == [.closeSession(pathsToDelete: [])])
    }

    @Test func lastZxidSeenAheadOfServer_closesWithoutReply() {
        var h = ReplicaHarness()
        h.open(1)
        let actions = h.send(1, connectFrame(lastZxidSeen: 5))
        #expect(actions == [.closeConnection(1)])
        #expect(h.log.isEmpty)
    }

    @Test func lastZxidSeenEqualToServer_isAccepted() {
        var h = ReplicaHarness()
        h.connect(1)
        h.open(2)
        h.send(2, connectFrame(lastZxidSeen: 1))
        #expect(h.persist().connectResponses(to: 2).count == 1)
    }

    @Test func undecodableConnectRequest_closesWithoutReply() {
        var h = ReplicaHarness()
        h.open(1)
        #expect(h.send(1, ByteBuffer(bytes: [0, 0, 0, 0, 1])) == [.closeConnection(1)])
        h.open(2)
        #expect(h.send(2, ByteBuffer()) == [.closeConnection(2)])
    }

    @Test func requestsPipelinedBehindTheConnectRequest_areAnsweredAfterTheConnectResponse() {
        var h = ReplicaHarness()
        h.open(1)
        h.send(1, connectFrame())
        // Held until the session exists; the shell stops reading meanwhile.
        #expect(h.send(1, Req.create(1, "/early")) == [.setReading(1, enabled: false)])
        #expect(h.send(1, Req.getData(2, "/early")).isEmpty)
        var actions = h.persist()
        // Connect response first; the create is now logged and waits for durability.
        #expect(actions.timeline(1) == ["connect"])
        #expect(actions.contains(.setReading(1, enabled: true)))
        actions += h.persist()
        #expect(actions.timeline(1) == ["connect", "reply:1:0", "reply:2:0"])
    }

    @Test func connectionLimitPerAddress_closesTheConnectionOverTheLimit() {
        var h = ReplicaHarness { $0.maxClientCnxns = 2 }
        #expect(h.open(1, address: "10.0.0.1").isEmpty)
        #expect(h.open(2, address: "10.0.0.1").isEmpty)
        let refused = h.open(3, address: "10.0.0.1")
        #expect(refused.closes(3))
        #expect(refused.contains { if case .notice(3, let text) = $0 { return text.contains("maxClientCnxns 2") } else { return false } })
        #expect(h.open(4, address: "10.0.0.2").isEmpty)
    }

    /// The handshake deadline counts from the accept, in tickTime buckets as ZooKeeper's
    /// connection expiry queue does; bytes that are not a whole ConnectRequest do not move it.
    @Test func connectionWithoutHandshake_isClosedAfterTheSessionlessTimeout() {
        var h = ReplicaHarness()
        let opened = h.now
        h.open(1)
        #expect(!h.tick(at: opened + 9_999).closes(1))
        #expect(h.tick(at: opened + 10_000 + h.replica.configuration.tickTimeMs).closes(1))
    }
}
