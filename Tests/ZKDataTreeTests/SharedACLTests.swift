import Testing
import ZKDataTree
import ZKModel

/// Nodes given equal ACL lists share one stored array, as ZooKeeper's ACL cache shares one
/// list per distinct ACL; before, every node kept the copy its request decoded.
@Suite struct SharedACLTests {
    static func storage(_ acl: [ACL]) -> UnsafeRawPointer? { acl.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } }

    /// A fresh array each time, as decoding a request makes one.
    static func aliceACL() -> [ACL] { [ACL(perms: Permissions.all.rawValue, id: alice)] + [] }

    @Test func equalACLsShareOneArrayAcrossCreatesAndSetACL() {
        var harness = TreeHarness()
        harness.ids = [alice]
        harness.create("/a", acl: Self.aliceACL())
        harness.create("/b", acl: Self.aliceACL())
        harness.create("/c", acl: open)
        let a = harness.tree.node("/a")!, b = harness.tree.node("/b")!, c = harness.tree.node("/c")!
        #expect(a.acl == b.acl)
        #expect(Self.storage(a.acl) == Self.storage(b.acl))
        #expect(Self.storage(c.acl) == Self.storage(ACL.openACLUnsafe))
        harness.run(.setACL(path: "/c", acl: Self.aliceACL(), version: -1))
        #expect(Self.storage(harness.tree.node("/c")!.acl) == Self.storage(a.acl))
    }
}
