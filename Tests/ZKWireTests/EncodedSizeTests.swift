import NIOCore
import Testing
import ZKModel
import ZKWire

/// `EncodedSize` is what the replica counts and limits; `FrameEncoder` is what the socket
/// gets. They must agree to the byte, for every record.
@Suite struct EncodedSizeTests {
    static let strings = ["", "/a", "日本", "emoji 😀 and 𝄞 outside the BMP", String(repeating: "x", count: 300)]

    @Test(arguments: ResponseEncodeTests.everyResponse)
    func replySizeIsWhatTheEncoderWrites(response: Response) {
        for err: Int32 in [0, -101] {
            let header = ReplyHeader(xid: 3, zxid: 9, err: err)
            var out = ByteBuffer()
            FrameEncoder.reply(header, response, into: &out)
            #expect(EncodedSize.reply(header, response) == out.readableBytes, "\(response) err \(err)")
        }
    }

    @Test(arguments: strings)
    func stringSizesCountJavaEncoding(text: String) {
        let responses: [Response] = [
            .create(path: text), .children([text, text]), .acl([ACL(perms: 1, id: Id(scheme: "digest", id: text))], Stat()),
            .multi([.create2(path: text, stat: Stat()), .getChildren([text])]), .whoAmI([ClientInfo(authScheme: text, user: text)]),
        ]
        for response in responses {
            var out = ByteBuffer()
            FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), response, into: &out)
            #expect(EncodedSize.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), response) == out.readableBytes)
        }
        var event = ByteBuffer()
        FrameEncoder.notification(WatchedEvent(type: .nodeDeleted, path: text), zxid: 5, into: &event)
        #expect(EncodedSize.notification(WatchedEvent(type: .nodeDeleted, path: text)) == event.readableBytes)
    }

    @Test func connectResponseSizeIsWhatTheEncoderWrites() {
        for readOnly: Bool? in [nil, false, true] {
            let response = ConnectResponse(timeOut: 30000, sessionId: 7, passwd: [UInt8](repeating: 1, count: 16), readOnly: readOnly)
            var out = ByteBuffer()
            FrameEncoder.connectResponse(response, into: &out)
            #expect(EncodedSize.connectResponse(response) == out.readableBytes)
        }
    }

    /// Frames are appended in place: a buffer with room keeps its storage, however much is
    /// queued in it (a writer made from a copy of the buffer copied it on every frame).
    @Test func framesAreAppendedWithoutCopyingWhatIsQueued() {
        var out = ByteBuffer()
        out.reserveCapacity(1 << 20)
        FrameEncoder.reply(ReplyHeader(xid: 1, zxid: 1, err: 0), .data([UInt8](repeating: 1, count: 100_000), Stat()), into: &out)
        let before = out.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        for xid in Int32(2)...100 {
            FrameEncoder.reply(ReplyHeader(xid: xid, zxid: 1, err: 0), .stat(Stat()), into: &out)
            FrameEncoder.notification(WatchedEvent(type: .nodeCreated, path: "/n"), zxid: 1, into: &out)
        }
        let after = out.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(before == after)
    }
}
