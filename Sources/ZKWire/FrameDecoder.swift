import NIOCore

/// Splits the client byte stream into frames: `int32 length` + payload, with a hard maximum.
/// The very first 4 bytes of a connection may instead spell a four-letter word.
public struct FrameDecoder: Sendable {
    public enum Output: Equatable, Sendable {
        case frame(ByteBuffer)
        case fourLetterWord(String)
    }

    public enum Failure: Error, Equatable, Sendable {
        /// The length prefix was negative or above `frameBytesMax` (ZooKeeper: "Len error").
        case invalidLength(Int32)

        public var length: Int32 {
            switch self {
            case .invalidLength(let length): return length
            }
        }
    }

    /// The words ZooKeeper recognises in place of a first length prefix.
    public static let fourLetterWords: Set<String> = [
        "conf", "cons", "crst", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat", "wchc",
        "wchp", "wchs", "mntr", "isro", "hash", "dirs",
    ]

    public let frameBytesMax: Int
    private var sawFirstFrame = false

    public init(frameBytesMax: Int) {
        self.frameBytesMax = frameBytesMax
    }

    /// Returns the next complete frame, or nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(Failure) -> Output? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        if !sawFirstFrame, let bytes = buffer.getBytes(at: buffer.readerIndex, length: 4),
            bytes.allSatisfy({ $0 >= 0x61 && $0 <= 0x7a })
        {
            let word = String(decoding: bytes, as: UTF8.self)
            if Self.fourLetterWords.contains(word) {
                buffer.moveReaderIndex(forwardBy: 4)
                sawFirstFrame = true
                return .fourLetterWord(word)
            }
        }
        guard length >= 0, Int(length) <= frameBytesMax else { throw .invalidLength(length) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        sawFirstFrame = true
        guard let frame = buffer.readSlice(length: Int(length)) else { return nil }
        return .frame(frame)
    }
}
