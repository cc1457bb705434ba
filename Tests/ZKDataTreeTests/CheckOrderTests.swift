import Testing
import ZKDataTree
import ZKModel

/// The per-operation checks and the order in which they run, which decides the error a client
/// sees when several apply (reference §2.4, §7.1, §7.7).
@Suite struct CreateCheckOrderTests {
    @Test(arguments: [7, 8, -1, 100] as [Int32])
    func create_unknownFlags_badArguments(flags: Int32) {
        var h = TreeHarness()
        #expect(h.create("/a", flags: flags).error == .badArguments)
        // Flags are checked first: a missing parent or an empty ACL does not change the answer.
        #expect(h.create("/missing/a", acl: [], flags: flags).error == .badArguments)
    }

    @Test(arguments: [5, 6] as [Int32])
    func create_ttlModeWithExtendedTypesOff_unimplemented(flags: Int32) {
        var h = TreeHarness()
        h.extendedTypes = false
        #expect(h.create("/t", flags: flags, opCode: .createTTL, ttl: 1000).error == .unimplemented)
        // Before the TTL value, the path and the ACL.
        #expect(h.create("abc", acl: [], flags: flags, opCode: .createTTL, ttl: 0).error == .unimplemented)
        #expect(h.tree.node("/t") == nil)
    }

    @Test(arguments: [0, -1, -5, 0x0000_0100_0000_0000, Int64.max] as [Int64])
    func create_ttlOutOfRange_badArguments(ttl: Int64) {
        var h = TreeHarness()
        #expect(h.create("/t", flags: 5, opCode: .createTTL, ttl: ttl).error == .badArguments)
        // The TTL check comes before path and ACL checks.
        #expect(h.create("abc", acl: [], flags: 5, opCode: .createTTL, ttl: ttl).error == .badArguments)
    }

    @Test func create_ttlAtMaximum_isAccepted() {
        var h = TreeHarness()
        #expect(h.create("/t", flags: 5, opCode: .createTTL, ttl: EphemeralOwner.ttlMax).error == .ok)
        #expect(h.tree.node("/t")?.ephemeralOwner == EphemeralOwner.ttl(EphemeralOwner.ttlMax))
    }

    @Test func create_nonTTLModeCarryingTTL_badArguments() {
        var h = TreeHarness()
        #expect(h.create("/t", flags: 0, opCode: .createTTL, ttl: 1000).error == .badArguments)
        #expect(h.create("/t", flags: 0, opCode: .createTTL, ttl: 0).error == .badArguments)
    }

    @Test(arguments: [5, 6] as [Int32])
    func create_ttlFlagsWithPlainCreateOpcode_badArguments(flags: Int32) {
        // Plain creates pass ttl −1, which is not a valid TTL (reference §7.1: flags 5/6 with opcode 1 → −8).
        var h = TreeHarness()
        #expect(h.create("/t", flags: flags, opCode: .create).error == .badArguments)
        #expect(h.create("/t", flags: flags, opCode: .create2).error == .badArguments)
    }

    @Test func create_pathWithoutSlash_badArgumentsBeforeACLAndParent() {
        var h = TreeHarness()
        #expect(h.create("abc").error == .badArguments)
        #expect(h.create("abc", acl: []).error == .badArguments)
        #expect(h.create("").error == .badArguments)
    }

    @Test func create_pathWithNul_badArgumentsBeforeACL() {
        var h = TreeHarness()
        #expect(h.create("/a\u{0}b").error == .badArguments)
        #expect(h.create("/missing\u{0}/b", acl: []).error == .badArguments)
    }

    @Test func create_invalidACL_beforeParentCheck() {
        var h = TreeHarness()
        #expect(h.create("/missing/x", acl: []).error == .invalidACL)
        #expect(h.create("/missing/x", acl: nil).error == .invalidACL)
    }

    @Test func create_doubleSlash_noNodeBecauseParentIsCheckedBeforeFullPath() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.create("/a//b").error == .noNode)
        #expect(h.create("/missing/.").error == .noNode)
    }

    @Test func create_parentWithoutCreatePermission_noAuthBeforeNodeExists() {
        var h = TreeHarness()
        h.create("/p", acl: acl([.read, .write, .delete, .admin]))
        h.skipACL = true
        h.create("/p/existing")
        h.skipACL = false
        #expect(h.create("/p/new").error == .noAuth)
        #expect(h.create("/p/existing").error == .noAuth)
        #expect(h.create("/p/.").error == .noAuth)
    }

    @Test func create_invalidFullPath_badArgumentsAfterParentChecks() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.create("/a/.").error == .badArguments)
        #expect(h.create("/a/..").error == .badArguments)
        #expect(h.create("/a/").error == .badArguments)
        #expect(h.create("/a/\u{1}").error == .badArguments)
        #expect(h.create("/a/😀").error == .badArguments)
    }

    @Test func create_existingNode_nodeExistsBeforeEphemeralParentCheck() {
        var h = TreeHarness()
        h.create("/e", flags: 1)
        h.replay(.create(path: "/e/child", data: nil, acl: open, ephemeral: false, parentCVersion: -1))
        #expect(h.create("/e/child").error == .nodeExists)
        #expect(h.create("/e/other").error == .noChildrenForEphemerals)
        #expect(h.create("/").error == .nodeExists)
        #expect(h.create("/zookeeper").error == .nodeExists)
    }

    @Test(arguments: [0, 1, 2, 3] as [Int32])
    func create_underEphemeralParent_noChildrenForEphemerals(flags: Int32) {
        var h = TreeHarness()
        h.create("/e", flags: 1)
        #expect(h.create("/e/c", flags: flags).error == .noChildrenForEphemerals)
        #expect(h.create("/e/c", opCode: .createContainer).error == .noChildrenForEphemerals)
    }

    @Test func create_underEphemeralSequentialParent_noChildrenForEphemerals() {
        var h = TreeHarness()
        let parent = h.createdPath("/e-", flags: 3)
        #expect(parent == "/e-0000000000")
        #expect(h.create(parent! + "/c").error == .noChildrenForEphemerals)
    }

    @Test func create_underContainerOrTTLParent_isAllowed() {
        var h = TreeHarness()
        h.create("/c", flags: 4, opCode: .createContainer)
        h.create("/t", flags: 5, opCode: .createTTL, ttl: 1000)
        #expect(h.create("/c/x").error == .ok)
        #expect(h.create("/t/x").error == .ok)
    }

    @Test func create_sequentialPathEndingInSlash_childNameIsOnlyDigits() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.createdPath("/a/", flags: 2) == "/a/0000000000")
        #expect(h.createdPath("/", flags: 2) == "/0000000001")
    }

    @Test func create_underZookeeper_isAllowed() {
        var h = TreeHarness()
        #expect(h.create("/zookeeper/mine").error == .ok)
    }

    @Test func create_underPendingDeletedParent_noNode() {
        var h = TreeHarness()
        h.create("/p")
        _ = h.prepare(.delete(path: "/p", version: -1))
        #expect(h.prepare(createOp("/p/c")).body.errorCode == .noNode)
    }
}

@Suite struct DeleteCheckOrderTests {
    @Test(arguments: ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"])
    func delete_reservedPath_badArguments(path: String) {
        var h = TreeHarness()
        h.ids = [superId]
        #expect(h.run(.delete(path: path, version: -1)).error == .badArguments)
        #expect(h.tree.node(path) != nil)
    }

    @Test func delete_pathWithoutSlashOrWithNul_badArguments() {
        var h = TreeHarness()
        #expect(h.run(.delete(path: "abc", version: -1)).error == .badArguments)
        #expect(h.run(.delete(path: "/a\u{0}", version: -1)).error == .badArguments)
    }

    @Test func delete_missingParentOrNode_noNode() {
        var h = TreeHarness()
        #expect(h.run(.delete(path: "/missing/x", version: -1)).error == .noNode)
        #expect(h.run(.delete(path: "/missing", version: -1)).error == .noNode)
    }

    @Test func delete_parentWithoutDeletePermission_noAuthEvenForMissingNode() {
        var h = TreeHarness()
        h.create("/p", acl: acl([.read, .write, .create, .admin]))
        h.create("/p/c")
        #expect(h.run(.delete(path: "/p/missing", version: -1)).error == .noAuth)
        #expect(h.run(.delete(path: "/p/c", version: -1)).error == .noAuth)
        #expect(h.tree.node("/p/c") != nil)
    }

    @Test func delete_checksDeleteOnParentNotOnNode() {
        var h = TreeHarness()
        h.create("/p")
        h.create("/p/c", acl: acl(.read))
        #expect(h.run(.delete(path: "/p/c", version: -1)).error == .ok)
        #expect(h.tree.node("/p/c") == nil)
    }

    @Test func delete_badVersionOnNonEmptyNode_badVersionBeforeNotEmpty() {
        var h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        #expect(h.run(.delete(path: "/a", version: 5)).error == .badVersion)
        #expect(h.run(.delete(path: "/a", version: 0)).error == .notEmpty)
        #expect(h.run(.delete(path: "/a", version: -1)).error == .notEmpty)
    }

    @Test func delete_matchingOrAnyVersion_deletes() {
        var h = TreeHarness()
        h.create("/a")
        h.run(.setData(path: "/a", data: [1], version: -1))
        #expect(h.run(.delete(path: "/a", version: 0)).error == .badVersion)
        #expect(h.run(.delete(path: "/a", version: 1)).error == .ok)
        h.create("/b")
        #expect(h.run(.delete(path: "/b", version: -1)).error == .ok)
    }
}

@Suite struct SetDataCheckOrderTests {
    @Test(arguments: ["/a/", "a", "/a//b", "/.", "/missing/"])
    func setData_invalidPath_badArgumentsBeforeExistence(path: String) {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.run(.setData(path: path, data: [], version: -1)).error == .badArguments)
    }

    @Test func setData_missingNode_noNode() {
        var h = TreeHarness()
        #expect(h.run(.setData(path: "/missing", data: [], version: -1)).error == .noNode)
    }

    @Test func setData_withoutWritePermission_noAuthBeforeBadVersion() {
        var h = TreeHarness()
        h.create("/a", acl: acl(.read))
        #expect(h.run(.setData(path: "/a", data: [1], version: 9)).error == .noAuth)
        #expect(h.run(.setData(path: "/a", data: [1], version: -1)).error == .noAuth)
        #expect(h.run(.setData(path: "/zookeeper/config", data: [1], version: -1)).error == .noAuth)
    }

    @Test func setData_version_mustMatchUnlessMinusOne() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.run(.setData(path: "/a", data: [1], version: 1)).error == .badVersion)
        let outcome = h.run(.setData(path: "/a", data: [1], version: 0))
        #expect(outcome == .updated(h.stat("/a")!))
        #expect(h.stat("/a")?.version == 1)
        #expect(h.run(.setData(path: "/a", data: [2], version: -1)).error == .ok)
        #expect(h.stat("/a")?.version == 2)
    }

    @Test func setData_versionAtIntMax_wrapsToIntMin() {
        var h = TreeHarness()
        h.create("/a")
        h.replay(.setData(path: "/a", data: [], version: Int32.max))
        #expect(h.run(.setData(path: "/a", data: [], version: Int32.max)).error == .ok)
        #expect(h.stat("/a")?.version == Int32.min)
    }
}

@Suite struct SetACLCheckOrderTests {
    @Test func setACL_invalidPath_badArguments() {
        var h = TreeHarness()
        #expect(h.run(.setACL(path: "/a/", acl: open, version: -1)).error == .badArguments)
        #expect(h.run(.setACL(path: "/a/", acl: [], version: -1)).error == .badArguments)
    }

    @Test func setACL_invalidACL_beforeExistence() {
        var h = TreeHarness()
        #expect(h.run(.setACL(path: "/missing", acl: [], version: -1)).error == .invalidACL)
        #expect(h.run(.setACL(path: "/missing", acl: open, version: -1)).error == .noNode)
    }

    @Test func setACL_withoutAdmin_noAuthBeforeBadVersion() {
        var h = TreeHarness()
        h.create("/a", acl: acl([.read, .write, .create, .delete]))
        #expect(h.run(.setACL(path: "/a", acl: open, version: 7)).error == .noAuth)
    }

    @Test func setACL_aversion_mustMatchAndIncrements() {
        var h = TreeHarness()
        h.create("/a")
        #expect(h.run(.setACL(path: "/a", acl: readOnlyACL, version: 1)).error == .badVersion)
        #expect(h.run(.setACL(path: "/a", acl: readOnlyACL, version: 0)).error == .ok)
        #expect(h.stat("/a")?.aversion == 1)
        #expect(h.tree.node("/a")?.acl == readOnlyACL)
        #expect(h.stat("/a")?.version == 0)
    }

    @Test func setACL_zookeeperConfig_needsSuperAndStartsAtAversionMinusOne() {
        var h = TreeHarness()
        #expect(h.stat("/zookeeper/config")?.aversion == -1)
        #expect(h.run(.setACL(path: "/zookeeper/config", acl: open, version: -1)).error == .noAuth)
        #expect(h.run(.setACL(path: "/zookeeper/config", acl: open, version: -1), ids: [superId]).error == .ok)
        #expect(h.stat("/zookeeper/config")?.aversion == 0)
    }
}

@Suite struct CheckOpTests {
    @Test func check_inMulti_followsPathExistsReadVersionOrder() {
        var h = TreeHarness()
        h.create("/a", acl: acl(.write))
        h.create("/b")
        #expect(h.run(.multi([.check(path: "/b/", version: 0)])) == .multi([.failed(.badArguments)]))
        #expect(h.run(.multi([.check(path: "/missing", version: 0)])) == .multi([.failed(.noNode)]))
        #expect(h.run(.multi([.check(path: "/a", version: 3)])) == .multi([.failed(.noAuth)]))
        #expect(h.run(.multi([.check(path: "/b", version: 3)])) == .multi([.failed(.badVersion)]))
        #expect(h.run(.multi([.check(path: "/b", version: 0)])) == .multi([.checked]))
        #expect(h.run(.multi([.check(path: "/b", version: -1)])) == .multi([.checked]))
        // A check changes nothing.
        #expect(h.stat("/b")?.version == 0)
    }
}
