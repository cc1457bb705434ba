import NIOCore
import Testing
import ZKClientCore
import ZKModel
import ZKWire

/// The client's frames are read back by the server's own decoder; replies are matched to
/// requests in order, as ZooKeeper answers them.
@Suite struct ClientSessionTests {
    static let acl = ACL.openACLUnsafe

    static func connected() -> ClientSession {
        var session = ClientSession(timeoutMs: 30000)
        var out = ByteBuffer()
        session.connect(into: &out)
        var reply = ByteBuffer()
        FrameEncoder.connectResponse(
            ConnectResponse(timeOut: 20000, sessionId: 0x1234, passwd: [UInt8](repeating: 7, count: 16), readOnly: false),
            into: &reply)
        guard case .connected = try! session.receive(&reply) else { preconditionFailure("not connected") }
        return session
    }

    /// Removes the length prefix and the header, returning (xid, type, decoded body).
    static func decodeFrame(_ buffer: inout ByteBuffer) throws -> (Xid, Int32, Request) {
        let length = buffer.readInteger(endianness: .big, as: Int32.self)!
        #expect(Int(length) == buffer.readableBytes)
        var reader = JuteReader(buffer)
        let xid = try reader.readInt()
        let type = try reader.readInt()
        let request = try Request.decode(type: type, from: &reader)
        #expect(reader.isAtEnd)
        return (xid, type, request)
    }

    @Test func connectRequestIsWhatTheServerReads() throws {
        var session = ClientSession(timeoutMs: 12345, sessionId: 99, passwd: [UInt8](repeating: 3, count: 16), lastZxidSeen: 42)
        var out = ByteBuffer()
        session.connect(into: &out)
        let length = out.readInteger(endianness: .big, as: Int32.self)!
        #expect(Int(length) == out.readableBytes)
        var reader = JuteReader(out)
        let request = try ConnectRequest.decode(from: &reader)
        #expect(request.timeOut == 12345 && request.sessionId == 99 && request.lastZxidSeen == 42)
        #expect(request.passwd == [UInt8](repeating: 3, count: 16))
    }

    @Test func everyRequestDecodesAsTheServerReadsIt() throws {
        var session = Self.connected()
        let data: [UInt8] = [1, 2, 3]
        let cases: [(ClientRequest, Request)] = [
            (.create(path: "/a", data: data, acl: Self.acl, mode: .persistentSequential),
             .create(CreateRequest(opCode: .create, path: "/a", data: data, acl: Self.acl, flags: 2))),
            (.delete(path: "/a", version: 4), .delete(path: "/a", version: 4)),
            (.exists(path: "/a", watch: true), .exists(path: "/a", watch: true)),
            (.getData(path: "/a", watch: false), .getData(path: "/a", watch: false)),
            (.setData(path: "/a", data: data, version: -1), .setData(path: "/a", data: data, version: -1)),
            (.getChildren(path: "/", watch: true), .getChildren(path: "/", watch: true)),
            (.sync(path: "/a"), .sync(path: "/a")),
            (.multi([.setData(path: "/a", data: data, version: -1), .check(path: "/b", version: 2), .delete(path: "/c", version: -1)]),
             .multi([.setData(path: "/a", data: data, version: -1), .check(path: "/b", version: 2), .delete(path: "/c", version: -1)])),
            (.closeSession, .closeSession),
        ]
        for (index, (request, expected)) in cases.enumerated() {
            var out = ByteBuffer()
            let xid = session.send(request, into: &out)
            let (readXid, type, decoded) = try Self.decodeFrame(&out)
            #expect(xid == Xid(index + 1) && readXid == xid)
            #expect(type == request.opCode.rawValue)
            #expect(decoded == expected, "\(request)")
        }
        #expect(session.outstandingCount == cases.count)
    }

    @Test func repliesMatchRequestsInOrderAndNotificationsAndPongsPassThrough() throws {
        var session = Self.connected()
        var out = ByteBuffer()
        let first = session.send(.getData(path: "/a", watch: true), into: &out)
        let second = session.send(.setData(path: "/a", data: [], version: -1), into: &out)
        var incoming = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: ClientSession.pingXid, zxid: 5, err: 0), .none, into: &incoming)
        FrameEncoder.reply(ReplyHeader(xid: first, zxid: 5, err: ErrorCode.noNode.rawValue), .none, into: &incoming)
        FrameEncoder.notification(WatchedEvent(type: .nodeDataChanged, path: "/a"), zxid: 6, into: &incoming)
        // Half of the next frame: no event until the rest arrives.
        var last = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: second, zxid: 6, err: 0), .none, into: &last)
        var head = last.readSlice(length: 5)!
        incoming.writeBuffer(&head)

        guard case .pong = try session.receive(&incoming) else { Issue.record("no pong"); return }
        guard case .reply(let reply) = try session.receive(&incoming) else { Issue.record("no reply"); return }
        #expect(reply.xid == first && reply.err == ErrorCode.noNode.rawValue && reply.opCode == .getData)
        guard case .notification(let event) = try session.receive(&incoming) else { Issue.record("no event"); return }
        #expect(event == WatchedEvent(type: .nodeDataChanged, path: "/a"))
        #expect(try session.receive(&incoming) == nil)
        incoming.writeBuffer(&last)
        guard case .reply(let setReply) = try session.receive(&incoming) else { Issue.record("no set reply"); return }
        #expect(setReply.xid == second && setReply.opCode == .setData)
        #expect(session.lastZxidSeen == 6 && session.outstandingCount == 0)
    }

    @Test func aReplyOutOfOrderOrAnOversizedFrameIsAnError() {
        var session = Self.connected()
        var out = ByteBuffer()
        session.send(.sync(path: "/"), into: &out)
        var incoming = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 77, zxid: 1, err: 0), .none, into: &incoming)
        #expect(throws: ClientProtocolError.unexpectedXid(expected: 1, received: 77)) { try session.receive(&incoming) }
        var huge = ByteBuffer()
        huge.writeInteger(Int32(64 << 20))
        #expect(throws: ClientProtocolError.frameLength(64 << 20)) { try session.receive(&huge) }
    }

    @Test func anExpiredSessionIsReported() throws {
        var session = ClientSession(timeoutMs: 30000, sessionId: 5)
        var out = ByteBuffer()
        session.connect(into: &out)
        var reply = ByteBuffer()
        FrameEncoder.connectResponse(ConnectResponse.invalid(readOnly: false), into: &reply)
        guard case .sessionExpired = try session.receive(&reply) else { Issue.record("not expired"); return }
        #expect(session.state == .closed)
    }
}
