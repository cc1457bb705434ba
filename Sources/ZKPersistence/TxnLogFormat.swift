import NIOCore
import ZKModel
import ZKWire

/// ZooKeeper's transaction log file: a 16-byte `FileHeader`, then entries of
/// `long checksum (Adler-32) · int length · payload · byte 'B'`, then zero padding.
public enum TxnLogFormat {
    public static let magic: Int32 = 0x5A4B_4C47  // "ZKLG"
    public static let version: Int32 = 2
    public static let fileHeaderBytes = 16
    /// checksum (8) + length (4) before the payload, end-of-record byte after it.
    public static let entryOverheadBytes = 13
    public static let endOfRecord: UInt8 = 0x42

    public static func fileHeader(dbid: Int64 = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(magic, endianness: .big)
        buffer.writeInteger(version, endianness: .big)
        buffer.writeInteger(dbid, endianness: .big)
        return buffer
    }

    /// Appends one framed entry around `payload` (the encoded txn).
    public static func writeEntry(_ payload: ByteBuffer, into buffer: inout ByteBuffer) {
        let checksum = payload.withUnsafeReadableBytes { bytes -> UInt32 in
            var adler = Adler32()
            adler.update(bytes)
            return adler.value
        }
        buffer.writeInteger(Int64(checksum), endianness: .big)
        buffer.writeInteger(Int32(payload.readableBytes), endianness: .big)
        buffer.writeImmutableBuffer(payload)
        buffer.writeInteger(endOfRecord)
    }

    /// The encoded entry for `txn`, framed.
    public static func entry(_ txn: Txn, digest: TxnDigest? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        writeEntry(TxnCodec.encode(txn, digest: digest), into: &buffer)
        return buffer
    }
}

/// One txn read back from a log file.
public struct LoggedTxn: Hashable, Sendable {
    public var txn: Txn
    public var digest: TxnDigest?
    /// Byte offset of the entry in its file.
    public var offset: Int
}

/// How reading a log file ended.
public enum LogFileEnd: Hashable, Sendable {
    /// Zero padding or the end of the file at an entry boundary.
    case clean(offset: Int)
    /// An incomplete last entry (a crash mid-write): nothing valid follows it. The file
    /// should be cut at `offset`.
    case tornTail(offset: Int, reason: String)
    /// Damage that is not a torn tail: a bad header, a checksum mismatch on a complete entry,
    /// or an unreadable entry followed by valid ones. Start-up must stop.
    case corrupt(offset: Int, reason: String)
}

public struct LogFileScan: Sendable {
    public var txns: [LoggedTxn]
    public var end: LogFileEnd
}

/// Reads a whole log file's bytes. Pure: the caller reads the file and acts on the result.
public struct TxnLogScanner: Sendable {
    /// The largest payload accepted (`jute.maxbuffer` plus ZooKeeper's extra room).
    public let payloadBytesMax: Int

    public init(payloadBytesMax: Int) { self.payloadBytesMax = payloadBytesMax }

    public func scan(_ bytes: [UInt8]) -> LogFileScan {
        bytes.withUnsafeBytes { scan($0) }
    }

    public func scan(_ bytes: UnsafeRawBufferPointer) -> LogFileScan {
        if bytes.count < TxnLogFormat.fileHeaderBytes {
            // A crash between creating the file and writing its header, or in the middle of
            // that write: what is there is zeros or the start of a header (magic, version;
            // the dbid may be anything).
            let expected = Array(TxnLogFormat.fileHeader().readableBytesView.prefix(8))
            let headerStart = zip(bytes, expected).allSatisfy { $0 == $1 }
            if bytes.allSatisfy({ $0 == 0 }) || headerStart {
                return LogFileScan(txns: [], end: .tornTail(offset: 0, reason: "file shorter than its header"))
            }
            return LogFileScan(txns: [], end: .corrupt(offset: 0, reason: "file shorter than its header"))
        }
        let magic = Self.int32(bytes, at: 0)
        let version = Self.int32(bytes, at: 4)
        guard magic == TxnLogFormat.magic else {
            return LogFileScan(txns: [], end: .corrupt(offset: 0, reason: "bad magic 0x\(String(UInt32(bitPattern: magic), radix: 16)), not a ZooKeeper log"))
        }
        guard version == TxnLogFormat.version else {
            return LogFileScan(txns: [], end: .corrupt(offset: 4, reason: "unsupported log version \(version)"))
        }
        var txns: [LoggedTxn] = []
        var offset = TxnLogFormat.fileHeaderBytes
        while true {
            switch readEntry(bytes, at: offset) {
            case .end:
                return LogFileScan(txns: txns, end: .clean(offset: offset))
            case .entry(let payload, let next):
                do {
                    let (txn, digest) = try TxnCodec.decode(payload, lengthMax: Int32(clamping: payloadBytesMax))
                    txns.append(LoggedTxn(txn: txn, digest: digest, offset: offset))
                } catch {
                    return LogFileScan(txns: txns, end: .corrupt(offset: offset, reason: "undecodable txn: \(error)"))
                }
                offset = next
            case .checksumMismatch:
                return LogFileScan(txns: txns, end: .corrupt(offset: offset, reason: "CRC check failed"))
            case .incomplete(let reason):
                switch entryAfterDamage(bytes, after: offset, zxidAbove: txns.last?.txn.zxid ?? Int64.min) {
                case .none:
                    return LogFileScan(txns: txns, end: .tornTail(offset: offset, reason: reason))
                case .valid(let valid):
                    return LogFileScan(
                        txns: txns,
                        end: .corrupt(offset: offset, reason: "\(reason), yet a valid entry follows at offset \(valid)"))
                case .undecided(let candidate):
                    return LogFileScan(
                        txns: txns,
                        end: .corrupt(offset: offset, reason: "\(reason), and too much after it looks like entries (from offset \(candidate)) to call it a torn tail"))
                }
            }
        }
    }

    enum EntryRead {
        case end
        case entry(ByteBuffer, next: Int)
        case checksumMismatch
        case incomplete(String)
    }

    func readEntry(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> EntryRead {
        let remaining = bytes.count - offset
        if remaining == 0 { return .end }
        if remaining < 12 {
            return bytes[offset...].allSatisfy { $0 == 0 } ? .end : .incomplete("short entry header")
        }
        let checksum = Self.int64(bytes, at: offset)
        let length = Int(Self.int32(bytes, at: offset + 8))
        if length == 0 {
            return checksum == 0 ? .end : .incomplete("entry length 0 after a checksum")
        }
        guard length > 0, length <= payloadBytesMax else { return .incomplete("unreasonable entry length \(length)") }
        let end = offset + 12 + length
        guard end < bytes.count else { return .incomplete("entry runs past the end of the file") }
        guard bytes[end] == TxnLogFormat.endOfRecord else { return .incomplete("missing end-of-record marker") }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 12)..<end])
        var adler = Adler32()
        adler.update(payload)
        guard checksum == Int64(adler.value) else { return .checksumMismatch }
        return .entry(ByteBuffer(bytes: payload), next: end + 1)
    }

    /// What follows an unreadable entry.
    enum FollowingEntry: Equatable {
        /// Nothing valid: the entry is a torn tail.
        case none
        /// A complete, checksummed entry whose zxid follows the last good one: damage.
        case valid(offset: Int)
        /// Too many candidates passed the cheap checks to checksum them all (only a file
        /// built to look like entries does that): not provably a torn tail, so damage.
        case undecided(offset: Int)
    }

    /// Looks for a valid entry after the unreadable one at `offset`: proof that it is damage
    /// in the middle of the log rather than a torn tail. Linear in the file: a candidate must
    /// pass cheap checks first (the checksum's high word is zero, since Adler-32 is stored in
    /// a long; a plausible length; the end-of-record marker; a whole txn header whose zxid
    /// follows the last good one), and the bytes checksummed for all candidates together are
    /// bounded by twice the file's size.
    func entryAfterDamage(_ bytes: UnsafeRawBufferPointer, after offset: Int, zxidAbove: Zxid) -> FollowingEntry {
        let txnHeaderBytes = 32
        var checksumBudget = 2 * max(bytes.count, payloadBytesMax)
        var candidate = offset + 1
        while candidate + 12 + txnHeaderBytes < bytes.count {
            defer { candidate += 1 }
            guard Self.int32(bytes, at: candidate) == 0 else { continue }
            let length = Int(Self.int32(bytes, at: candidate + 8))
            guard length >= txnHeaderBytes, length <= payloadBytesMax, candidate + 12 + length < bytes.count,
                bytes[candidate + 12 + length] == TxnLogFormat.endOfRecord,
                Self.int64(bytes, at: candidate + 12 + 12) > zxidAbove
            else { continue }
            checksumBudget -= length
            guard checksumBudget >= 0 else { return .undecided(offset: candidate) }
            if case .entry = readEntry(bytes, at: candidate) { return .valid(offset: candidate) }
        }
        return .none
    }

    static func int32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int32 {
        var value: UInt32 = 0
        for index in offset..<(offset + 4) { value = value << 8 | UInt32(bytes[index]) }
        return Int32(bitPattern: value)
    }

    static func int64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int64 {
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(bytes[index]) }
        return Int64(bitPattern: value)
    }
}
