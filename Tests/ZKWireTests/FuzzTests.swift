import NIOCore
import Testing
import ZKModel
import ZKWire

/// Garbage from the network must never crash the decoders: every failure is a thrown JuteError.
@Suite struct DecoderFuzzTests {
    /// Every opcode a client could put in a header, valid or not, plus extremes.
    static let opcodes: [Int32] = Array(-12...110) + [Int32.min, Int32.max, 0x7275_6f6b]

    static func randomBytes(_ generator: inout SeededGenerator, maxCount: Int) -> [UInt8] {
        let count = Int.random(in: 0...maxCount, using: &generator)
        return (0..<count).map { _ in
            // Bias towards bytes that make small or special lengths (0, 1, 0xff).
            switch Int.random(in: 0..<8, using: &generator) {
            case 0, 1: return 0
            case 2: return 0xff
            case 3: return 1
            default: return UInt8.random(in: 0...255, using: &generator)
            }
        }
    }

    static func decodeExpectingJuteErrorOrValue(type: Int32, _ input: [UInt8]) {
        var reader = JuteReader(buffer(input))
        do {
            _ = try Request.decode(type: type, from: &reader)
        } catch is JuteError {
            // fine
        } catch {
            Issue.record("type \(type): unexpected error \(error) for \(hex(input))")
        }
    }

    @Test func requestDecode_randomGarbageForEveryOpcode_neverCrashes() {
        var generator = SeededGenerator(seed: 0x5eed_0001)
        for _ in 0..<300 {
            let input = Self.randomBytes(&generator, maxCount: 96)
            for type in Self.opcodes { Self.decodeExpectingJuteErrorOrValue(type: type, input) }
        }
    }

    @Test func requestDecode_mutatedValidRequests_neverCrash() {
        var generator = SeededGenerator(seed: 0x5eed_0002)
        for request in RequestDecodeTests.everyRequest {
            let type = RequestEncoder.type(of: request)
            let valid = Array(RequestEncoder.body(request).readableBytesView)
            for _ in 0..<40 {
                var mutated = valid
                let edits = Int.random(in: 1...4, using: &generator)
                for _ in 0..<edits {
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0 where !mutated.isEmpty:
                        mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                    case 1 where !mutated.isEmpty:
                        mutated.removeSubrange(Int.random(in: 0..<mutated.count, using: &generator)...)
                    case 2:
                        mutated.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...mutated.count, using: &generator))
                    default:
                        if mutated.count >= 4 {
                            let at = Int.random(in: 0...(mutated.count - 4), using: &generator)
                            let special: [[UInt8]] = [[0xff, 0xff, 0xff, 0xff], [0x7f, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0, 0x10, 0, 0]]
                            mutated.replaceSubrange(at..<(at + 4), with: special[Int.random(in: 0..<special.count, using: &generator)])
                        }
                    }
                }
                Self.decodeExpectingJuteErrorOrValue(type: type, mutated)
                Self.decodeExpectingJuteErrorOrValue(type: Self.opcodes[Int.random(in: 0..<Self.opcodes.count, using: &generator)], mutated)
            }
        }
    }

    @Test func connectRequestDecode_randomGarbage_neverCrashes() {
        var generator = SeededGenerator(seed: 0x5eed_0003)
        for _ in 0..<2000 {
            var reader = JuteReader(buffer(Self.randomBytes(&generator, maxCount: 64)))
            do {
                _ = try ConnectRequest.decode(from: &reader)
            } catch is JuteError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
            var responseReader = JuteReader(buffer(Self.randomBytes(&generator, maxCount: 64)))
            _ = try? ConnectResponse.decode(from: &responseReader)
        }
    }

    @Test func frameDecoder_randomStreams_neverCrash() {
        var generator = SeededGenerator(seed: 0x5eed_0004)
        for _ in 0..<500 {
            var decoder = FrameDecoder(frameBytesMax: 64)
            var input = ByteBuffer(bytes: Self.randomBytes(&generator, maxCount: 200))
            var steps = 0
            do {
                while let output = try decoder.next(from: &input) {
                    steps += 1
                    if case .frame(let frame) = output { #expect(frame.readableBytes <= 64) }
                    if steps > 1000 {
                        Issue.record("decoder does not make progress")
                        break
                    }
                }
            } catch {
                guard case .invalidLength(let length) = error else { return }
                #expect(length < 0 || length > 64)
            }
        }
    }
}
