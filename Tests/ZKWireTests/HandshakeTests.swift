import NIOCore
import Testing
import ZKModel
import ZKWire

/// ConnectRequest / ConnectResponse (reference §1.3).
@Suite struct HandshakeTests {
    static let exampleRequestFrame =
        "0000002d" + "00000000" + "0000000000000000" + "00007530" + "0000000000000000" + "00000010"
        + "00000000000000000000000000000000" + "00"
    static let exampleResponseFrame =
        "00000025" + "00000000" + "00007530" + "01000008c8150000" + "00000010" + "a1e9cae41a514d83e7afc156f3b71705" + "00"

    @Test func connectRequest_workedExample_decodesByteExact() throws {
        var stream = buffer(bytes(Self.exampleRequestFrame))
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        guard case .frame(let frame)? = try decoder.next(from: &stream) else {
            Issue.record("no frame")
            return
        }
        #expect(frame.readableBytes == 45)
        var reader = JuteReader(frame)
        let request = try ConnectRequest.decode(from: &reader)
        #expect(
            request
                == ConnectRequest(
                    protocolVersion: 0, lastZxidSeen: 0, timeOut: 30000, sessionId: 0,
                    passwd: [UInt8](repeating: 0, count: 16), readOnly: false))
        #expect(reader.isAtEnd)
        // And the client side encodes it to the same bytes.
        #expect("0000002d" + hex(writtenBytes { request.encode(into: &$0) }) == Self.exampleRequestFrame)
    }

    @Test func connectResponse_workedExample_encodesByteExact() throws {
        let response = ConnectResponse(
            timeOut: 30000, sessionId: 0x0100_0008_c815_0000, passwd: bytes("a1e9cae41a514d83e7afc156f3b71705"),
            readOnly: false)
        var out = ByteBuffer()
        FrameEncoder.connectResponse(response, into: &out)
        #expect(hex(out) == Self.exampleResponseFrame)
        var reader = JuteReader(try payload(ofFrame: out))
        #expect(try ConnectResponse.decode(from: &reader) == response)
    }

    @Test func connectRequest_withoutReadOnlyByte_decodesAsOldClient() throws {
        let old = ConnectRequest(lastZxidSeen: 5, timeOut: 4000, sessionId: 0x0100_000a_425f_0000, passwd: [UInt8](repeating: 9, count: 16), readOnly: nil)
        let encoded = written { old.encode(into: &$0) }
        #expect(encoded.readableBytes == 44)
        var reader = JuteReader(encoded)
        let decoded = try ConnectRequest.decode(from: &reader)
        #expect(decoded == old)
        #expect(decoded.readOnly == nil)
    }

    @Test(arguments: [true, false])
    func connectRequest_withReadOnlyByte_roundTrips(readOnly: Bool) throws {
        let request = ConnectRequest(lastZxidSeen: -1, timeOut: Int32.max, sessionId: -5, passwd: [1, 2, 3], readOnly: readOnly)
        let encoded = written { request.encode(into: &$0) }
        #expect(encoded.readableBytes == 4 + 8 + 4 + 8 + 4 + 3 + 1)
        var reader = JuteReader(encoded)
        #expect(try ConnectRequest.decode(from: &reader) == request)
    }

    @Test func connectRequest_nullPassword_decodesAsEmpty() throws {
        var reader = JuteReader(written {
            $0.writeInt(0)
            $0.writeLong(0)
            $0.writeInt(30000)
            $0.writeLong(0)
            $0.writeBuffer(nil)
            $0.writeBool(false)
        })
        #expect(try ConnectRequest.decode(from: &reader).passwd == [])
    }

    @Test func connectRequest_truncatedBeforeReadOnlyByte_throws() {
        let full = writtenBytes {
            ConnectRequest(lastZxidSeen: 0, timeOut: 30000, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16), readOnly: true)
                .encode(into: &$0)
        }
        // 44 bytes is an old client; anything shorter is broken.
        for length in 0..<44 {
            var reader = JuteReader(buffer(Array(full[0..<length])))
            #expect(throws: JuteError.self) { try ConnectRequest.decode(from: &reader) }
        }
    }

    @Test func connectResponse_oldClient_is36BytePayloadWithoutReadOnly() throws {
        let response = ConnectResponse(timeOut: 4000, sessionId: 1, passwd: [UInt8](repeating: 1, count: 16), readOnly: nil)
        var out = ByteBuffer()
        FrameEncoder.connectResponse(response, into: &out)
        let body = try payload(ofFrame: out)
        #expect(body.readableBytes == 36)
        var reader = JuteReader(body)
        #expect(try ConnectResponse.decode(from: &reader) == response)
    }

    @Test func connectResponse_newClient_is37BytePayload() throws {
        var out = ByteBuffer()
        FrameEncoder.connectResponse(ConnectResponse(timeOut: 4000, sessionId: 1, passwd: [UInt8](repeating: 1, count: 16), readOnly: true), into: &out)
        #expect(try payload(ofFrame: out).readableBytes == 37)
        #expect(hex(out).hasSuffix("01"))
    }

    @Test func connectResponse_invalid_isZeroTimeoutSessionAndPassword() {
        let invalid = ConnectResponse.invalid(readOnly: true)
        #expect(invalid == ConnectResponse(timeOut: 0, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16), readOnly: false))
        #expect(ConnectResponse.invalid(readOnly: nil).readOnly == nil)
        #expect(ConnectResponse.invalid(readOnly: false).readOnly == false)
        var out = ByteBuffer()
        FrameEncoder.connectResponse(.invalid(readOnly: false), into: &out)
        #expect(hex(out) == "00000025" + "00000000" + "00000000" + "0000000000000000" + "00000010" + String(repeating: "00", count: 16) + "00")
    }
}
