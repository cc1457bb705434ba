import NIOCore
import Testing
import ZKModel
import ZKWire

/// Framing (reference §1.1) and the four-letter-word detection on a fresh connection (§3.1).
@Suite struct FrameDecoderTests {
    /// Feeds `chunks` one after another into one accumulating buffer and collects every output.
    static func decodeAll(_ chunks: [[UInt8]], frameBytesMax: Int = 0xfffff) throws(FrameDecoder.Failure) -> [FrameDecoder.Output] {
        var decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        var pending = ByteBuffer()
        var outputs: [FrameDecoder.Output] = []
        for chunk in chunks {
            pending.writeBytes(chunk)
            while let output = try decoder.next(from: &pending) { outputs.append(output) }
        }
        return outputs
    }

    /// A realistic stream: ConnectRequest, then getData and a create with data.
    static let stream: [UInt8] = {
        var out: [UInt8] = []
        func frame(_ payload: [UInt8]) {
            out += writtenBytes { $0.writeInt(Int32(payload.count)) } + payload
        }
        frame(writtenBytes {
            ConnectRequest(lastZxidSeen: 0, timeOut: 30000, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16), readOnly: false).encode(into: &$0)
        })
        frame(writtenBytes {
            $0.writeInt(1)
            $0.writeInt(OpCode.getData.rawValue)
            $0.writeString("/a")
            $0.writeBool(true)
        })
        frame([])
        frame(writtenBytes {
            $0.writeInt(2)
            $0.writeInt(OpCode.create.rawValue)
            $0.writeString("/ruok")
            $0.writeBuffer(Array("stat".utf8))
            $0.writeACLs(openACL)
            $0.writeInt(0)
        })
        return out
    }()

    static func frames(_ outputs: [FrameDecoder.Output]) -> [[UInt8]] {
        outputs.compactMap { if case .frame(let frame) = $0 { return Array(frame.readableBytesView) } else { return nil } }
    }

    @Test func frames_wholeStream_splitsIntoPayloads() throws {
        let outputs = try Self.decodeAll([Self.stream])
        let payloads = Self.frames(outputs)
        #expect(outputs.count == 4 && payloads.count == 4)
        #expect(payloads.map(\.count) == [45, 4 + 4 + 6 + 1, 0, 4 + 4 + 9 + 8 + 27 + 4])
    }

    @Test func frames_splitAtEveryByteBoundary_yieldSameFrames() throws {
        let expected = Self.frames(try Self.decodeAll([Self.stream]))
        for cut in 0...Self.stream.count {
            let outputs = try Self.decodeAll([Array(Self.stream[0..<cut]), Array(Self.stream[cut...])])
            #expect(Self.frames(outputs) == expected, "cut at \(cut)")
            #expect(outputs.count == expected.count, "cut at \(cut)")
        }
    }

    @Test func frames_splitAtEveryPairOfBoundaries_yieldSameFrames() throws {
        let expected = Self.frames(try Self.decodeAll([Self.stream]))
        let stream = Self.stream
        for first in stride(from: 0, through: stream.count, by: 3) {
            for second in first...stream.count {
                let outputs = try Self.decodeAll([Array(stream[0..<first]), Array(stream[first..<second]), Array(stream[second...])])
                #expect(Self.frames(outputs) == expected, "cuts at \(first), \(second)")
            }
        }
    }

    @Test func frames_fedOneByteAtATime_yieldSameFrames() throws {
        let expected = Self.frames(try Self.decodeAll([Self.stream]))
        #expect(Self.frames(try Self.decodeAll(Self.stream.map { [$0] })) == expected)
    }

    @Test(arguments: FrameDecoder.fourLetterWords.sorted())
    func fourLetterWord_asFirstBytes_isRecognised(word: String) throws {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = ByteBuffer(string: word)
        #expect(try decoder.next(from: &input) == .fourLetterWord(word))
        #expect(input.readableBytes == 0)
    }

    @Test func fourLetterWord_knownWords_includeZooKeepersCommands() {
        for word in ["ruok", "srvr", "stat", "conf", "cons", "crst", "dump", "envi", "gtmk", "stmk", "srst", "wchc", "wchp", "wchs", "mntr", "isro", "hash", "dirs"] {
            #expect(FrameDecoder.fourLetterWords.contains(word), "\(word)")
        }
    }

    @Test func fourLetterWord_splitAcrossReads_isRecognisedOnceComplete() throws {
        let outputs = try Self.decodeAll([Array("ru".utf8), Array("o".utf8), Array("k".utf8)])
        #expect(outputs == [.fourLetterWord("ruok")])
    }

    @Test func fourLetterWord_stmkWithMask_leavesTheMaskBytes() throws {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = ByteBuffer(bytes: Array("stmk".utf8) + [0, 0, 0, 0, 0, 0, 0, 0xff])
        #expect(try decoder.next(from: &input) == .fourLetterWord("stmk"))
        #expect(input.readableBytes == 8)
    }

    @Test func fourLetterWord_afterTheFirstFrame_isTreatedAsLengthAndRejected() throws {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = ByteBuffer(bytes: [0, 0, 0, 0] + Array("ruok".utf8))
        #expect(try decoder.next(from: &input) == .frame(ByteBuffer()))
        #expect(throws: FrameDecoder.Failure.invalidLength(0x7275_6f6b)) { try decoder.next(from: &input) }
    }

    @Test func fourLetterWord_afterAFourLetterWord_isNotRecognisedAgain() throws {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = ByteBuffer(string: "ruokruok")
        #expect(try decoder.next(from: &input) == .fourLetterWord("ruok"))
        #expect(throws: FrameDecoder.Failure.invalidLength(0x7275_6f6b)) { try decoder.next(from: &input) }
    }

    @Test(arguments: ["abcd", "RUOK", "ruo!", "zzzz"])
    func fourLetterWord_unknownWord_isTreatedAsHugeLengthAndRejected(word: String) {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = ByteBuffer(string: word)
        #expect(throws: FrameDecoder.Failure.self) { try decoder.next(from: &input) }
    }

    @Test(arguments: [-1, -45, Int32.min] as [Int32])
    func frame_negativeLength_throwsInvalidLength(length: Int32) {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var input = written { $0.writeInt(length) }
        #expect(throws: FrameDecoder.Failure.invalidLength(length)) { try decoder.next(from: &input) }
    }

    @Test(arguments: [101, 0x100000, Int32.max] as [Int32])
    func frame_lengthAboveMaximum_throwsBeforeTheBodyArrives(length: Int32) {
        var decoder = FrameDecoder(frameBytesMax: 100)
        var input = written { $0.writeInt(length) }
        #expect(throws: FrameDecoder.Failure.invalidLength(length)) { try decoder.next(from: &input) }
    }

    @Test func frame_lengthAtMaximum_isAccepted() throws {
        var decoder = FrameDecoder(frameBytesMax: 100)
        var input = written {
            $0.writeInt(100)
            $0.writeBuffer(nil)
        }
        input.writeRepeatingByte(7, count: 96)
        guard case .frame(let frame)? = try decoder.next(from: &input) else {
            Issue.record("no frame")
            return
        }
        #expect(frame.readableBytes == 100)
    }

    @Test func frame_defaultMaximum_isJuteMaxbuffer() throws {
        var decoder = FrameDecoder(frameBytesMax: 0xfffff)
        var over = written { $0.writeInt(0x100000) }
        #expect(throws: FrameDecoder.Failure.invalidLength(0x100000)) { try decoder.next(from: &over) }
        var atMax = written { $0.writeInt(0xfffff) }
        var fresh = FrameDecoder(frameBytesMax: 0xfffff)
        #expect(try fresh.next(from: &atMax) == nil)
    }

    @Test func frame_truncatedBody_waitsWithoutConsuming() throws {
        var decoder = FrameDecoder(frameBytesMax: 100)
        var input = ByteBuffer(bytes: [0, 0, 0, 10, 1, 2, 3])
        #expect(try decoder.next(from: &input) == nil)
        #expect(input.readableBytes == 7)
        input.writeBytes([4, 5, 6, 7, 8, 9, 10])
        #expect(try decoder.next(from: &input) == .frame(ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])))
        #expect(try decoder.next(from: &input) == nil)
    }

    @Test func frame_partialLengthPrefix_waits() throws {
        var decoder = FrameDecoder(frameBytesMax: 100)
        for count in 0..<4 {
            var input = ByteBuffer(bytes: [UInt8](repeating: 0, count: count))
            #expect(try decoder.next(from: &input) == nil)
            #expect(input.readableBytes == count)
        }
    }
}
