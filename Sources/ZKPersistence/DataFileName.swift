import ZKModel

/// ZooKeeper's file names under `version-2`: `log.<hex zxid>` and `snapshot.<hex zxid>`,
/// lower-case hex without padding, ordered by the zxid rather than by name.
public enum DataFileKind: String, Sendable {
    case log
    case snapshot
}

public struct DataFileName: Hashable, Sendable, Comparable {
    public var kind: DataFileKind
    public var zxid: Zxid

    public init(kind: DataFileKind, zxid: Zxid) {
        self.kind = kind
        self.zxid = zxid
    }

    public static let directoryName = "version-2"

    /// ZooKeeper parses the text after the first dot as hex, ignoring anything after a second
    /// dot (`snapshot.1a.gz`); names it cannot parse are not data files.
    public init?(_ name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let kind = DataFileKind(rawValue: String(parts[0])),
            let value = UInt64(parts[1], radix: 16)
        else { return nil }
        self.kind = kind
        self.zxid = Zxid(bitPattern: value)
    }

    public var name: String { "\(kind.rawValue).\(String(UInt64(bitPattern: zxid), radix: 16))" }

    public static func < (lhs: DataFileName, rhs: DataFileName) -> Bool { lhs.zxid < rhs.zxid }
}

/// ZooKeeper's preallocation rule (`FilePadding`): before appending at `position`, a file
/// within 4 KiB of its end grows by a whole block (or, if already past the end, to the next
/// block boundary above `position + block`).
public enum LogPreallocation {
    public static let slackBytes = 4096

    /// The size the file must have before `appendBytes` are written at `position`, or nil if
    /// it is big enough already. `blockBytes` 0 turns preallocation off.
    public static func sizeNeeded(position: Int, appendBytes: Int, currentSize: Int, blockBytes: Int) -> Int? {
        guard blockBytes > 0 else { return nil }
        var size = currentSize
        while position + appendBytes + slackBytes >= size {
            if position > size {
                size = position + blockBytes
                size -= size % blockBytes
            } else {
                size += blockBytes
            }
        }
        return size == currentSize ? nil : size
    }
}
