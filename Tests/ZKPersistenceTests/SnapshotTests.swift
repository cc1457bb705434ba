import Foundation
import NIOCore
import Testing
import ZKDataTree
import ZKModel
@testable import ZKPersistence

@Suite struct SnapshotTests {
    /// ZooKeeper's second snapshot holds the whole workload: it must decode to exactly the
    /// tree the live server showed, with the sessions that were alive.
    @Test func zooKeeperSnapshotDecodesToTheLiveTree() throws {
        let contents = try SnapshotFormat.decode(try ZooKeeperFixture.bytes("snapshot.1e"), zxid: 0x1e)
        #expect(differences(contents.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
        #expect(Set(contents.sessions.keys) == (try ZooKeeperFixture.liveSessions))
        #expect(contents.sessions.values.allSatisfy { $0 == 30000 })
        #expect(contents.tree.lastProcessedZxid == 0x1e)
        #expect(contents.tree.containers.contains("/cont"))
        #expect(contents.tree.ttls.contains("/ttl"))
        #expect(contents.tree.ephemeralPaths(of: 0x0100_003a_808e_0000) == ["/app/eph_a"])
    }

    /// A fresh tree is written exactly as ZooKeeper 3.8.0 writes it.
    @Test func freshTreeMatchesZooKeeperByteForByte() throws {
        let zooKeeper = try ZooKeeperFixture.bytes("snapshot.0")
        let ours = Array(SnapshotFormat.encode(tree: DataTree(), sessions: [:]).readableBytesView)
        #expect(ours == zooKeeper)
    }

    /// ZooKeeper's digest of an empty tree (root and /zookeeper), as in its first log entry.
    @Test func emptyTreeDigest() {
        #expect(DataTree().digest == 0x51c6_d660)
        #expect(DataTree().recomputedDigest() == 0x51c6_d660)
    }

    @Test func snapshotDigestRecordMatchesOurDigest() throws {
        let contents = try SnapshotFormat.decode(try ZooKeeperFixture.bytes("snapshot.1e"), zxid: 0x1e)
        #expect(contents.digest?.zxid == 0x1e)
        #expect(contents.digest?.value == contents.tree.digest)
        #expect(contents.tree.digest == contents.tree.recomputedDigest())
    }

    @Test func encodeDecodeEncodeIsStable() throws {
        let original = try SnapshotFormat.decode(try ZooKeeperFixture.bytes("snapshot.1e"), zxid: 0x1e)
        let first = Array(SnapshotFormat.encode(tree: original.tree, sessions: original.sessions).readableBytesView)
        let decoded = try SnapshotFormat.decode(first, zxid: 0x1e)
        #expect(differences(decoded.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
        #expect(decoded.sessions == original.sessions)
        let second = Array(SnapshotFormat.encode(tree: decoded.tree, sessions: decoded.sessions).readableBytesView)
        #expect(first == second)
    }

    @Test func aFlippedByteAnywhereIsDetected() throws {
        let bytes = Array(SnapshotFormat.encode(tree: DataTree(), sessions: [7: 4000]).readableBytesView)
        for offset in 0..<(bytes.count - 13) {
            var damaged = bytes
            damaged[offset] ^= 0x01
            #expect(throws: (any Error).self, "offset \(offset)") { _ = try SnapshotFormat.decode(damaged, zxid: 0) }
        }
    }

    @Test func truncatedSnapshotIsNotValid() throws {
        let bytes = try ZooKeeperFixture.bytes("snapshot.1e")
        for cut in stride(from: 0, to: bytes.count - 1, by: 7) {
            #expect(throws: (any Error).self) { _ = try SnapshotFormat.decode(Array(bytes[0..<cut]), zxid: 0x1e) }
        }
    }
}
