import Testing
@testable import ZKPersistence

@Suite struct Adler32Tests {
    @Test func knownValues() {
        #expect(Adler32.checksum([UInt8]()) == 1)
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Adler32.checksum(Array("abc".utf8)) == 0x024D_0127)
    }

    /// Long runs of 0xff exercise the deferred modulo (zlib's NMAX bound).
    @Test func longInputMatchesByteAtATime() {
        let bytes = [UInt8](repeating: 0xff, count: 100_000) + (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(Adler32.checksum(bytes) == (b << 16 | a))
        var incremental = Adler32()
        incremental.update(bytes[0..<7777])
        incremental.update(bytes[7777...])
        #expect(incremental.value == (b << 16 | a))
    }
}
