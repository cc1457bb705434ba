/// CRC-32 (IEEE 802.3, reflected, as `java.util.zip.CRC32`): ZooKeeper's per-node digest.
public struct CRC32: Sendable {
    private var crc: UInt32 = 0xffff_ffff

    public init() {}

    static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xedb8_8320 : value >> 1 }
        return value
    }

    public mutating func update<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        let table = Self.table
        var crc = self.crc
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        self.crc = crc
    }

    public mutating func update(bigEndian value: Int64) {
        update((0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })
    }

    public mutating func update(bigEndian value: Int32) {
        update((0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })
    }

    public var value: UInt32 { crc ^ 0xffff_ffff }
}
