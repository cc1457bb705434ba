import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

/// `TxnDigest`: the tree digest after the txn, appended to log entries by ZooKeeper 3.6+.
public struct TxnDigest: Hashable, Sendable {
    public var version: Int32
    public var treeDigest: Int64
    public init(version: Int32, treeDigest: Int64) {
        self.version = version
        self.treeDigest = treeDigest
    }
}

/// Why a logged txn could not be decoded.
public enum TxnDecodeError: Error, Equatable, Sendable {
    case unknownTxnType(Int32)
    case unknownErrorCode(Int32)
    case malformed(String)
}

/// The bytes of one log entry's payload: `TxnHeader`, the record for its type, and an optional
/// `TxnDigest`. The same payload travels in PROPOSAL packets between servers.
public enum TxnCodec {
    /// `digest` defaults to the txn's own (`Txn.digest`).
    public static func encode(_ txn: Txn, digest: TxnDigest? = nil, into writer: inout JuteWriter) {
        let digest = digest ?? txn.digest.map { TxnDigest(version: TreeDigest.version, treeDigest: Int64(bitPattern: $0)) }
        writer.writeLong(txn.header.clientId)
        writer.writeInt(txn.header.cxid)
        writer.writeLong(txn.header.zxid)
        writer.writeLong(txn.header.time)
        writer.writeInt(txn.header.type)
        encodeRecord(txn.body, into: &writer)
        if let digest {
            writer.writeInt(digest.version)
            writer.writeLong(digest.treeDigest)
        }
    }

    public static func encode(_ txn: Txn, digest: TxnDigest? = nil) -> ByteBuffer {
        var writer = JuteWriter()
        encode(txn, digest: digest, into: &writer)
        return writer.buffer
    }

    static func encodeRecord(_ body: TxnBody, into writer: inout JuteWriter) {
        switch body {
        case .createSession(let timeoutMs):
            writer.writeInt(timeoutMs)
        case .closeSession(let paths):
            writer.writeStringVector(paths)
        case .create(let path, let data, let acl, let ephemeral, let parentCVersion):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(acl)
            writer.writeBool(ephemeral)
            writer.writeInt(parentCVersion)
        case .createContainer(let path, let data, let acl, let parentCVersion):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(acl)
            writer.writeInt(parentCVersion)
        case .createTTL(let path, let data, let acl, let parentCVersion, let ttl):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeACLs(acl)
            writer.writeInt(parentCVersion)
            writer.writeLong(ttl)
        case .delete(let path), .deleteContainer(let path):
            writer.writeString(path)
        case .setData(let path, let data, let version):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeInt(version)
        case .setACL(let path, let acl, let version):
            writer.writeString(path)
            writer.writeACLs(acl)
            writer.writeInt(version)
        case .check(let path, let version):
            writer.writeString(path)
            writer.writeInt(version)
        case .error(let code):
            writer.writeInt(code.rawValue)
        case .multi(let bodies):
            writer.writeInt(Int32(bodies.count))
            for sub in bodies {
                writer.writeInt(sub.type.rawValue)
                var subWriter = JuteWriter()
                encodeRecord(sub, into: &subWriter)
                writer.writeInt(Int32(subWriter.buffer.readableBytes))
                writer.buffer.writeImmutableBuffer(subWriter.buffer)
            }
        }
    }

    /// Decodes one entry payload. A missing digest (the record ends the payload) is nil.
    public static func decode(_ buffer: ByteBuffer, lengthMax: Int32 = Int32.max) throws -> (Txn, TxnDigest?) {
        var reader = JuteReader(buffer, lengthMax: lengthMax)
        let header = TxnHeader(
            clientId: try reader.readLong(), cxid: try reader.readInt(), zxid: try reader.readLong(),
            time: try reader.readLong(), type: try reader.readInt())
        let body = try decodeRecord(type: header.type, from: &reader, topLevel: true)
        var digest: TxnDigest?
        if reader.buffer.readableBytes >= 12 {
            digest = TxnDigest(version: try reader.readInt(), treeDigest: try reader.readLong())
        }
        // The txn keeps a digest of the version this server computes (others are not comparable).
        let treeDigest = digest.flatMap { $0.version == TreeDigest.version ? UInt64(bitPattern: $0.treeDigest) : nil }
        return (Txn(header: header, body: body, digest: treeDigest), digest)
    }

    static func decodeRecord(type: Int32, from reader: inout JuteReader, topLevel: Bool) throws -> TxnBody {
        guard let opCode = OpCode(rawValue: type) else { throw TxnDecodeError.unknownTxnType(type) }
        switch opCode {
        case .createSession:
            return .createSession(timeoutMs: try reader.readInt())
        case .closeSession:
            // Logs written before 3.6 have no record after a closeSession header.
            if reader.isAtEnd { return .closeSession(pathsToDelete: []) }
            return .closeSession(pathsToDelete: try reader.readStringVector() ?? [])
        case .create, .create2:
            let path = try reader.readPath()
            let data = try reader.readBuffer()
            let acl = try reader.readACLs() ?? []
            let ephemeral = try reader.readBool()
            // `CreateTxnV0` (very old logs) has no parentCVersion: −1 means "old + 1".
            let parentCVersion = topLevel && reader.isAtEnd ? -1 : try reader.readInt()
            return .create(path: path, data: data, acl: acl, ephemeral: ephemeral, parentCVersion: parentCVersion)
        case .createContainer:
            return .createContainer(
                path: try reader.readPath(), data: try reader.readBuffer(), acl: try reader.readACLs() ?? [],
                parentCVersion: try reader.readInt())
        case .createTTL:
            return .createTTL(
                path: try reader.readPath(), data: try reader.readBuffer(), acl: try reader.readACLs() ?? [],
                parentCVersion: try reader.readInt(), ttl: try reader.readLong())
        case .delete:
            return .delete(path: try reader.readPath())
        case .deleteContainer:
            return .deleteContainer(path: try reader.readPath())
        case .setData, .reconfig:
            return .setData(path: try reader.readPath(), data: try reader.readBuffer(), version: try reader.readInt())
        case .setACL:
            return .setACL(path: try reader.readPath(), acl: try reader.readACLs() ?? [], version: try reader.readInt())
        case .check:
            return .check(path: try reader.readPath(), version: try reader.readInt())
        case .error:
            let raw = try reader.readInt()
            guard let code = ErrorCode(rawValue: raw) else { throw TxnDecodeError.unknownErrorCode(raw) }
            return .error(code)
        case .multi where topLevel:
            let count = try reader.readInt()
            guard count >= 0 else { throw TxnDecodeError.malformed("multi with \(count) txns") }
            var bodies: [TxnBody] = []
            for _ in 0..<count {
                let subType = try reader.readInt()
                guard let bytes = try reader.readBuffer() else { throw TxnDecodeError.malformed("multi sub-txn without data") }
                var subReader = JuteReader(ByteBuffer(bytes: bytes), lengthMax: reader.lengthMax)
                bodies.append(try decodeRecord(type: subType, from: &subReader, topLevel: false))
            }
            return .multi(bodies)
        default:
            throw TxnDecodeError.unknownTxnType(type)
        }
    }
}
