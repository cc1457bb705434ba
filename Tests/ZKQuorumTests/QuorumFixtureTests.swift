import Foundation
import NIOCore
import XCTest
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence
import ZKQuorum

/// Bytes a live Apache ZooKeeper 3.8.0 ensemble sent to (and a fake observer, sid 100, sent
/// to) its election and quorum ports, captured by Tests/Interop/fixtures/make_quorum_fixtures.py.
/// index.json describes each file with the fields the generator decoded on its own.
private enum QuorumFixture {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/zk380-quorum") }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func buffer(_ name: String) throws -> ByteBuffer { ByteBuffer(bytes: try bytes(name)) }

    /// index.json, read on each use (a static stored `[String: Any]` is not Sendable).
    static var index: [String: Any] {
        let data = try! Data(contentsOf: directory.appendingPathComponent("index.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// The entry of index.json describing `name`.
    static func file(_ name: String) -> [String: Any] {
        (index["files"] as! [String: Any])[name] as! [String: Any]
    }
}

private func int64(_ value: Any?, _ what: String = "", file: StaticString = #filePath, line: UInt = #line) -> Int64 {
    guard let number = value as? NSNumber else {
        XCTFail("\(what): \(String(describing: value)) is not a number", file: file, line: line)
        return 0
    }
    return number.int64Value
}

private func hexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        out.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return out
}

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

private let dataBytesMax: Int32 = 1 << 20

final class QuorumFixtureTests: XCTestCase {
    private var configText: String { QuorumFixture.file("newleader.bin")["configText"] as! String }
    private var newEpoch: Int64 { int64(QuorumFixture.file("leaderinfo.bin")["newEpoch"]) }

    private func learnerCodec() -> QuorumLinkCodec {
        QuorumLinkCodec(side: .learner, serverId: 100, configText: configText, dataBytesMax: dataBytesMax)
    }

    private func leaderCodec() -> QuorumLinkCodec {
        QuorumLinkCodec(side: .leader, serverId: int64(QuorumFixture.index["leader"]), configText: configText, dataBytesMax: dataBytesMax)
    }

    /// Decodes `name` whole as one message from the leader; nothing may be left over.
    private func decodeFromLeader(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> PeerMessage? {
        var codec = learnerCodec()
        var buffer = try QuorumFixture.buffer(name)
        let message = try codec.decode(from: &buffer)
        XCTAssertEqual(buffer.readableBytes, 0, "\(name): bytes left after the message", file: file, line: line)
        return message
    }

    /// Feeds `name` one byte at a time: nil until the last byte, then the same message.
    private func decodeByteByByte(_ name: String, side: QuorumLinkCodec.Side) throws -> PeerMessage? {
        var codec = side == .learner ? learnerCodec() : leaderCodec()
        let bytes = try QuorumFixture.bytes(name)
        var buffer = ByteBuffer()
        for (offset, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            if let message = try codec.decode(from: &buffer) {
                XCTAssertEqual(offset, bytes.count - 1, "\(name): decoded after \(offset + 1) of \(bytes.count) bytes")
                XCTAssertEqual(buffer.readableBytes, 0)
                return message
            }
        }
        XCTFail("\(name): no message after all \(bytes.count) bytes")
        return nil
    }

    private func encoded(_ message: PeerMessage, with codec: QuorumLinkCodec) -> [UInt8] {
        var codec = codec
        var buffer = ByteBuffer()
        codec.encode(message, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    // MARK: - Election port

    func testHandshakeFromZooKeeper() throws {
        let entry = QuorumFixture.file("election-handshake-from-zk.bin")
        var buffer = try QuorumFixture.buffer("election-handshake-from-zk.bin")
        let handshake = try XCTUnwrap(try ElectionHandshake.decode(from: &buffer))
        XCTAssertEqual(buffer.readableBytes, 0)
        XCTAssertEqual(int64(entry["protocolVersion"]), ElectionHandshake.protocolVersion)
        XCTAssertEqual(handshake.serverId, int64(entry["sid"]))
        XCTAssertEqual(handshake.serverId, int64(QuorumFixture.index["leader"]))
        XCTAssertEqual(handshake.electionAddress, entry["address"] as? String)
        XCTAssertEqual(handshake.electionAddress, entry["expectedAddress"] as? String)

        var ours = ByteBuffer()
        handshake.encode(into: &ours)
        XCTAssertEqual(Array(ours.readableBytesView), try QuorumFixture.bytes("election-handshake-from-zk.bin"))
    }

    func testHandshakeWeSentEncodesTheSame() throws {
        let entry = QuorumFixture.file("election-handshake-sent.bin")
        var ours = ByteBuffer()
        ElectionHandshake(serverId: 100, electionAddress: entry["address"] as? String).encode(into: &ours)
        XCTAssertEqual(Array(ours.readableBytesView), try QuorumFixture.bytes("election-handshake-sent.bin"))
    }

    func testHandshakeIsIncompleteUntilItsLastByte() throws {
        let bytes = try QuorumFixture.bytes("election-handshake-from-zk.bin")
        for count in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<count])
            XCTAssertNil(try ElectionHandshake.decode(from: &buffer), "after \(count) bytes")
            XCTAssertEqual(buffer.readableBytes, count, "nothing is taken from an incomplete handshake")
        }
    }

    private func checkNotification(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let entry = QuorumFixture.file(name)
        var buffer = try QuorumFixture.buffer(name)
        let payload = try XCTUnwrap(try ElectionFrame.decode(from: &buffer), file: file, line: line)
        XCTAssertEqual(buffer.readableBytes, 0, file: file, line: line)
        let decoded = try NotificationCodec.decode(payload)
        let n = decoded.notification
        XCTAssertEqual(Int64(n.state.rawValue), int64(entry["state"]), "\(name) state", file: file, line: line)
        XCTAssertEqual(n.vote.leader, int64(entry["leader"]), "\(name) leader", file: file, line: line)
        XCTAssertEqual(n.vote.zxid, int64(entry["zxid"]), "\(name) zxid", file: file, line: line)
        XCTAssertEqual(n.round, int64(entry["electionEpoch"]), "\(name) electionEpoch", file: file, line: line)
        XCTAssertEqual(n.vote.peerEpoch, int64(entry["peerEpoch"]), "\(name) peerEpoch", file: file, line: line)
        XCTAssertEqual(Int64(decoded.version), int64(entry["version"]), "\(name) version", file: file, line: line)
        XCTAssertEqual(decoded.configText, entry["config"] as? String, "\(name) config", file: file, line: line)

        // Encoding the decoded fields with the same config text gives ZooKeeper's bytes.
        let ours = NotificationCodec.encode(n, configText: try XCTUnwrap(decoded.configText))
        XCTAssertEqual(hex(Array(ours.readableBytesView)), hex(Array(payload.readableBytesView)), "\(name) payload", file: file, line: line)
        var framed = ByteBuffer()
        ElectionFrame.encode(ours, into: &framed)
        XCTAssertEqual(Array(framed.readableBytesView), try QuorumFixture.bytes(name), "\(name) frame", file: file, line: line)
    }

    func testNotificationFromFollower() throws {
        try checkNotification("notification-from-follower.bin")
        let entry = QuorumFixture.file("notification-from-follower.bin")
        XCTAssertEqual(entry["state_name"] as? String, "FOLLOWING")
        XCTAssertEqual(int64(entry["leader"]), int64(QuorumFixture.index["leader"]))
        // A follower answers with the config it runs, the same text NEWLEADER carries.
        XCTAssertEqual(entry["config"] as? String, configText)
    }

    func testNotificationFromLeader() throws {
        try checkNotification("notification-from-leader.bin")
        let entry = QuorumFixture.file("notification-from-leader.bin")
        XCTAssertEqual(entry["state_name"] as? String, "LEADING")
        XCTAssertEqual(int64(entry["leader"]), int64(QuorumFixture.index["leader"]))
    }

    /// What we sent: a LOOKING vote with Long.MIN_VALUE fields, as a 3.8.0 observer votes.
    func testNotificationWeSent() throws {
        try checkNotification("notification-sent.bin")
        var buffer = try QuorumFixture.buffer("notification-sent.bin")
        let decoded = try NotificationCodec.decode(try XCTUnwrap(try ElectionFrame.decode(from: &buffer)))
        XCTAssertEqual(decoded.notification, Notification(state: .looking, vote: Vote(leader: .min, zxid: .min, peerEpoch: .min), round: 1))
    }

    func testElectionFrameIsIncompleteUntilItsLastByte() throws {
        let bytes = try QuorumFixture.bytes("notification-from-follower.bin")
        for count in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<count])
            XCTAssertNil(try ElectionFrame.decode(from: &buffer), "after \(count) bytes")
        }
    }

    // MARK: - Quorum port, from the leader

    func testLeaderInfo() throws {
        let entry = QuorumFixture.file("leaderinfo.bin")
        let message = try decodeFromLeader("leaderinfo.bin")
        XCTAssertEqual(message, .leaderInfo(newEpoch: int64(entry["newEpoch"])))
        XCTAssertEqual(int64(entry["zxid"]), int64(entry["newEpoch"]) << 32)
        XCTAssertEqual(int64(entry["protocolVersion"]), Int64(LearnerInfo.protocolVersion))
        XCTAssertEqual(try decodeByteByByte("leaderinfo.bin", side: .learner), message)
        XCTAssertEqual(encoded(try XCTUnwrap(message), with: leaderCodec()), try QuorumFixture.bytes("leaderinfo.bin"))
    }

    func testSnapAndStream() throws {
        let entry = QuorumFixture.file("snap-and-stream.bin")
        let message = try decodeFromLeader("snap-and-stream.bin")
        guard case .snap(let zxid, let snapshot) = try XCTUnwrap(message) else {
            return XCTFail("not a SNAP: \(String(describing: message))")
        }
        XCTAssertEqual(zxid, int64(entry["zxid"]))
        XCTAssertEqual(snapshot.tree.lastProcessedZxid, zxid)

        let expected = entry["snapshot"] as! [String: Any]
        var sessions: [SessionID: Int32] = [:]
        for session in expected["sessions"] as! [[String: Any]] {
            sessions[int64(session["id"])] = Int32(int64(session["timeout"]))
        }
        XCTAssertEqual(snapshot.sessions, sessions)
        let kazoo = QuorumFixture.index["kazoo"] as! [String: Any]
        XCTAssertEqual(snapshot.sessions[int64(kazoo["session_id"])], 30000)

        // Every node the stream carried, with its data, ACL and stored stat fields.
        var acls: [Int64: [ACL]] = [-1: ACL.openACLUnsafe]
        for item in expected["acl_map"] as! [[String: Any]] {
            acls[int64(item["ref"])] = (item["acl"] as! [[String: Any]]).map {
                ACL(perms: Int32(int64($0["perms"])), id: Id(scheme: $0["scheme"] as! String, id: $0["id"] as! String))
            }
        }
        let nodes = expected["nodes"] as! [[String: Any]]
        XCTAssertEqual(snapshot.tree.nodes.count, nodes.count)
        for item in nodes {
            let path = item["path"] as! String
            guard let node = snapshot.tree.node(path) else {
                XCTFail("\(path) missing from the decoded tree")
                continue
            }
            XCTAssertEqual(node.data.map(hex), item["data_hex"] as? String, "\(path) data")
            XCTAssertEqual(node.acl, acls[int64(item["aclRef"])], "\(path) acl")
            let stat = item["stat"] as! [String: Any]
            let fields: [(String, Int64)] = [
                ("czxid", node.czxid), ("mzxid", node.mzxid), ("ctime", node.ctime), ("mtime", node.mtime),
                ("version", Int64(node.version)), ("cversion", Int64(node.cversion)), ("aversion", Int64(node.aversion)),
                ("ephemeralOwner", node.ephemeralOwner), ("pzxid", node.pzxid),
            ]
            for (name, value) in fields {
                XCTAssertEqual(value, int64(stat[name]), "\(path) \(name)")
            }
        }

        // The znodes kazoo wrote, as kazoo saw them (client-visible Stat).
        let written = kazoo["nodes"] as! [String: [String: Any]]
        XCTAssertEqual(written.count, 3)
        for (path, seen) in written {
            let node = try XCTUnwrap(snapshot.tree.node(path), path)
            XCTAssertEqual(node.data.map { String(decoding: $0, as: UTF8.self) }, seen["data_utf8"] as? String, "\(path) data")
            let stat = node.stat
            let fields: [(String, Int64)] = [
                ("czxid", stat.czxid), ("mzxid", stat.mzxid), ("pzxid", stat.pzxid), ("ctime", stat.ctime),
                ("mtime", stat.mtime), ("version", Int64(stat.version)), ("cversion", Int64(stat.cversion)),
                ("aversion", Int64(stat.aversion)), ("ephemeralOwner", stat.ephemeralOwner),
                ("numChildren", Int64(stat.numChildren)), ("dataLength", Int64(stat.dataLength)),
            ]
            for (name, value) in fields {
                XCTAssertEqual(value, int64(seen[name]), "\(path) \(name)")
            }
        }
        XCTAssertEqual(snapshot.tree.node("/qf")?.data, Array("world".utf8))
        XCTAssertEqual(snapshot.tree.node("/qf")?.version, 1)
        XCTAssertEqual(snapshot.tree.node(kazoo["sequential_path"] as! String)?.data, Array("seq".utf8))
        XCTAssertEqual(snapshot.tree.node("/qf/eph")?.data, Array("ephemeral".utf8))
        XCTAssertEqual(snapshot.tree.node("/qf/eph")?.ephemeralOwner, int64(kazoo["session_id"]))
        XCTAssertEqual(snapshot.tree.ephemeralPaths(of: int64(kazoo["session_id"])), ["/qf/eph"])
        XCTAssertEqual(snapshot.tree.node("/qf")?.children.sorted(), ["eph", String((kazoo["sequential_path"] as! String).dropFirst(4))])
        XCTAssertEqual(snapshot.tree.node("/zookeeper/config")?.data, Array(configText.utf8))
    }

    func testSnapStreamFedByteByByte() throws {
        let whole = try XCTUnwrap(try decodeFromLeader("snap-and-stream.bin"))
        let pieces = try XCTUnwrap(try decodeByteByByte("snap-and-stream.bin", side: .learner))
        guard case .snap(let zxid1, let s1) = whole, case .snap(let zxid2, let s2) = pieces else {
            return XCTFail("not SNAPs")
        }
        XCTAssertEqual(zxid1, zxid2)
        XCTAssertEqual(s1.sessions, s2.sessions)
        XCTAssertEqual(Set(s1.tree.nodes.keys), Set(s2.tree.nodes.keys))
        for (path, node) in s1.tree.nodes {
            XCTAssertEqual(node.data, s2.tree.node(path)?.data, path)
            XCTAssertEqual(node.stat, s2.tree.node(path)?.stat, path)
        }
    }

    /// Our leader side writes the decoded snapshot back as a SNAP + stream that decodes to the
    /// same tree and sessions. (ZooKeeper writes children in Java HashSet order, so the bytes
    /// themselves need not match.)
    func testSnapRoundTripsThroughTheLeaderSide() throws {
        guard case .snap(let zxid, let snapshot) = try XCTUnwrap(try decodeFromLeader("snap-and-stream.bin")) else {
            return XCTFail("not a SNAP")
        }
        let ours = encoded(.snap(zxid: zxid, snapshot: snapshot), with: leaderCodec())
        var codec = learnerCodec()
        var buffer = ByteBuffer(bytes: ours)
        guard case .snap(let zxid2, let again) = try XCTUnwrap(try codec.decode(from: &buffer)) else {
            return XCTFail("re-encoded SNAP does not decode as one")
        }
        XCTAssertEqual(buffer.readableBytes, 0)
        XCTAssertEqual(zxid2, zxid)
        XCTAssertEqual(again, snapshot)
        XCTAssertEqual(Set(again.tree.nodes.keys), Set(snapshot.tree.nodes.keys))
        for (path, node) in snapshot.tree.nodes {
            XCTAssertEqual(again.tree.node(path)?.data, node.data, path)
            XCTAssertEqual(again.tree.node(path)?.acl, node.acl, path)
            XCTAssertEqual(again.tree.node(path)?.stat, node.stat, path)
        }
    }

    /// The messages after the stream decode from the same codec, in the order they came.
    func testSyncSequenceThroughOneCodec() throws {
        var codec = learnerCodec()
        var buffer = ByteBuffer()
        for name in ["leaderinfo.bin", "snap-and-stream.bin", "newleader.bin", "uptodate.bin", "inform.bin", "ping.bin"] {
            buffer.writeBytes(try QuorumFixture.bytes(name))
        }
        var kinds: [Int32] = []
        while let message = try codec.decode(from: &buffer) { kinds.append(message.packetType) }
        XCTAssertEqual(kinds, [17, 15, 10, 12, 8, 5])
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testNewLeader() throws {
        let entry = QuorumFixture.file("newleader.bin")
        let message = try decodeFromLeader("newleader.bin")
        XCTAssertEqual(message, .newLeader(zxid: int64(entry["zxid"])))
        XCTAssertEqual(int64(entry["zxid"]), newEpoch << 32)
        // The config text rides in the packet's data.
        var buffer = try QuorumFixture.buffer("newleader.bin")
        let packet = try XCTUnwrap(try QuorumPacket.decode(from: &buffer, dataBytesMax: dataBytesMax))
        XCTAssertEqual(packet.type, QuorumPacketType.newLeader)
        XCTAssertEqual(packet.data.map { String(decoding: $0, as: UTF8.self) }, configText)
        XCTAssertNil(packet.authInfo)
        XCTAssertTrue(configText.hasSuffix("\nversion=0"))
        XCTAssertTrue(configText.contains("server.100=127.0.0.1:"))
        XCTAssertEqual(configText, QuorumFixture.index["config_node_data"] as? String)
        XCTAssertEqual(try decodeByteByByte("newleader.bin", side: .learner), message)
        XCTAssertEqual(encoded(try XCTUnwrap(message), with: leaderCodec()), try QuorumFixture.bytes("newleader.bin"))
    }

    func testUpToDate() throws {
        let entry = QuorumFixture.file("uptodate.bin")
        XCTAssertEqual(int64(entry["zxid"]), -1)
        let message = try decodeFromLeader("uptodate.bin")
        XCTAssertEqual(message, .upToDate)
        XCTAssertEqual(encoded(.upToDate, with: leaderCodec()), try QuorumFixture.bytes("uptodate.bin"))
    }

    func testInform() throws {
        let entry = QuorumFixture.file("inform.bin")
        let message = try decodeFromLeader("inform.bin")
        guard case .inform(let txn) = try XCTUnwrap(message) else { return XCTFail("not an INFORM: \(String(describing: message))") }
        let expected = entry["txn"] as! [String: Any]
        let header = expected["header"] as! [String: Any]
        let record = expected["record"] as! [String: Any]
        XCTAssertEqual(txn.zxid, int64(entry["zxid"]))
        XCTAssertEqual(txn.header.clientId, int64(header["clientId"]))
        XCTAssertEqual(Int64(txn.header.cxid), int64(header["cxid"]))
        XCTAssertEqual(txn.header.time, int64(header["time"]))
        XCTAssertEqual(Int64(txn.header.type), int64(header["type"]))
        let write = (QuorumFixture.index["kazoo"] as! [String: Any])["inform_write"] as! [String: Any]
        XCTAssertEqual(txn.zxid, int64(write["czxid"]))
        XCTAssertEqual(txn.header.time, int64(write["ctime"]))
        XCTAssertEqual(txn.header.clientId, int64((QuorumFixture.index["kazoo"] as! [String: Any])["session_id"]))
        guard case .create(let path, let data, let acl, let ephemeral, let parentCVersion) = txn.body else {
            return XCTFail("not a create: \(txn.body)")
        }
        XCTAssertEqual(path, record["path"] as? String)
        XCTAssertEqual(path, write["path"] as? String)
        XCTAssertEqual(data.map(hex), record["data_hex"] as? String)
        XCTAssertEqual(data, Array((write["data_utf8"] as! String).utf8))
        XCTAssertEqual(acl, ACL.openACLUnsafe)
        XCTAssertEqual(ephemeral, record["ephemeral"] as? Bool)
        XCTAssertEqual(Int64(parentCVersion), int64(record["parentCVersion"]))
        XCTAssertEqual(try decodeByteByByte("inform.bin", side: .learner), message)

        // The packet's data is the log-entry body: our TxnCodec writes the same bytes given the digest.
        var buffer = try QuorumFixture.buffer("inform.bin")
        let packet = try XCTUnwrap(try QuorumPacket.decode(from: &buffer, dataBytesMax: dataBytesMax))
        let (_, digest) = try TxnCodec.decode(ByteBuffer(bytes: try XCTUnwrap(packet.data)))
        let expectedDigest = expected["digest"] as! [String: Any]
        XCTAssertEqual(digest, TxnDigest(version: Int32(int64(expectedDigest["version"])), treeDigest: int64(expectedDigest["value"])))
        XCTAssertEqual(Array(TxnCodec.encode(txn, digest: digest).readableBytesView), packet.data)
    }

    /// The INFORM'd create applied to the SNAP's tree gives the tree digest the leader put in it.
    func testInformDigestMatchesTheSnapshotPlusTheWrite() throws {
        guard case .snap(_, let snapshot) = try XCTUnwrap(try decodeFromLeader("snap-and-stream.bin")),
            case .inform(let txn) = try XCTUnwrap(try decodeFromLeader("inform.bin"))
        else { return XCTFail("fixtures are not SNAP and INFORM") }
        var buffer = try QuorumFixture.buffer("inform.bin")
        let packet = try XCTUnwrap(try QuorumPacket.decode(from: &buffer, dataBytesMax: dataBytesMax))
        let digest = try XCTUnwrap(try TxnCodec.decode(ByteBuffer(bytes: packet.data ?? [])).1)
        var tree = snapshot.tree
        tree.replay(txn)
        XCTAssertEqual(tree.node(String("/qf/after"))?.data, Array("informed".utf8))
        XCTAssertEqual(String(tree.digest, radix: 16), String(UInt64(bitPattern: digest.treeDigest), radix: 16))
    }

    func testPing() throws {
        let entry = QuorumFixture.file("ping.bin")
        let message = try decodeFromLeader("ping.bin")
        XCTAssertEqual(message, .ping(zxid: int64(entry["zxid"])))
        // The leader's PING carries its last proposed zxid: the INFORM'd write.
        XCTAssertEqual(int64(entry["zxid"]), int64(QuorumFixture.file("inform.bin")["zxid"]))
        XCTAssertEqual(encoded(try XCTUnwrap(message), with: leaderCodec()), try QuorumFixture.bytes("ping.bin"))
    }

    // MARK: - Quorum port, what the fake observer sent

    func testLearnerSideEncodingMatchesWhatWasSent() throws {
        let codec = learnerCodec()
        XCTAssertEqual(encoded(.learnerInfo(acceptedEpoch: 0, observer: true), with: codec), try QuorumFixture.bytes("observerinfo-sent.bin"))
        XCTAssertEqual(encoded(.ackEpoch(lastLoggedZxid: 0, currentEpoch: 0), with: codec), try QuorumFixture.bytes("ackepoch-sent.bin"))
        let newLeaderZxid = int64(QuorumFixture.file("newleader.bin")["zxid"])
        XCTAssertEqual(encoded(.ack(zxid: newLeaderZxid), with: codec), try QuorumFixture.bytes("ack-newleader-sent.bin"))
        XCTAssertEqual(encoded(.ack(zxid: newEpoch << 32), with: codec), try QuorumFixture.bytes("ack-uptodate-sent.bin"))
        let pingZxid = int64(QuorumFixture.file("ping.bin")["zxid"])
        XCTAssertEqual(encoded(.ping(zxid: pingZxid, touches: []), with: codec), try QuorumFixture.bytes("ping-reply-sent.bin"))
    }

    /// The leader accepted these, so the leader side of our codec must read them back.
    func testLeaderSideDecodesWhatWasSent() throws {
        var codec = leaderCodec()
        var buffer = ByteBuffer()
        for name in ["observerinfo-sent.bin", "ackepoch-sent.bin", "ack-newleader-sent.bin", "ack-uptodate-sent.bin", "ping-reply-sent.bin"] {
            buffer.writeBytes(try QuorumFixture.bytes(name))
        }
        var messages: [PeerMessage] = []
        while let message = try codec.decode(from: &buffer) { messages.append(message) }
        XCTAssertEqual(buffer.readableBytes, 0)
        let pingZxid = int64(QuorumFixture.file("ping.bin")["zxid"])
        XCTAssertEqual(messages, [
            .learnerInfo(acceptedEpoch: 0, observer: true),
            .ackEpoch(lastLoggedZxid: 0, currentEpoch: 0),
            .ack(zxid: int64(QuorumFixture.file("newleader.bin")["zxid"])),
            .ack(zxid: newEpoch << 32),
            .ping(zxid: pingZxid, touches: []),
        ])
        XCTAssertEqual(codec.learnerInfo, LearnerInfo(serverId: 100, protocolVersion: 0x10000, configVersion: 0))
    }

    func testIndexDescribesEveryFile() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: QuorumFixture.directory.path).filter { $0.hasSuffix(".bin") }
        let described = (QuorumFixture.index["files"] as! [String: Any])
        XCTAssertEqual(Set(names), Set(described.keys))
        for name in names {
            let entry = QuorumFixture.file(name)
            XCTAssertEqual(hexBytes(entry["hex"] as! String), try QuorumFixture.bytes(name), name)
        }
    }
}
