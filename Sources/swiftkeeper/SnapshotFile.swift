import Foundation
import NIOCore
import ZKDataTree
import ZKModel
import ZKPersistence
import ZKWire

/// A snapshot file loaded for the data tools: the tree and sessions `SnapshotFormat.decode`
/// reads, the sessions in the order the file lists them, and the zxid in the file's name.
struct SnapshotFile {
    var contents: SnapshotContents
    /// Session ids in file order: Java's `HashMap` iteration order depends on it.
    var sessionOrder: [SessionID]
    /// The zxid in `snapshot.<hex>`, or -1 for a name that has none (as ZooKeeper's `Util`).
    var nameZxid: Zxid

    /// `jute.maxbuffer` plus its default extra room: the longest string or buffer read.
    static let fieldBytesMax = Int32(0xfffff * 2)
    static let fileHeaderBytes = 16

    static func load(_ path: String) throws -> SnapshotFile {
        guard let bytes = readWholeFile(path) else { throw ToolError("cannot read \(path)") }
        let name = (path as NSString).lastPathComponent
        let nameZxid = zxid(fromName: name)
        let contents: SnapshotContents
        do {
            contents = try SnapshotFormat.decode(bytes, zxid: max(0, nameZxid), lengthMax: fieldBytesMax)
        } catch {
            throw ToolError("\(path) is not a valid snapshot: \(error)")
        }
        return SnapshotFile(contents: contents, sessionOrder: sessionOrder(bytes), nameZxid: nameZxid)
    }

    /// `Util.getZxidFromName`: the hex after `snapshot.`, or -1.
    static func zxid(fromName name: String) -> Zxid {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "snapshot", let value = Int64(parts[1], radix: 16) else { return -1 }
        return value
    }

    /// The session ids of the file's session list, in order. Only the list's ids are read
    /// here (the decoder already checked the whole file); nothing on failure.
    static func sessionOrder(_ bytes: [UInt8]) -> [SessionID] {
        var reader = JuteReader(ByteBuffer(bytes: bytes))
        guard reader.buffer.readableBytes >= fileHeaderBytes else { return [] }
        reader.buffer.moveReaderIndex(forwardBy: fileHeaderBytes)
        guard let count = try? reader.readInt(), count > 0 else { return [] }
        var ids: [SessionID] = []
        for _ in 0..<count {
            guard let id = try? reader.readLong(), (try? reader.readInt()) != nil else { break }
            ids.append(id)
        }
        return ids
    }
}

/// The iteration order of a Java `HashMap<Long, V>` filled with `keys` in this order: by
/// bucket (`Long.hashCode`, spread by `h ^ (h >>> 16)`, masked by the table length, which
/// starts at 16 and doubles past a load factor of 0.75), then by insertion within a bucket.
/// A bucket of 8 or more keys (which Java may resize for or turn into a tree) is not modelled.
enum JavaHashMapOrder {
    static let initialTableLength = 16

    static func order(_ keys: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        let unique = keys.filter { seen.insert($0).inserted }
        var length = initialTableLength
        while unique.count > length * 3 / 4 { length *= 2 }
        let mask = Int32(truncatingIfNeeded: length - 1)
        return unique.enumerated()
            .map { (key: $0.element, bucket: bucket($0.element, mask), insertion: $0.offset) }
            .sorted { ($0.bucket, $0.insertion) < ($1.bucket, $1.insertion) }
            .map(\.key)
    }

    static func bucket(_ key: Int64, _ mask: Int32) -> Int32 {
        let bits = UInt64(bitPattern: key)
        let hash = Int32(truncatingIfNeeded: bits ^ (bits >> 32))
        let spread = hash ^ Int32(bitPattern: UInt32(bitPattern: hash) >> 16)
        return spread & mask
    }
}

extension DataTree {
    /// A node's children's full paths in ZooKeeper's order.
    func childPaths(of path: String) -> [String] {
        guard let node = node(path) else { return [] }
        let prefix = path == "/" ? "/" : path + "/"
        return node.children.javaOrder.map { prefix + $0 }
    }
}
