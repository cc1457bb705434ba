import Testing
import ZKModel

@Suite struct CRC32Tests {
    @Test func checkValue() {
        var crc = CRC32()
        crc.update(Array("123456789".utf8))
        #expect(crc.value == 0xCBF4_3926)
        #expect(CRC32().value == 0)
    }

    /// The sliced fast path and the byte-at-a-time tail agree with the textbook bit-by-bit CRC
    /// for every length around the 8-byte stride, split at any point.
    @Test func matchesBitwiseDefinition() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 7) }
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 300] {
            var reference: UInt32 = 0xffff_ffff
            for byte in bytes.prefix(length) {
                reference ^= UInt32(byte)
                for _ in 0..<8 { reference = reference & 1 == 1 ? (reference >> 1) ^ 0xedb8_8320 : reference >> 1 }
            }
            var whole = CRC32()
            whole.update(bytes.prefix(length))
            #expect(whole.value == reference ^ 0xffff_ffff, "length \(length)")
            var split = CRC32()
            split.update(bytes.prefix(length / 3))
            split.update(bytes[(length / 3)..<length])
            #expect(split.value == whole.value, "length \(length) split")
        }
    }

    @Test func bigEndianIntegers() {
        var a = CRC32()
        a.update(bigEndian: Int64(0x0102_0304_0506_0708))
        a.update(bigEndian: Int32(-2))
        var b = CRC32()
        b.update([1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xfe])
        #expect(a.value == b.value)
    }
}
