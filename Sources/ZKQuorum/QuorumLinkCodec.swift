import DequeModule
import NIOCore
import ZKConsensus
import ZKModel
import ZKPersistence
import ZKWire

/// Turns `PeerMessage`s into ZooKeeper's quorum packets and back, for one end of one
/// learner–leader connection. Several packets read differently by direction (PING carries
/// touches only from a learner, REVALIDATE is a question one way and an answer the other),
/// and a SNAP packet is followed by an unframed snapshot stream, so the codec knows its side
/// and keeps a little state.
public struct QuorumLinkCodec: Sendable {
    public enum Side: Sendable { case leader, learner }

    public let side: Side
    /// This server's id, sent in FOLLOWERINFO/OBSERVERINFO.
    public let serverId: ServerID
    /// The config text NEWLEADER carries (`server.N=…` lines, then `version=…`).
    public let configText: String
    /// The largest `data` a packet may carry (and any one record of a SNAP stream).
    public let dataBytesMax: Int32
    /// What the learner said it is (leader side, after FOLLOWERINFO/OBSERVERINFO).
    public private(set) var learnerInfo: LearnerInfo?
    /// `sync`s forwarded and not answered yet: ZooKeeper's SYNC packet does not say which
    /// one it answers; the link is FIFO and the leader answers them in order.
    private var syncsInFlight = Deque<UInt64>()
    private var snapStream: SnapStreamDecoder?
    /// Leader side: numbers the syncs a learner forwards.
    private var nextSyncNumber: UInt64 = 0

    public init(side: Side, serverId: ServerID, configText: String, dataBytesMax: Int32) {
        self.side = side
        self.serverId = serverId
        self.configText = configText
        self.dataBytesMax = dataBytesMax
    }

    // MARK: - Encoding

    public mutating func encode(_ message: PeerMessage, into buffer: inout ByteBuffer) {
        if case .syncRequest(let requestId, _) = message { syncsInFlight.append(requestId) }
        packet(for: message).encode(into: &buffer)
        if case .snap(_, let snapshot) = message {
            var writer = JuteWriter(ByteBuffer())
            SnapshotFormat.writeBody(tree: snapshot.tree, sessions: snapshot.sessions, into: &writer)
            writer.writeString(SnapStreamDecoder.signature)
            buffer.writeBuffer(&writer.buffer)
        }
    }

    /// A SNAP's packet alone, for a sender that streams what follows it as its socket takes
    /// it: `SnapshotFormat.BodyWriter`'s records, then `snapStreamEnd`.
    public func encodeSnapPacket(zxid: Zxid, into buffer: inout ByteBuffer) {
        QuorumPacket(type: QuorumPacketType.snap, zxid: zxid).encode(into: &buffer)
    }

    /// What ends a SNAP's stream ("BenWasHere").
    public static func snapStreamEnd(into buffer: inout ByteBuffer) {
        var writer = JuteWriter(ByteBuffer())
        writer.writeString(SnapStreamDecoder.signature)
        buffer.writeBuffer(&writer.buffer)
    }

    func packet(for message: PeerMessage) -> QuorumPacket {
        let type = message.packetType
        switch message {
        case .notification:
            preconditionFailure("election notifications travel on the election port")
        case .learnerInfo(let acceptedEpoch, _):
            return QuorumPacket(type: type, zxid: acceptedEpoch << 32, data: LearnerInfo(serverId: serverId).bytes)
        case .leaderInfo(let newEpoch):
            return QuorumPacket(type: type, zxid: newEpoch << 32, data: int(LearnerInfo.protocolVersion))
        case .ackEpoch(let lastLoggedZxid, let currentEpoch):
            return QuorumPacket(type: type, zxid: lastLoggedZxid, data: int(Int32(truncatingIfNeeded: currentEpoch)))
        case .diff(let zxid), .trunc(let zxid), .snap(let zxid, _), .commit(let zxid), .ack(let zxid):
            return QuorumPacket(type: type, zxid: zxid)
        case .proposal(let txn), .inform(let txn):
            return QuorumPacket(type: type, zxid: txn.zxid, data: Array(TxnCodec.encode(txn).readableBytesView))
        case .newLeader(let zxid):
            return QuorumPacket(type: type, zxid: zxid, data: Array(configText.utf8))
        case .upToDate:
            return QuorumPacket(type: type, zxid: -1)
        case .ping(let zxid, let touches):
            guard side == .learner else { return QuorumPacket(type: type, zxid: zxid) }
            var writer = JuteWriter()
            for touch in touches {
                writer.writeLong(touch.sessionId)
                writer.writeInt(touch.timeoutMs)
            }
            return QuorumPacket(type: type, zxid: zxid, data: Array(writer.buffer.readableBytesView))
        case .request(let request):
            var writer = JuteWriter()
            writer.writeLong(request.sessionId)
            writer.writeInt(request.cxid)
            writer.writeInt(request.type)
            writer.buffer.writeBytes(request.body)
            return QuorumPacket(type: type, zxid: -1, data: Array(writer.buffer.readableBytesView), authInfo: request.authIds)
        case .syncRequest(let requestId, let origin):
            // A forwarded `sync`: ZooKeeper's REQUEST of type sync with a SyncRequest body,
            // for the client's session (a ZooKeeper leader checks it).
            var writer = JuteWriter()
            writer.writeLong(origin?.sessionId ?? Int64(bitPattern: requestId))
            writer.writeInt(origin?.cxid ?? 0)
            writer.writeInt(OpCode.sync.rawValue)
            writer.writeString(origin?.path ?? "/")
            return QuorumPacket(type: type, zxid: -1, data: Array(writer.buffer.readableBytesView), authInfo: [])
        case .revalidate(let sessionId, let timeoutMs):
            var writer = JuteWriter()
            writer.writeLong(sessionId)
            writer.writeInt(timeoutMs)
            return QuorumPacket(type: type, zxid: -1, data: Array(writer.buffer.readableBytesView))
        case .revalidateReply(let sessionId, let valid):
            var writer = JuteWriter()
            writer.writeLong(sessionId)
            writer.writeBool(valid)
            return QuorumPacket(type: type, zxid: -1, data: Array(writer.buffer.readableBytesView))
        case .syncReply(_, let zxid):
            return QuorumPacket(type: type, zxid: zxid)
        }
    }

    private func int(_ value: Int32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(value, endianness: .big)
        return Array(buffer.readableBytesView)
    }

    // MARK: - Decoding

    /// The next message off the front of `buffer`, or nil while it is incomplete. Throws
    /// for bytes that are not what this side may receive; the link is then closed.
    public mutating func decode(from buffer: inout ByteBuffer) throws -> PeerMessage? {
        if var stream = snapStream {
            guard let snapshot = try stream.feed(&buffer) else {
                snapStream = stream
                return nil
            }
            snapStream = nil
            return .snap(zxid: stream.zxid, snapshot: snapshot)
        }
        guard let packet = try QuorumPacket.decode(from: &buffer, dataBytesMax: dataBytesMax) else { return nil }
        switch side {
        case .leader: return try fromLearner(packet)
        case .learner:
            if packet.type == QuorumPacketType.snap {
                snapStream = SnapStreamDecoder(zxid: packet.zxid, lengthMax: dataBytesMax)
                return try decode(from: &buffer)
            }
            return try fromLeader(packet)
        }
    }

    private mutating func fromLearner(_ packet: QuorumPacket) throws -> PeerMessage {
        var reader = JuteReader(ByteBuffer(bytes: packet.data ?? []), lengthMax: dataBytesMax)
        do {
            switch packet.type {
            case QuorumPacketType.followerInfo, QuorumPacketType.observerInfo:
                let info = try LearnerInfo(bytes: packet.data ?? [])
                // A repeat from the same learner changes nothing; another sid on this link is wrong.
                if let known = learnerInfo, known.serverId != info.serverId {
                    throw QuorumWireError.unexpected("FOLLOWERINFO from sid \(info.serverId) on the link of sid \(known.serverId)")
                }
                learnerInfo = info
                return .learnerInfo(acceptedEpoch: packet.zxid >> 32, observer: packet.type == QuorumPacketType.observerInfo)
            case QuorumPacketType.ackEpoch:
                let epoch = reader.buffer.readableBytes >= 4 ? Int64(try reader.readInt()) : -1
                return .ackEpoch(lastLoggedZxid: packet.zxid, currentEpoch: epoch)
            case QuorumPacketType.ack:
                return .ack(zxid: packet.zxid)
            case QuorumPacketType.ping:
                var touches: [SessionTouch] = []
                while reader.buffer.readableBytes > 0 {
                    touches.append(SessionTouch(sessionId: try reader.readLong(), timeoutMs: try reader.readInt()))
                }
                return .ping(zxid: packet.zxid, touches: touches)
            case QuorumPacketType.request:
                let sessionId = try reader.readLong()
                let cxid = try reader.readInt()
                let type = try reader.readInt()
                if type == OpCode.sync.rawValue {
                    // Answers go back in order (SYNC names no request): any number unique
                    // among this learner's outstanding syncs will do.
                    nextSyncNumber &+= 1
                    let path = (try? reader.readString()).flatMap { $0 } ?? "/"
                    return .syncRequest(requestId: nextSyncNumber, origin: SyncOrigin(sessionId: sessionId, cxid: cxid, path: path))
                }
                let body = reader.buffer.readBytes(length: reader.buffer.readableBytes) ?? []
                return .request(ForwardedRequest(sessionId: sessionId, cxid: cxid, type: type, body: body, authIds: packet.authInfo ?? []))
            case QuorumPacketType.revalidate:
                return .revalidate(sessionId: try reader.readLong(), timeoutMs: try reader.readInt())
            default:
                throw QuorumWireError.unexpected("packet type \(packet.type) from a learner")
            }
        } catch let error as JuteError {
            throw QuorumWireError.malformed("packet type \(packet.type): \(error)")
        }
    }

    private mutating func fromLeader(_ packet: QuorumPacket) throws -> PeerMessage {
        var reader = JuteReader(ByteBuffer(bytes: packet.data ?? []), lengthMax: dataBytesMax)
        do {
            switch packet.type {
            case QuorumPacketType.leaderInfo:
                return .leaderInfo(newEpoch: packet.zxid >> 32)
            case QuorumPacketType.diff:
                return .diff(zxid: packet.zxid)
            case QuorumPacketType.trunc:
                return .trunc(zxid: packet.zxid)
            case QuorumPacketType.proposal, QuorumPacketType.inform:
                let (txn, _) = try TxnCodec.decode(ByteBuffer(bytes: packet.data ?? []), lengthMax: dataBytesMax)
                guard txn.zxid == packet.zxid || packet.type == QuorumPacketType.inform else {
                    throw QuorumWireError.malformed("PROPOSAL 0x\(String(packet.zxid, radix: 16)) carries txn 0x\(String(txn.zxid, radix: 16))")
                }
                return packet.type == QuorumPacketType.proposal ? .proposal(txn) : .inform(txn)
            case QuorumPacketType.commit:
                return .commit(zxid: packet.zxid)
            case QuorumPacketType.newLeader:
                return .newLeader(zxid: packet.zxid)
            case QuorumPacketType.upToDate:
                return .upToDate
            case QuorumPacketType.ping:
                return .ping(zxid: packet.zxid)
            case QuorumPacketType.revalidate:
                return .revalidateReply(sessionId: try reader.readLong(), valid: try reader.readBool())
            case QuorumPacketType.sync:
                guard let requestId = syncsInFlight.popFirst() else { throw QuorumWireError.unexpected("SYNC with no sync in flight") }
                return .syncReply(requestId: requestId, zxid: max(0, packet.zxid))
            default:
                throw QuorumWireError.unexpected("packet type \(packet.type) from the leader")
            }
        } catch let error as JuteError {
            throw QuorumWireError.malformed("packet type \(packet.type): \(error)")
        } catch let error as TxnDecodeError {
            throw QuorumWireError.malformed("packet type \(packet.type): \(error)")
        }
    }
}
