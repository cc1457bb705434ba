import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

/// What a snapshot holds: the tree and the sessions (id → timeout) alive at its zxid.
public struct SnapshotContents: Sendable {
    public var tree: DataTree
    public var sessions: [SessionID: Int32]
    /// The digest record (3.6+): the tree digest as of `zxid`, which in a fuzzy snapshot may be
    /// later than the snapshot's own zxid.
    public var digest: (zxid: Zxid, value: UInt64)?

    public init(tree: DataTree, sessions: [SessionID: Int32], digest: (zxid: Zxid, value: UInt64)? = nil) {
        self.tree = tree
        self.sessions = sessions
        self.digest = digest
    }
}

public enum SnapshotDecodeError: Error, Equatable, Sendable {
    case notASnapshot(String)
    case truncated(offset: Int)
    case checksumMismatch(offset: Int)
    case unknownACLReference(Int64, path: String)
    case badTree(String)
}

/// ZooKeeper's snapshot file: `FileHeader` "ZKSN", sessions, the ACL table, every node in
/// pre-order, the `/` end marker, an Adler-32 seal over everything before it, then the digest
/// record (zxid, version, tree digest) and a second seal, as 3.6+ writes. Files without the
/// digest record (older versions) and with 3.9's extra lastProcessedZxid record are read too.
public enum SnapshotFormat {
    public static let magic: Int32 = 0x5A4B_534E  // "ZKSN"
    public static let version: Int32 = 2
    public static let dbid: Int64 = -1
    /// The ACL reference ZooKeeper uses for the built-in open nodes: `world:anyone` ALL.
    public static let openACLReference: Int64 = -1
    static let builtinOpenPaths: Set<String> = ["/", DataTree.procPath, DataTree.quotaPath]

    public static func encode(tree: DataTree, sessions: [SessionID: Int32]) -> ByteBuffer {
        var writer = JuteWriter(ByteBuffer())
        writer.writeInt(magic)
        writer.writeInt(version)
        writer.writeLong(dbid)
        writeBody(tree: tree, sessions: sessions, into: &writer)
        seal(&writer.buffer)
        // ZooKeeper records digest 0 for zxid 0 (no txn processed yet).
        let zxid = tree.lastProcessedZxid
        writer.writeLong(zxid)
        writer.writeInt(TreeDigest.version)
        writer.writeLong(zxid == 0 ? 0 : Int64(bitPattern: tree.digest))
        seal(&writer.buffer)
        return writer.buffer
    }

    /// Sessions, the ACL table, every node and the `/` marker: what follows a snapshot
    /// file's header, and what a SNAP sync streams (`SerializeUtils.serializeSnapshot`).
    public static func writeBody(tree: DataTree, sessions: [SessionID: Int32], into writer: inout JuteWriter) {
        var body = BodyWriter(tree: tree, sessions: sessions)
        while !body.isFinished { body.write(into: &writer, bytesMax: .max) }
    }

    /// `writeBody` a slice at a time: a leader streams a SNAP from its copy of the tree
    /// as the learner's socket takes it, instead of building the whole stream in memory.
    public struct BodyWriter: Sendable {
        let sessions: [SessionID: Int32]
        let references: (table: [[ACL]], index: [[ACL]: Int64])
        var lookup = ACLReferenceLookup()
        var cursor: DataTree.PreorderCursor
        var headerWritten = false
        public private(set) var isFinished = false

        public init(tree: DataTree, sessions: [SessionID: Int32]) {
            self.sessions = sessions
            references = SnapshotFormat.aclReferences(tree)
            cursor = DataTree.PreorderCursor(tree)
        }

        /// Writes the next records, stopping once at least `bytesMax` bytes were written or
        /// the body ended (with its `/` marker, then `isFinished`).
        public mutating func write(into writer: inout JuteWriter, bytesMax: Int) {
            let start = writer.buffer.writerIndex
            if !headerWritten {
                headerWritten = true
                writer.writeInt(Int32(sessions.count))
                for (id, timeoutMs) in sessions.sorted(by: { $0.key < $1.key }) {
                    writer.writeLong(id)
                    writer.writeInt(timeoutMs)
                }
                writer.writeInt(Int32(references.table.count))
                for (index, acl) in references.table.enumerated() {
                    writer.writeLong(Int64(index + 1))
                    writer.writeACLs(acl)
                }
            }
            while writer.buffer.writerIndex - start < bytesMax {
                guard let (path, node) = cursor.next() else {
                    writer.writeString("/")
                    isFinished = true
                    return
                }
                writer.writeString(path == "/" ? "" : path)
                writer.writeBuffer(node.data)
                writer.writeLong(lookup.reference(path, node, references.index))
                SnapshotFormat.writeStatPersisted(node, into: &writer)
            }
        }
    }

    /// Distinct ACL lists numbered 1, 2, … in the order a pre-order walk first meets them.
    static func aclReferences(_ tree: DataTree) -> (table: [[ACL]], index: [[ACL]: Int64]) {
        var table: [[ACL]] = []
        var index: [[ACL]: Int64] = [:]
        var lookup = ACLReferenceLookup()
        tree.preorder { path, node in
            guard lookup.knownReference(path, node, index) == nil else { return }
            table.append(node.acl)
            index[node.acl] = Int64(table.count)
        }
        return (table, index)
    }

    /// A node's reference in the ACL table. Nodes share stored lists (`DataTree.shared`), so
    /// the list met last is recognised by its storage, and only a new one is hashed: hashing
    /// every node's list (strings inside) was a tenth of a snapshot's CPU. Storage identity is
    /// sound within one walk: the tree being written keeps every list it met alive.
    struct ACLReferenceLookup: Sendable {
        private var lastStorage: UInt = 0
        private var lastReference: Int64 = 0

        mutating func reference(_ path: String, _ node: DataNode, _ index: [[ACL]: Int64]) -> Int64 {
            knownReference(path, node, index) ?? openACLReference
        }

        /// nil: the list is not in `index` (and the node is not a built-in open one).
        mutating func knownReference(_ path: String, _ node: DataNode, _ index: [[ACL]: Int64]) -> Int64? {
            if SnapshotFormat.isBuiltinOpen(path) && node.acl == ACL.openACLUnsafe { return openACLReference }
            let storage = node.acl.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
            if storage != 0, storage == lastStorage { return lastReference }
            guard let found = index[node.acl] else { return nil }
            lastStorage = storage
            lastReference = found
            return found
        }
    }

    /// The built-in nodes that ZooKeeper writes with reference -1 when open; the length test
    /// first, so other paths cost no hashing.
    static func isBuiltinOpen(_ path: String) -> Bool {
        path.utf8.count <= builtinOpenPathBytesMax && builtinOpenPaths.contains(path)
    }

    static let builtinOpenPathBytesMax = builtinOpenPaths.map(\.utf8.count).max() ?? 0

    static func writeStatPersisted(_ node: DataNode, into writer: inout JuteWriter) {
        writer.writeLong(node.czxid)
        writer.writeLong(node.mzxid)
        writer.writeLong(node.ctime)
        writer.writeLong(node.mtime)
        writer.writeInt(node.version)
        writer.writeInt(node.cversion)
        writer.writeInt(node.aversion)
        writer.writeLong(node.ephemeralOwner)
        writer.writeLong(node.pzxid)
    }

    /// `long checksum; ustring "/"`: the Adler-32 of every byte so far.
    static func seal(_ buffer: inout ByteBuffer) {
        let checksum = buffer.withUnsafeReadableBytes { bytes -> UInt32 in
            var adler = Adler32()
            adler.update(bytes)
            return adler.value
        }
        buffer.writeInteger(Int64(checksum), endianness: .big)
        buffer.writeInteger(Int32(1), endianness: .big)
        buffer.writeInteger(UInt8(ascii: "/"))
    }

    /// The last five bytes of every sealed snapshot: the ustring "/".
    public static let sealTail: [UInt8] = [0, 0, 0, 1, UInt8(ascii: "/")]
    /// ZooKeeper's smallest valid snapshot file.
    public static let fileBytesMin = 10

    /// ZooKeeper's quick validity test: at least 10 bytes, ending with the ustring "/".
    public static func looksComplete(_ bytes: [UInt8]) -> Bool {
        bytes.count >= fileBytesMin && Array(bytes.suffix(sealTail.count)) == sealTail
    }

    /// Reads a whole snapshot and checks every seal in it. `zxid` comes from the file name.
    public static func decode(_ bytes: [UInt8], zxid: Zxid, lengthMax: Int32 = Int32.max) throws -> SnapshotContents {
        guard looksComplete(bytes) else { throw SnapshotDecodeError.notASnapshot("does not end with a seal") }
        var reader = JuteReader(ByteBuffer(bytes: bytes), lengthMax: lengthMax)
        do {
            guard try reader.readInt() == magic else { throw SnapshotDecodeError.notASnapshot("bad magic") }
            _ = try reader.readInt()
            _ = try reader.readLong()
            var sessions: [SessionID: Int32] = [:]
            let sessionCount = try reader.readInt()
            guard sessionCount >= 0 else { throw SnapshotDecodeError.badTree("session count \(sessionCount)") }
            for _ in 0..<sessionCount {
                let id = try reader.readLong()
                sessions[id] = try reader.readInt()
            }
            let table = try readACLTable(&reader)
            var tree = DataTree.empty()
            while true {
                let path = try reader.readString() ?? ""
                if path == "/" { break }
                let node = try readNode(&reader, path: path, table: table)
                do {
                    try tree.restoreNode(path: path, node: node)
                } catch {
                    throw SnapshotDecodeError.badTree("\(error)")
                }
            }
            let digest = try checkSeals(&reader, bytes: bytes)
            do {
                try tree.finishRestore(lastProcessedZxid: zxid)
            } catch {
                throw SnapshotDecodeError.badTree("\(error)")
            }
            return SnapshotContents(tree: tree, sessions: sessions, digest: digest)
        } catch is JuteError {
            throw SnapshotDecodeError.truncated(offset: reader.buffer.readerIndex)
        }
    }

    static func readACLTable(_ reader: inout JuteReader) throws -> [Int64: [ACL]] {
        var table: [Int64: [ACL]] = [:]
        let count = try reader.readInt()
        guard count >= 0 else { throw SnapshotDecodeError.badTree("ACL table size \(count)") }
        for _ in 0..<count {
            let reference = try reader.readLong()
            table[reference] = try reader.readACLs() ?? []
        }
        return table
    }

    public static func readNode(_ reader: inout JuteReader, path: String, table: [Int64: [ACL]]) throws -> DataNode {
        let data = try reader.readBuffer()
        let reference = try reader.readLong()
        let acl: [ACL]
        if reference == openACLReference {
            acl = ACL.openACLUnsafe
        } else if let known = table[reference] {
            acl = known
        } else {
            throw SnapshotDecodeError.unknownACLReference(reference, path: path)
        }
        let czxid = try reader.readLong()
        let mzxid = try reader.readLong()
        let ctime = try reader.readLong()
        let mtime = try reader.readLong()
        let version = try reader.readInt()
        let cversion = try reader.readInt()
        let aversion = try reader.readInt()
        let ephemeralOwner = try reader.readLong()
        let pzxid = try reader.readLong()
        return DataNode(
            data: data, acl: acl, czxid: czxid, mzxid: mzxid, pzxid: pzxid, ctime: ctime, mtime: mtime,
            version: version, cversion: cversion, aversion: aversion, ephemeralOwner: ephemeralOwner)
    }

    /// Seal 1 follows the `/` marker; a 3.6+ digest record and 3.9's lastProcessedZxid record
    /// may follow, each sealed again with the running checksum.
    static func checkSeals(_ reader: inout JuteReader, bytes: [UInt8]) throws -> (zxid: Zxid, value: UInt64)? {
        try checkSeal(&reader, bytes: bytes)
        var digest: (zxid: Zxid, value: UInt64)?
        if reader.buffer.readableBytes >= 20 + 13 {
            let digestZxid = try reader.readLong()
            let digestVersion = try reader.readInt()
            if digestVersion < 2 {
                _ = try reader.readString()  // the pre-2 format kept the digest as hex text
            } else {
                let value = UInt64(bitPattern: try reader.readLong())
                if digestVersion == TreeDigest.version && digestZxid != 0 { digest = (digestZxid, value) }
            }
            try checkSeal(&reader, bytes: bytes)
        }
        if reader.buffer.readableBytes >= 8 + 13 {
            _ = try reader.readLong()  // lastProcessedZxid (3.9)
            try checkSeal(&reader, bytes: bytes)
        }
        return digest
    }

    static func checkSeal(_ reader: inout JuteReader, bytes: [UInt8]) throws {
        let offset = reader.buffer.readerIndex
        let expected = Int64(Adler32.checksum(bytes[0..<offset]))
        guard try reader.readLong() == expected, try reader.readString() == "/" else {
            throw SnapshotDecodeError.checksumMismatch(offset: offset)
        }
    }
}
