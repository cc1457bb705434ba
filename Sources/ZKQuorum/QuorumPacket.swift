import NIOCore
import ZKModel
import ZKWire

/// ZooKeeper's `QuorumPacket { int type; long zxid; buffer data; vector<Id> authinfo; }`, the
/// only record on the quorum port. It travels bare (no length prefix): the record delimits
/// itself, so a reader must be able to say "not all here yet".
public struct QuorumPacket: Hashable, Sendable {
    public var type: Int32
    public var zxid: Int64
    public var data: [UInt8]?
    public var authInfo: [Id]?

    public init(type: Int32, zxid: Int64, data: [UInt8]? = nil, authInfo: [Id]? = nil) {
        self.type = type
        self.zxid = zxid
        self.data = data
        self.authInfo = authInfo
    }

    public func encode(into buffer: inout ByteBuffer) {
        var writer = JuteWriter(buffer)
        buffer = ByteBuffer()
        writer.writeInt(type)
        writer.writeLong(zxid)
        writer.writeBuffer(data)
        writer.writeVector(authInfo) { $0.writeId($1) }
        buffer = writer.buffer
    }

    /// Takes one packet off the front of `buffer`, or nil (and nothing taken) when the bytes
    /// so far end inside one. Throws when the bytes cannot be a packet (a data length past
    /// `dataBytesMax`, more auth ids than `authIdsMax`). A count below −1 reads as an empty
    /// list, as Java's jute reads it.
    public static func decode(from buffer: inout ByteBuffer, dataBytesMax: Int32, authIdsMax: Int32 = 64) throws -> QuorumPacket? {
        var reader = JuteReader(buffer, lengthMax: dataBytesMax)
        do {
            let type = try reader.readInt()
            let zxid = try reader.readLong()
            let data = try reader.readBuffer()
            let count = try reader.readInt()
            guard count <= authIdsMax else { throw QuorumWireError.malformed("packet type \(type) lists \(count) auth ids") }
            var authInfo: [Id]?
            if count >= 0 {
                authInfo = []
                for _ in 0..<count { authInfo!.append(try reader.readId()) }
            }
            buffer = reader.buffer
            return QuorumPacket(type: type, zxid: zxid, data: data, authInfo: authInfo)
        } catch JuteError.truncated {
            return nil
        } catch let error as JuteError {
            throw QuorumWireError.malformed("\(error)")
        }
    }
}

/// Why bytes from another member were refused; the link carrying them is closed.
public enum QuorumWireError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unexpected(String)
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .malformed(let what): return "malformed message: \(what)"
        case .unexpected(let what): return "unexpected message: \(what)"
        case .tooLarge(let bytes): return "message of \(bytes) bytes is over the limit"
        }
    }
}

/// ZooKeeper's quorum packet numbers (`Leader.*`).
public enum QuorumPacketType {
    public static let request: Int32 = 1
    public static let proposal: Int32 = 2
    public static let ack: Int32 = 3
    public static let commit: Int32 = 4
    public static let ping: Int32 = 5
    public static let revalidate: Int32 = 6
    public static let sync: Int32 = 7
    public static let inform: Int32 = 8
    public static let commitAndActivate: Int32 = 9
    public static let newLeader: Int32 = 10
    public static let followerInfo: Int32 = 11
    public static let upToDate: Int32 = 12
    public static let diff: Int32 = 13
    public static let trunc: Int32 = 14
    public static let snap: Int32 = 15
    public static let observerInfo: Int32 = 16
    public static let leaderInfo: Int32 = 17
    public static let ackEpoch: Int32 = 18
    public static let informAndActivate: Int32 = 19
}

/// `LearnerInfo { long serverid; int protocolVersion; long configVersion; }`, the data of
/// FOLLOWERINFO and OBSERVERINFO.
public struct LearnerInfo: Hashable, Sendable {
    public static let protocolVersion: Int32 = 0x10000
    public var serverId: Int64
    public var protocolVersion: Int32
    public var configVersion: Int64

    public init(serverId: Int64, protocolVersion: Int32 = LearnerInfo.protocolVersion, configVersion: Int64 = 0) {
        self.serverId = serverId
        self.protocolVersion = protocolVersion
        self.configVersion = configVersion
    }

    public var bytes: [UInt8] {
        var writer = JuteWriter()
        writer.writeLong(serverId)
        writer.writeInt(protocolVersion)
        writer.writeLong(configVersion)
        return Array(writer.buffer.readableBytesView)
    }

    /// Old learners send only the server id (8 bytes) or id and protocol version (12).
    public init(bytes: [UInt8]) throws {
        var reader = JuteReader(ByteBuffer(bytes: bytes))
        do {
            serverId = try reader.readLong()
            protocolVersion = reader.buffer.readableBytes >= 4 ? try reader.readInt() : 0
            configVersion = reader.buffer.readableBytes >= 8 ? try reader.readLong() : 0
        } catch {
            throw QuorumWireError.malformed("LearnerInfo of \(bytes.count) bytes")
        }
    }
}
