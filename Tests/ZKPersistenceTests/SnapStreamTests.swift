import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKWire
@testable import ZKPersistence

/// A SNAP is streamed a slice at a time (`SnapshotFormat.BodyWriter`): whatever the slice
/// size, the bytes are the body ZooKeeper's format gives.
@Suite struct SnapStreamTests {
    @Test func slicesMakeTheSameBodyAsOneWrite() throws {
        let contents = try SnapshotFormat.decode(try ZooKeeperFixture.bytes("snapshot.1e"), zxid: 0x1e)
        var whole = JuteWriter(ByteBuffer())
        SnapshotFormat.writeBody(tree: contents.tree, sessions: contents.sessions, into: &whole)
        for sliceBytes in [1, 7, 100, 4096] {
            var body = SnapshotFormat.BodyWriter(tree: contents.tree, sessions: contents.sessions)
            var sliced = JuteWriter(ByteBuffer())
            var slices = 0
            while !body.isFinished {
                body.write(into: &sliced, bytesMax: sliceBytes)
                slices += 1
            }
            #expect(sliced.buffer == whole.buffer, "slices of \(sliceBytes) bytes")
            if sliceBytes == 1 { #expect(slices > contents.tree.nodeCount, "one record per slice") }
        }
    }

    /// The stream walks its own copy: changes to the tree after it started do not show.
    @Test func theStreamIsOfTheTreeAsItWasWhenItStarted() throws {
        var tree = try SnapshotFormat.decode(try ZooKeeperFixture.bytes("snapshot.1e"), zxid: 0x1e).tree
        var before = JuteWriter(ByteBuffer())
        SnapshotFormat.writeBody(tree: tree, sessions: [:], into: &before)
        var body = SnapshotFormat.BodyWriter(tree: tree, sessions: [:])
        var streamed = JuteWriter(ByteBuffer())
        body.write(into: &streamed, bytesMax: 10)
        var triggers: [WatchTrigger] = []
        let header = TxnHeader(clientId: 0, cxid: 0, zxid: 0x1f, time: 0, type: OpCode.create.rawValue)
        _ = tree.apply(Txn(header: header, body: .create(path: "/late", data: [1], acl: ACL.openACLUnsafe, ephemeral: false, parentCVersion: -1)), triggers: &triggers)
        #expect(tree.node("/late") != nil)
        while !body.isFinished { body.write(into: &streamed, bytesMax: 10) }
        #expect(streamed.buffer == before.buffer)
    }
}
