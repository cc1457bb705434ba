import NIOCore
import ZKConsensus
import ZKModel

/// The first bytes on an election connection (`QuorumCnxManager`'s initial message): the
/// protocol version, the connector's sid and its election address. A non-negative first
/// long is a legacy connector whose first long is its sid and which sends nothing more.
public struct ElectionHandshake: Hashable, Sendable {
    /// `QuorumCnxManager.PROTOCOL_VERSION_V1`; V2 (−65535) is the multi-address form.
    public static let protocolVersion: Int64 = -65536
    public static let protocolVersionMultiAddress: Int64 = -65535
    /// ZooKeeper refuses an address longer than this.
    public static let addressBytesMax: Int32 = 2048

    public var serverId: ServerID
    /// `host:port` of the connector's election port; nil from a legacy connector.
    public var electionAddress: String?

    public init(serverId: ServerID, electionAddress: String?) {
        self.serverId = serverId
        self.electionAddress = electionAddress
    }

    public func encode(into buffer: inout ByteBuffer) {
        let address = Array((electionAddress ?? "").utf8)
        buffer.writeInteger(Self.protocolVersion, endianness: .big)
        buffer.writeInteger(serverId, endianness: .big)
        buffer.writeInteger(Int32(address.count), endianness: .big)
        buffer.writeBytes(address)
    }

    /// Takes the handshake off the front of `buffer`; nil while it is incomplete.
    public static func decode(from buffer: inout ByteBuffer) throws -> ElectionHandshake? {
        var copy = buffer
        guard let first = copy.readInteger(endianness: .big, as: Int64.self) else { return nil }
        if first >= 0 {
            buffer = copy
            return ElectionHandshake(serverId: first, electionAddress: nil)
        }
        guard first == protocolVersion || first == protocolVersionMultiAddress else {
            throw QuorumWireError.malformed("election protocol version \(first)")
        }
        guard let sid = copy.readInteger(endianness: .big, as: Int64.self),
            let length = copy.readInteger(endianness: .big, as: Int32.self)
        else { return nil }
        guard length > 0, length <= addressBytesMax else { throw QuorumWireError.malformed("election address of \(length) bytes") }
        guard let bytes = copy.readBytes(length: Int(length)) else { return nil }
        guard let address = String(validating: bytes, as: UTF8.self) else { throw QuorumWireError.malformed("election address is not UTF-8") }
        buffer = copy
        return ElectionHandshake(serverId: sid, electionAddress: address)
    }
}

/// Election messages after the handshake: `int length` + payload, 0 < length ≤ 512 KiB.
public enum ElectionFrame {
    /// `QuorumCnxManager.PACKETMAXSIZE`.
    public static let payloadBytesMax: Int32 = 512 * 1024

    public static func encode(_ payload: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(payload.readableBytes), endianness: .big)
        var payload = payload
        buffer.writeBuffer(&payload)
    }

    /// One payload off the front of `buffer`, or nil while incomplete.
    public static func decode(from buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        guard length > 0, length <= payloadBytesMax else { throw QuorumWireError.malformed("election message of \(length) bytes") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }
}

/// `FastLeaderElection`'s notification, version 2 with the sender's config text; the older
/// 28-, 40- and 44-byte forms are read too.
public enum NotificationCodec {
    public static let version: Int32 = 2
    /// Shorter messages are dropped, as ZooKeeper drops them.
    public static let bytesMin = 28

    public static func encode(_ notification: Notification, configText: String) -> ByteBuffer {
        let config = Array(configText.utf8)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(44 + config.count)
        buffer.writeInteger(notification.state.rawValue, endianness: .big)
        buffer.writeInteger(notification.vote.leader, endianness: .big)
        buffer.writeInteger(notification.vote.zxid, endianness: .big)
        buffer.writeInteger(notification.round, endianness: .big)
        buffer.writeInteger(notification.vote.peerEpoch, endianness: .big)
        buffer.writeInteger(version, endianness: .big)
        buffer.writeInteger(Int32(config.count), endianness: .big)
        buffer.writeBytes(config)
        return buffer
    }

    public struct Decoded: Hashable, Sendable {
        public var notification: Notification
        public var version: Int32
        public var configText: String?
    }

    public static func decode(_ payload: ByteBuffer) throws -> Decoded {
        var buffer = payload
        guard buffer.readableBytes >= bytesMin else { throw QuorumWireError.malformed("notification of \(buffer.readableBytes) bytes") }
        let stateValue: Int32 = buffer.readInteger(endianness: .big)!
        let leader: Int64 = buffer.readInteger(endianness: .big)!
        let zxid: Int64 = buffer.readInteger(endianness: .big)!
        let round: Int64 = buffer.readInteger(endianness: .big)!
        guard let state = ServerState(rawValue: stateValue) else { throw QuorumWireError.malformed("notification state \(stateValue)") }
        // The 28-byte form has no peerEpoch: it is the epoch of the proposed zxid.
        var peerEpoch = zxid >> 32
        var version: Int32 = 0
        var configText: String?
        if buffer.readableBytes >= 8 { peerEpoch = buffer.readInteger(endianness: .big)! }
        if buffer.readableBytes >= 4 {
            version = buffer.readInteger(endianness: .big)!
            if version > 1, let length = buffer.readInteger(endianness: .big, as: Int32.self) {
                guard length >= 0, Int(length) <= buffer.readableBytes else {
                    throw QuorumWireError.malformed("notification config of \(length) bytes")
                }
                configText = buffer.readString(length: Int(length))
            }
        }
        let notification = Notification(state: state, vote: Vote(leader: leader, zxid: zxid, peerEpoch: peerEpoch), round: round)
        return Decoded(notification: notification, version: version, configText: configText)
    }
}
