import NIOCore
import Testing
import ZKModel
import ZKWire

/// Reply frames (reference §1.4–§1.7), decoded field by field as a client would.
@Suite struct ResponseEncodeTests {
    static let everyResponse: [Response] = [
        .none,
        .create(path: "/a"),
        .create2(path: "/a0000000001", stat: sampleStat),
        .stat(sampleStat),
        .data(nil, sampleStat),
        .data([], sampleStat),
        .data([1, 2, 3], sampleStat),
        .acl(openACL + digestACL, sampleStat),
        .acl([], Stat()),
        .children([]),
        .children(["a", "b", "日本"]),
        .children2(["x"], sampleStat),
        .sync(path: "/"),
        .multi([]),
        .multi([
            .create(path: "/m1"), .create2(path: "/m2", stat: sampleStat), .delete, .setData(sampleStat), .check,
        ]),
        .multi([.getChildren(["a"]), .getData(data: nil, stat: sampleStat), .getData(data: [], stat: Stat()), .error(.noNode)]),
        .multi([.error(.ok), .error(.nodeExists), .error(.runtimeInconsistency)]),
        .ephemerals(["/e1", "/e2"]),
        .allChildrenNumber(42),
        .errorResponse(0),
        .whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1"), ClientInfo(authScheme: "digest", user: "user")]),
        .sasl(token: nil),
        .sasl(token: [1]),
    ]

    @Test(arguments: everyResponse)
    func reply_success_roundTripsHeaderAndBody(response: Response) throws {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 17, zxid: 0x1_0000_0009, err: 0), response, into: &out)
        var reader = JuteReader(try payload(ofFrame: out))
        #expect(try reader.readInt() == 17)
        #expect(try reader.readLong() == 0x1_0000_0009)
        #expect(try reader.readInt() == 0)
        #expect(try ResponseDecoder.decode(like: response, from: &reader) == response)
        #expect(reader.isAtEnd)
    }

    @Test(arguments: everyResponse)
    func reply_error_isHeaderOnly(response: Response) throws {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 3, zxid: 5, err: ErrorCode.noNode.rawValue), response, into: &out)
        #expect(hex(out) == "00000010" + "00000003" + "0000000000000005" + "ffffff9b")
    }

    @Test func reply_unimplemented_carriesZxidMinusOne() {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: -1, err: -6), .none, into: &out)
        #expect(hex(out) == "00000010" + "00000001" + "ffffffffffffffff" + "fffffffa")
    }

    @Test func reply_ping_isHeaderOnlyWithXidMinusTwo() {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: -2, zxid: 0x10, err: 0), .none, into: &out)
        #expect(hex(out) == "00000010" + "fffffffe" + "0000000000000010" + "00000000")
    }

    @Test func reply_addWatch_isFourByteErrorResponse() {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 9, zxid: 1, err: 0), .errorResponse(0), into: &out)
        #expect(hex(out) == "00000014" + "00000009" + "0000000000000001" + "00000000" + "00000000")
    }

    @Test func reply_getDataNullVersusEmpty_areDistinctOnTheWire() throws {
        var nullOut = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), .data(nil, Stat()), into: &nullOut)
        var emptyOut = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), .data([], Stat()), into: &emptyOut)
        #expect(hex(nullOut).dropFirst(8 + 32).hasPrefix("ffffffff"))
        #expect(hex(emptyOut).dropFirst(8 + 32).hasPrefix("00000000"))
        #expect(nullOut.readableBytes == 4 + 16 + 4 + 68)
    }

    @Test func reply_multiFailure_isByteExact() throws {
        // ops before the failure 0, the failing op its code, later ops -2 (reference §1.7); each as
        // MultiHeader{-1, false, code} + ErrorResponse{code}; then the terminator.
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 4, zxid: 8, err: 0), .multi([.error(.ok), .error(.noNode), .error(.runtimeInconsistency)]), into: &out)
        let expected =
            "00000004" + "0000000000000008" + "00000000"
            + "ffffffff 00 00000000 00000000"
            + "ffffffff 00 ffffff9b ffffff9b"
            + "ffffffff 00 fffffffe fffffffe"
            + "ffffffff 01 ffffffff"
        #expect(try hex(payload(ofFrame: out)) == hex(bytes(expected)))
    }

    @Test func reply_multiSuccess_usesOpTypesInHeaders() throws {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 4, zxid: 8, err: 0), .multi([.create(path: "/a"), .delete, .check]), into: &out)
        let expected =
            "00000004" + "0000000000000008" + "00000000"
            + "00000001 00 00000000" + "00000002 2f61"
            + "00000002 00 00000000"
            + "0000000d 00 00000000"
            + "ffffffff 01 ffffffff"
        #expect(hex(try payload(ofFrame: out)) == hex(bytes(expected)))
    }

    @Test func reply_multiCreate2Result_usesType15WithStat() throws {
        var out = ByteBuffer()
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), .multi([.create2(path: "/a", stat: sampleStat)]), into: &out)
        var reader = JuteReader(try payload(ofFrame: out))
        _ = try reader.readInt()
        _ = try reader.readLong()
        _ = try reader.readInt()
        #expect(try reader.readInt() == 15)
        #expect(try reader.readBool() == false)
        #expect(try reader.readInt() == 0)
        #expect(try reader.readPath() == "/a")
        #expect(try reader.readStat() == sampleStat)
    }

    @Test func notification_frame_isXidMinusOneThenWatcherEvent() throws {
        var out = ByteBuffer()
        FrameEncoder.notification(WatchedEvent(type: .nodeDataChanged, path: "/a"), zxid: -1, into: &out)
        #expect(hex(out) == "0000001e" + "ffffffff" + "ffffffffffffffff" + "00000000" + "00000003" + "00000003" + "00000002 2f61".filter { $0 != " " })
        var zxidOut = ByteBuffer()
        FrameEncoder.notification(WatchedEvent(type: .nodeChildrenChanged, path: "/"), zxid: 0x42, into: &zxidOut)
        var reader = JuteReader(try payload(ofFrame: zxidOut))
        #expect(try reader.readInt() == -1)
        #expect(try reader.readLong() == 0x42)
        #expect(try reader.readInt() == 0)
        #expect(try reader.readInt() == 4)
        #expect(try reader.readInt() == 3)
        #expect(try reader.readPath() == "/")
        #expect(reader.isAtEnd)
    }

    @Test func frameEncoder_severalFramesInOneBuffer_eachGetsItsOwnLength() throws {
        var out = ByteBuffer()
        FrameEncoder.notification(WatchedEvent(type: .nodeCreated, path: "/n"), zxid: 2, into: &out)
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 2, err: 0), .create(path: "/n"), into: &out)
        FrameEncoder.connectResponse(ConnectResponse(timeOut: 1, sessionId: 2, passwd: [], readOnly: nil), into: &out)
        var decoder = FrameDecoder(frameBytesMax: 1000)
        var lengths: [Int] = []
        while let output = try decoder.next(from: &out) {
            guard case .frame(let frame) = output else {
                Issue.record("unexpected \(output)")
                break
            }
            lengths.append(frame.readableBytes)
        }
        #expect(lengths == [16 + 4 + 4 + 4 + 2, 16 + 4 + 2, 4 + 4 + 8 + 4])
        #expect(out.readableBytes == 0)
    }
}
