import ZKPersistence

/// A transaction log read entry by entry the way ZooKeeper's data tools read it: the file
/// header, then `checksum · length · payload · 'B'` until the end of the file, a zero length
/// (preallocated space) or a length that runs past the end (all "EOF"). Unlike
/// `TxnLogScanner` (start-up recovery) it keeps going past a checksum mismatch, so the tools
/// can show and repair damaged entries. Decoding the payload is `TxnCodec`'s job.
struct TxnLogEntryStream {
    /// `jute.maxbuffer` (0xfffff) plus its default extra room of the same size: the longest
    /// buffer `BinaryInputArchive` reads.
    static let payloadBytesMax = 0xfffff * 2
    /// A jute buffer length of -1 means null, which the tools cannot handle.
    static let nullBufferLength: Int32 = -1

    struct FileHeader {
        var magic: Int32
        var version: Int32
        var dbid: Int64
        var bytes: [UInt8]
    }

    enum Read {
        /// A whole entry; `checksum` is the stored one, `computed` the Adler-32 of the payload.
        case entry(checksum: Int64, computed: Int64, payload: [UInt8])
        /// Nothing more to read ("EOF reached").
        case end
        /// A malformed entry the tools cannot go past.
        case failure(String)
    }

    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// nil if the file is shorter than its header.
    mutating func header() -> FileHeader? {
        guard bytes.count >= TxnLogFormat.fileHeaderBytes else { return nil }
        let header = FileHeader(
            magic: Int32(truncatingIfNeeded: integer(at: 0, size: 4)),
            version: Int32(truncatingIfNeeded: integer(at: 4, size: 4)),
            dbid: integer(at: 8, size: 8),
            bytes: Array(bytes[0..<TxnLogFormat.fileHeaderBytes]))
        offset = TxnLogFormat.fileHeaderBytes
        return header
    }

    mutating func next() -> Read {
        guard offset + 12 <= bytes.count else { return .end }
        let checksum = integer(at: offset, size: 8)
        let length = Int32(truncatingIfNeeded: integer(at: offset + 8, size: 4))
        if length == Self.nullBufferLength { return .failure("entry at offset \(offset) has a null payload (length -1)") }
        guard length >= 0, Int(length) <= Self.payloadBytesMax else {
            return .failure("Unreasonable length = \(length) at offset \(offset)")
        }
        let start = offset + 12
        guard start + Int(length) <= bytes.count else { return .end }
        if length == 0 { return .end }
        let payload = Array(bytes[start..<(start + Int(length))])
        offset = start + Int(length)
        return .entry(checksum: checksum, computed: Int64(Adler32.checksum(payload)), payload: payload)
    }

    /// The byte after an entry's payload (it should be 'B'); nil at the end of the file.
    mutating func endOfRecord() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    private func integer(at position: Int, size: Int) -> Int64 {
        var value: UInt64 = 0
        for index in position..<(position + size) { value = value << 8 | UInt64(bytes[index]) }
        if size == 4 { return Int64(Int32(truncatingIfNeeded: value)) }
        return Int64(bitPattern: value)
    }

    /// The framed bytes of one entry, as the tools write it back.
    static func framed(checksum: Int64, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + TxnLogFormat.entryOverheadBytes)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: checksum) >> UInt64(shift))) }
        let length = UInt32(payload.count)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        out += payload
        out.append(TxnLogFormat.endOfRecord)
        return out
    }
}
