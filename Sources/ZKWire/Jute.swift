import NIOCore
import ZKModel

/// Why a jute record could not be decoded.
public enum JuteError: Error, Equatable, Sendable {
    case truncated
    case unreasonableLength(Int32)
    case unknownType(Int32)
    case invalidMulti(String)
}

/// Reads jute's big-endian encoding from a ByteBuffer. Every read is bounds-checked and throws;
/// nothing a client sends can crash the server.
public struct JuteReader {
    public var buffer: ByteBuffer
    /// Longest buffer or string accepted (`jute.maxbuffer` plus its extra size).
    public let lengthMax: Int32

    public init(_ buffer: ByteBuffer, lengthMax: Int32 = 0xfffff * 2) {
        self.buffer = buffer
        self.lengthMax = lengthMax
    }

    public var isAtEnd: Bool { buffer.readableBytes == 0 }

    public mutating func readByte() throws -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw JuteError.truncated }
        return value
    }
    public mutating func readBool() throws -> Bool { try readByte() != 0 }
    public mutating func readInt() throws -> Int32 {
        guard let value = buffer.readInteger(endianness: .big, as: Int32.self) else { throw JuteError.truncated }
        return value
    }
    public mutating func readLong() throws -> Int64 {
        guard let value = buffer.readInteger(endianness: .big, as: Int64.self) else { throw JuteError.truncated }
        return value
    }
    /// A `buffer`: nil for length −1.
    public mutating func readBuffer() throws -> [UInt8]? {
        let length = try readInt()
        if length == -1 { return nil }
        guard length >= 0, length <= lengthMax else { throw JuteError.unreasonableLength(length) }
        guard let bytes = buffer.readBytes(length: Int(length)) else { throw JuteError.truncated }
        return bytes
    }
    /// A `ustring`: nil for length −1; invalid UTF-8 decodes to U+FFFD as Java's decoder does.
    public mutating func readString() throws -> String? {
        let length = try readInt()
        if length == -1 { return nil }
        guard length >= 0, length <= lengthMax else { throw JuteError.unreasonableLength(length) }
        guard let text = buffer.readString(length: Int(length)) else { throw JuteError.truncated }
        return text
    }
    /// A string that must be present: a null is a marshalling error for ZooKeeper.
    public mutating func readPath() throws -> String {
        guard let path = try readString() else { throw JuteError.truncated }
        return path
    }
    public mutating func readVector<T>(_ element: (inout JuteReader) throws -> T) throws -> [T]? {
        let count = try readInt()
        if count == -1 { return nil }
        // Java's jute reads any other negative count as an empty vector (its index loop
        // never starts), so a create with ACL count −5 fails with INVALIDACL, not a decode error.
        if count < 0 { return [] }
        guard count <= lengthMax else { throw JuteError.unreasonableLength(count) }
        var result: [T] = []
        result.reserveCapacity(min(Int(count), 1024))
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }
    public mutating func readStringVector() throws -> [String]? {
        try readVector { reader in try reader.readString() ?? "" }
    }
}

/// Writes jute's big-endian encoding into a ByteBuffer.
public struct JuteWriter {
    public var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer = ByteBuffer()) { self.buffer = buffer }

    public mutating func writeByte(_ value: UInt8) { buffer.writeInteger(value) }
    public mutating func writeBool(_ value: Bool) { buffer.writeInteger(value ? UInt8(1) : UInt8(0)) }
    public mutating func writeInt(_ value: Int32) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeLong(_ value: Int64) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeBuffer(_ value: [UInt8]?) {
        guard let value else { return writeInt(-1) }
        writeInt(Int32(value.count))
        buffer.writeBytes(value)
    }
    /// Java writes each UTF-16 code unit separately (CESU-8 for characters outside the BMP).
    public mutating func writeString(_ value: String?) {
        guard let value else { return writeInt(-1) }
        if value.utf8.allSatisfy({ $0 < 0x80 }) || !value.unicodeScalars.contains(where: { $0.value > 0xffff }) {
            writeInt(Int32(value.utf8.count))
            buffer.writeString(value)
            return
        }
        var bytes: [UInt8] = []
        for unit in value.utf16 {
            if unit < 0x80 {
                bytes.append(UInt8(unit))
            } else if unit < 0x800 {
                bytes.append(UInt8(0xc0 | (unit >> 6)))
                bytes.append(UInt8(0x80 | (unit & 0x3f)))
            } else {
                bytes.append(UInt8(0xe0 | (unit >> 12)))
                bytes.append(UInt8(0x80 | ((unit >> 6) & 0x3f)))
                bytes.append(UInt8(0x80 | (unit & 0x3f)))
            }
        }
        writeBuffer(bytes)
    }
    public mutating func writeVector<T>(_ values: [T]?, _ element: (inout JuteWriter, T) -> Void) {
        guard let values else { return writeInt(-1) }
        writeInt(Int32(values.count))
        for value in values { element(&self, value) }
    }
    public mutating func writeStringVector(_ values: [String]?) {
        writeVector(values) { writer, value in writer.writeString(value) }
    }
}
