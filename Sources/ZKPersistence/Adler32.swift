/// Adler-32 (RFC 1950), the checksum ZooKeeper puts on every log entry and snapshot.
public struct Adler32: Sendable {
    private var a: UInt32 = 1
    private var b: UInt32 = 0

    public init() {}

    /// The largest run of bytes that cannot overflow `b` before the modulo (zlib's NMAX).
    private static let runBytesMax = 5552
    private static let modulus: UInt32 = 65521

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            let end = min(index + Self.runBytesMax, bytes.count)
            while index < end {
                a &+= UInt32(bytes[index])
                b &+= a
                index += 1
            }
            a %= Self.modulus
            b %= Self.modulus
        }
    }

    public mutating func update<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if handled == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public var value: UInt32 { (b << 16) | a }

    public static func checksum<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var adler = Adler32()
        adler.update(bytes)
        return adler.value
    }
}
