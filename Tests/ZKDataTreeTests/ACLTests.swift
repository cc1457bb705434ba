import Testing
import ZKDataTree
import ZKModel

/// ACL fix-up on create/setACL and permission checks (reference §2.4, §2.9, §7.10).
@Suite struct ACLFixupTests {
    @Test func fixup_nullOrEmpty_invalidACL() {
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup(nil, ids: [alice]) }
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup([], ids: [alice]) }
    }

    @Test func fixup_authSchemeWithoutDigestIdentity_invalidACL() {
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup(ACL.creatorAllACL, ids: []) }
        // ip ids are not "authenticated" for the auth scheme, nor is super.
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup(ACL.creatorAllACL, ids: [ipLocal]) }
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup(ACL.creatorAllACL, ids: [ipLocal, superId]) }
    }

    @Test func fixup_authScheme_expandsToEveryDigestIdentityWithSamePerms() throws {
        let fixed = try ACLRules.fixup([ACL(perms: 5, id: Id(scheme: "auth", id: ""))], ids: [ipLocal, alice, bob])
        #expect(fixed == [ACL(perms: 5, id: alice), ACL(perms: 5, id: bob)])
    }

    @Test func fixup_duplicates_areRemovedKeepingOrder() throws {
        let digest = ACL(perms: 31, id: alice)
        let fixed = try ACLRules.fixup(open + [digest] + open + [digest], ids: [])
        #expect(fixed == open + [digest])
    }

    @Test func fixup_sameIdDifferentPerms_areBothKept() throws {
        let fixed = try ACLRules.fixup([ACL(perms: 1, id: .anyone), ACL(perms: 2, id: .anyone)], ids: [])
        #expect(fixed.count == 2)
    }

    @Test(arguments: [
        Id(scheme: "world", id: "someone"), Id(scheme: "foo", id: "bar"), Id(scheme: "digest", id: "nocolon"),
        Id(scheme: "digest", id: "a:b:c"), Id(scheme: "ip", id: "300.1.1.1"), Id(scheme: "ip", id: "10.0.0.1/33"),
        Id(scheme: "ip", id: "not-an-address"), Id(scheme: "super", id: ""),
    ])
    func fixup_unknownSchemeOrInvalidId_invalidACL(id: Id) {
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup([ACL(perms: 31, id: id)], ids: [alice]) }
        // One bad entry spoils the list.
        #expect(throws: ErrorCode.invalidACL) { try ACLRules.fixup(open + [ACL(perms: 31, id: id)], ids: [alice]) }
    }

    @Test(arguments: ["127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "fe80::/10", "2001:db8::1/128"])
    func fixup_validIPExpression_isKept(expression: String) throws {
        let entry = ACL(perms: 1, id: Id(scheme: "ip", id: expression))
        #expect(try ACLRules.fixup([entry], ids: []) == [entry])
    }

    @Test func create_withAuthACL_storesExpandedIdentities() {
        var h = TreeHarness()
        h.ids = [ipLocal, alice]
        #expect(h.create("/mine", acl: ACL.creatorAllACL).error == .ok)
        #expect(h.tree.node("/mine")?.acl == [ACL(perms: 31, id: alice)])
        h.ids = [ipLocal]
        #expect(h.create("/theirs", acl: ACL.creatorAllACL).error == .invalidACL)
    }

    @Test func setACL_duplicates_storedOnce() {
        var h = TreeHarness()
        h.create("/a")
        h.run(.setACL(path: "/a", acl: readOnlyACL + readOnlyACL, version: -1))
        #expect(h.tree.node("/a")?.acl == readOnlyACL)
    }
}

@Suite struct ACLCheckTests {
    @Test func allows_emptyACL_grantsEverything() {
        #expect(ACLRules.allows([], .admin, ids: []))
    }

    @Test func allows_super_grantsEverything() {
        #expect(ACLRules.allows(acl(.read, alice), .admin, ids: [superId]))
        #expect(!ACLRules.allows(acl(.read, alice), .admin, ids: [ipLocal]))
    }

    @Test func allows_skipACL_grantsEverything() {
        #expect(ACLRules.allows(acl(.read, alice), .delete, ids: [], skipACL: true))
    }

    @Test func allows_worldAnyone_matchesEveryoneForItsPermsOnly() {
        #expect(ACLRules.allows(acl([.read, .write]), .write, ids: []))
        #expect(!ACLRules.allows(acl([.read, .write]), .create, ids: [alice]))
    }

    @Test func allows_digest_isExactIdMatchOfSameScheme() {
        let node = acl(.all, alice)
        #expect(ACLRules.allows(node, .read, ids: [ipLocal, alice]))
        #expect(!ACLRules.allows(node, .read, ids: [bob]))
        #expect(!ACLRules.allows(node, .read, ids: [Id(scheme: "ip", id: alice.id)]))
    }

    @Test func allows_ip_matchesByMask() {
        #expect(ACLRules.allows(acl(.read, Id(scheme: "ip", id: "10.0.0.0/8")), .read, ids: [Id(scheme: "ip", id: "10.1.2.3")]))
        #expect(!ACLRules.allows(acl(.read, Id(scheme: "ip", id: "10.0.0.0/8")), .read, ids: [Id(scheme: "ip", id: "11.1.2.3")]))
        #expect(ACLRules.allows(acl(.read, Id(scheme: "ip", id: "127.0.0.1")), .read, ids: [ipLocal]))
        #expect(!ACLRules.allows(acl(.read, Id(scheme: "ip", id: "127.0.0.2")), .read, ids: [ipLocal]))
        #expect(ACLRules.allows(acl(.read, Id(scheme: "ip", id: "192.168.1.0/23")), .read, ids: [Id(scheme: "ip", id: "192.168.0.77")]))
        #expect(ACLRules.allows(acl(.read, Id(scheme: "ip", id: "::1")), .read, ids: [Id(scheme: "ip", id: "0:0:0:0:0:0:0:1")]))
        // IPv4 never matches IPv6.
        #expect(!ACLRules.allows(acl(.read, Id(scheme: "ip", id: "0.0.0.0/0")), .read, ids: [Id(scheme: "ip", id: "::1")]))
    }

    @Test func allows_anyMatchingEntryWithTheBit_grants() {
        let node = [ACL(perms: Permissions.read.rawValue, id: alice), ACL(perms: Permissions.write.rawValue, id: bob)]
        #expect(ACLRules.allows(node, .write, ids: [alice, bob]))
        #expect(!ACLRules.allows(node, .write, ids: [alice]))
    }

    @Test func create_checksCreateOnParent() {
        var h = TreeHarness()
        h.create("/p", acl: acl(.all, alice))
        #expect(h.create("/p/c").error == .noAuth)
        #expect(h.create("/p/c", ids: [alice]).error == .ok)
        #expect(h.create("/p/c/d", ids: [bob]).error == .ok)  // /p/c has the open ACL
    }

    @Test func getACL_redaction_masksDigestHashesOnly() {
        let list = [
            ACL(perms: 31, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20=")),
            ACL(perms: 1, id: .anyone), ACL(perms: 3, id: Id(scheme: "ip", id: "10.0.0.0/8")),
        ]
        #expect(
            ACLRules.redacted(list) == [
                ACL(perms: 31, id: Id(scheme: "digest", id: "user:x")), ACL(perms: 1, id: .anyone),
                ACL(perms: 3, id: Id(scheme: "ip", id: "10.0.0.0/8")),
            ])
    }
}
