import Testing
import ZKModel

/// Container and TTL markers in `ephemeralOwner` (reference §2.7, `EphemeralType`).
@Suite struct EphemeralOwnerTests {
    @Test func container_marker_isLongMinValue() {
        #expect(EphemeralOwner.container == Int64(bitPattern: 0x8000_0000_0000_0000))
        #expect(EphemeralOwner.isContainer(Int64.min))
        #expect(!EphemeralOwner.isContainer(0))
        #expect(EphemeralOwner.session(EphemeralOwner.container) == nil)
        #expect(EphemeralOwner.visible(EphemeralOwner.container) == 0)
        #expect(EphemeralOwner.ttlValue(EphemeralOwner.container) == nil)
    }

    @Test func ttl_encoding_isHighByteFFOrTTL() {
        #expect(EphemeralOwner.ttl(1000) == Int64(bitPattern: 0xff00_0000_0000_03e8))
        #expect(EphemeralOwner.ttlMax == 0x0000_00ff_ffff_ffff)
        #expect(EphemeralOwner.ttl(EphemeralOwner.ttlMax) == Int64(bitPattern: 0xff00_00ff_ffff_ffff))
    }

    @Test(arguments: [1, 1000, 86_400_000, 0x0000_00ff_ffff_ffff] as [Int64])
    func ttlValue_ofEncodedTTL_roundTrips(ttl: Int64) {
        let owner = EphemeralOwner.ttl(ttl)
        #expect(EphemeralOwner.ttlValue(owner) == ttl)
        #expect(EphemeralOwner.session(owner) == nil)
        #expect(EphemeralOwner.visible(owner) == 0)
        #expect(!EphemeralOwner.isContainer(owner))
    }

    @Test func ttlValue_nonZeroFeatureBits_isNotTTL() {
        #expect(EphemeralOwner.ttlValue(Int64(bitPattern: 0xff00_0100_0000_0000)) == nil)
        #expect(EphemeralOwner.ttlValue(Int64(bitPattern: 0xffff_0000_0000_0001)) == nil)
    }

    @Test func session_ofEphemeralOwner_isTheSessionId() {
        let session: SessionID = 0x0100_000a_425f_0000
        #expect(EphemeralOwner.session(session) == session)
        #expect(EphemeralOwner.visible(session) == session)
        #expect(EphemeralOwner.ttlValue(session) == nil)
        #expect(EphemeralOwner.session(0) == nil)
        #expect(EphemeralOwner.visible(0) == 0)
    }
}

@Suite struct CreateModeTests {
    @Test func flags_table_matchesReference() {
        #expect(CreateMode.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5, 6])
        #expect(CreateMode.allCases.filter(\.isEphemeral) == [.ephemeral, .ephemeralSequential])
        #expect(CreateMode.allCases.filter(\.isSequential) == [.persistentSequential, .ephemeralSequential, .persistentSequentialWithTTL])
        #expect(CreateMode.allCases.filter(\.isContainer) == [.container])
        #expect(CreateMode.allCases.filter(\.isTTL) == [.persistentWithTTL, .persistentSequentialWithTTL])
        #expect(CreateMode(rawValue: 7) == nil)
        #expect(CreateMode(rawValue: -1) == nil)
    }
}

@Suite struct NumbersTests {
    @Test func opCode_values_matchZooDefs() {
        let expected: [(OpCode, Int32)] = [
            (.notification, 0), (.create, 1), (.delete, 2), (.exists, 3), (.getData, 4), (.setData, 5), (.getACL, 6),
            (.setACL, 7), (.getChildren, 8), (.sync, 9), (.ping, 11), (.getChildren2, 12), (.check, 13), (.multi, 14),
            (.create2, 15), (.reconfig, 16), (.checkWatches, 17), (.removeWatches, 18), (.createContainer, 19),
            (.deleteContainer, 20), (.createTTL, 21), (.multiRead, 22), (.auth, 100), (.setWatches, 101), (.sasl, 102),
            (.getEphemerals, 103), (.getAllChildrenNumber, 104), (.setWatches2, 105), (.addWatch, 106), (.whoAmI, 107),
            (.createSession, -10), (.closeSession, -11), (.error, -1),
        ]
        for (code, value) in expected { #expect(code.rawValue == value, "\(code)") }
        #expect(OpCode.allCases.count == expected.count)
        #expect(OpCode(rawValue: 10) == nil)
    }

    @Test func errorCode_values_matchKeeperException() {
        let expected: [(ErrorCode, Int32)] = [
            (.ok, 0), (.systemError, -1), (.runtimeInconsistency, -2), (.dataInconsistency, -3), (.connectionLoss, -4),
            (.marshallingError, -5), (.unimplemented, -6), (.operationTimeout, -7), (.badArguments, -8),
            (.unknownSession, -12), (.newConfigNoQuorum, -13), (.reconfigInProgress, -14), (.apiError, -100),
            (.noNode, -101), (.noAuth, -102), (.badVersion, -103), (.noChildrenForEphemerals, -108),
            (.nodeExists, -110), (.notEmpty, -111), (.sessionExpired, -112), (.invalidCallback, -113),
            (.invalidACL, -114), (.authFailed, -115), (.sessionMoved, -118), (.notReadOnly, -119),
            (.ephemeralOnLocalSession, -120), (.noWatcher, -121), (.requestTimeout, -122), (.reconfigDisabled, -123),
            (.sessionClosedRequireSaslAuth, -124), (.quotaExceeded, -125), (.throttledOp, -127),
        ]
        for (code, value) in expected { #expect(code.rawValue == value, "\(code)") }
        #expect(ErrorCode.allCases.count == expected.count)
    }

    @Test func watchConstants_matchWatcher() {
        #expect(EventType.allCases.map(\.rawValue) == [-1, 1, 2, 3, 4, 5, 6, 7])
        #expect(KeeperState.syncConnected.rawValue == 3)
        #expect(KeeperState.expired.rawValue == -112)
        #expect(WatcherType.children.rawValue == 1 && WatcherType.data.rawValue == 2 && WatcherType.any.rawValue == 3)
        #expect(WatcherType.persistent.rawValue == 4 && WatcherType.persistentRecursive.rawValue == 5)
        #expect(AddWatchMode.persistent.rawValue == 0 && AddWatchMode.persistentRecursive.rawValue == 1)
        #expect(WatchedEvent(type: .nodeCreated, path: "/a").state == .syncConnected)
    }

    @Test func reservedXids_matchClientConventions() {
        #expect(ReservedXid.notification == -1)
        #expect(ReservedXid.ping == -2)
        #expect(ReservedXid.auth == -4)
        #expect(ReservedXid.setWatches == -8)
    }

    @Test func zxidLayout_epochAndCounter_splitAt32Bits() {
        let zxid = ZxidLayout.make(epoch: 1, counter: 2)
        #expect(zxid == 0x1_0000_0002)
        #expect(ZxidLayout.epoch(of: zxid) == 1)
        #expect(ZxidLayout.counter(of: zxid) == 2)
        #expect(ZxidLayout.counter(of: ZxidLayout.make(epoch: 3, counter: 0xffff_ffff)) == 0xffff_ffff)
        #expect(ZxidLayout.epoch(of: ZxidLayout.make(epoch: 3, counter: 0x1_0000_0005)) == 3)
    }

    @Test func permissions_bits_matchZooDefsPerms() {
        #expect(Permissions.read.rawValue == 1)
        #expect(Permissions.write.rawValue == 2)
        #expect(Permissions.create.rawValue == 4)
        #expect(Permissions.delete.rawValue == 8)
        #expect(Permissions.admin.rawValue == 16)
        #expect(Permissions.all.rawValue == 31)
    }

    @Test func wellKnownACLs_matchZooDefsIds() {
        #expect(ACL.openACLUnsafe == [ACL(perms: 31, id: Id(scheme: "world", id: "anyone"))])
        #expect(ACL.readACLUnsafe == [ACL(perms: 1, id: Id(scheme: "world", id: "anyone"))])
        #expect(ACL.creatorAllACL == [ACL(perms: 31, id: Id(scheme: "auth", id: ""))])
    }

    @Test func seededGenerator_sameSeed_sameSequence() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }
}
