import NIOCore
import Testing
import ZKModel
import ZKWire

/// Every request body a client can send (reference §1.5, §1.6), decoded by `Request.decode`.
@Suite struct RequestDecodeTests {
    static let watches = SetWatchesRequest(
        relativeZxid: 0x1_0000_0007, dataWatches: ["/d1", "/d2"], existWatches: ["/e"], childWatches: [],
        persistentWatches: ["/p"], persistentRecursiveWatches: ["/r1", "/r2"])

    /// One instance of every request kind (reconfig is checked separately: its record has no public init).
    static let everyRequest: [Request] = [
        .create(CreateRequest(opCode: .create, path: "/a", data: [1, 2], acl: openACL, flags: 0)),
        .create(CreateRequest(opCode: .create, path: "/null-data", data: nil, acl: openACL, flags: 3)),
        .create(CreateRequest(opCode: .create, path: "/empty-data", data: [], acl: digestACL, flags: 1)),
        .create(CreateRequest(opCode: .create, path: "/null-acl", data: [], acl: nil, flags: 0)),
        .create(CreateRequest(opCode: .create2, path: "/b", data: [0], acl: openACL, flags: 2)),
        .create(CreateRequest(opCode: .createContainer, path: "/c", data: nil, acl: openACL, flags: 4)),
        .create(CreateRequest(opCode: .createTTL, path: "/t", data: [9], acl: openACL, flags: 5, ttl: 60000)),
        .delete(path: "/a", version: -1),
        .delete(path: "/a", version: 3),
        .exists(path: "/a", watch: true),
        .exists(path: "/a", watch: false),
        .getData(path: "/a", watch: true),
        .setData(path: "/a", data: nil, version: -1),
        .setData(path: "/a", data: [], version: 0),
        .setData(path: "/a", data: [1, 2, 3], version: 7),
        .getACL(path: "/a"),
        .setACL(path: "/a", acl: digestACL, version: 0),
        .setACL(path: "/a", acl: nil, version: -1),
        .getChildren(path: "/", watch: true),
        .getChildren2(path: "/zookeeper", watch: false),
        .sync(path: "/"),
        .ping,
        .check(path: "/a", version: 1),
        .multi([]),
        .multi([
            .create(CreateRequest(opCode: .create, path: "/m1", data: nil, acl: openACL, flags: 0)),
            .create(CreateRequest(opCode: .create2, path: "/m2", data: [], acl: openACL, flags: 2)),
            .create(CreateRequest(opCode: .createContainer, path: "/m3", data: [1], acl: openACL, flags: 4)),
            .create(CreateRequest(opCode: .createTTL, path: "/m4", data: [1], acl: openACL, flags: 6, ttl: 5)),
            .delete(path: "/x", version: -1),
            .setData(path: "/y", data: nil, version: 2),
            .check(path: "/z", version: 0),
        ]),
        .multiRead([.getData(path: "/a"), .getChildren(path: "/b"), .getData(path: "/missing")]),
        .multiRead([]),
        .checkWatches(path: "/a", type: 1),
        .removeWatches(path: "/a", type: 3),
        .deleteContainer(path: "/c"),
        .auth(type: 0, scheme: "digest", auth: Array("user:pass".utf8)),
        .setWatches(SetWatchesRequest(relativeZxid: 5, dataWatches: ["/a"], existWatches: [], childWatches: ["/b", "/c"]), version2: false),
        .setWatches(watches, version2: true),
        .sasl(token: nil),
        .sasl(token: [0xde, 0xad]),
        .getEphemerals(prefix: "/e"),
        .getAllChildrenNumber(path: "/"),
        .addWatch(path: "/w", mode: 0),
        .addWatch(path: "/w", mode: 1),
        .whoAmI,
        .closeSession,
    ]

    @Test(arguments: everyRequest)
    func decode_clientEncodedRequest_roundTrips(request: Request) throws {
        let type = RequestEncoder.type(of: request)
        let decoded = try decodeRequest(type: type) { RequestEncoder.encode(request, &$0) }
        #expect(decoded == request)
    }

    /// Any strict prefix of a request body is a broken request, never a crash or a partial success.
    @Test(arguments: everyRequest)
    func decode_everyTruncation_throws(request: Request) {
        let type = RequestEncoder.type(of: request)
        let body = Array(RequestEncoder.body(request).readableBytesView)
        for length in 0..<body.count {
            var reader = JuteReader(buffer(Array(body[0..<length])))
            #expect(throws: JuteError.self, "type \(type) cut at \(length)") { try Request.decode(type: type, from: &reader) }
        }
    }

    @Test func decode_createRequest_handWrittenBytes() throws {
        let body = bytes(
            "00000002 2f61" + "ffffffff" + "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65" + "00000003")
        var reader = JuteReader(buffer(body))
        let request = try Request.decode(type: 1, from: &reader)
        #expect(request == .create(CreateRequest(opCode: .create, path: "/a", data: nil, acl: openACL, flags: 3, ttl: -1)))
    }

    @Test func decode_createTTLRequest_readsTrailingTTL() throws {
        let body = bytes("00000002 2f74" + "00000000" + "00000000" + "00000005" + "00000000000003e8")
        var reader = JuteReader(buffer(body))
        #expect(try Request.decode(type: 21, from: &reader) == .create(CreateRequest(opCode: .createTTL, path: "/t", data: [], acl: [], flags: 5, ttl: 1000)))
        #expect(reader.isAtEnd)
    }

    @Test func decode_createWithoutTTLOpcode_hasTTLMinusOne() throws {
        for opCode in [OpCode.create, .create2, .createContainer] {
            let request = try decodeRequest(type: opCode.rawValue) {
                $0.writeString("/x")
                $0.writeBuffer(nil)
                $0.writeACLs(openACL)
                $0.writeInt(0)
            }
            guard case .create(let create) = request else {
                Issue.record("not a create")
                continue
            }
            #expect(create.ttl == -1)
            #expect(create.opCode == opCode)
        }
    }

    @Test func decode_reconfig_readsThreeStringsAndConfigId() throws {
        let request = try decodeRequest(type: 16) {
            $0.writeString("server.4=127.0.0.4:2888:3888;2181")
            $0.writeString(nil)
            $0.writeString("")
            $0.writeLong(-1)
        }
        guard case .reconfig(let reconfig) = request else {
            Issue.record("not a reconfig: \(request)")
            return
        }
        #expect(reconfig.joiningServers == "server.4=127.0.0.4:2888:3888;2181")
        #expect(reconfig.leavingServers == nil)
        #expect(reconfig.newMembers == "")
        #expect(reconfig.curConfigId == -1)
    }

    @Test func decode_authWithNullSchemeAndData_givesEmptyValues() throws {
        let request = try decodeRequest(type: 100) {
            $0.writeInt(0)
            $0.writeString(nil)
            $0.writeBuffer(nil)
        }
        #expect(request == .auth(type: 0, scheme: "", auth: []))
    }

    @Test func decode_setWatchesWithNullVectors_givesEmptyLists() throws {
        let request = try decodeRequest(type: 101) {
            $0.writeLong(3)
            $0.writeStringVector(nil)
            $0.writeStringVector(nil)
            $0.writeStringVector(nil)
        }
        #expect(request == .setWatches(SetWatchesRequest(relativeZxid: 3, dataWatches: [], existWatches: [], childWatches: []), version2: false))
    }

    @Test func decode_setWatches2CutAfterThreeLists_throws() throws {
        // SetWatches (101) has three lists; SetWatches2 (105) five. A 105 body cut after three lists is broken.
        var reader = JuteReader(written {
            $0.writeLong(3)
            $0.writeStringVector(["/a"])
            $0.writeStringVector([])
            $0.writeStringVector([])
        })
        #expect(throws: JuteError.self) { try Request.decode(type: 105, from: &reader) }
    }

    @Test(arguments: [
        (3, "exists"), (4, "getData"), (2, "delete"), (5, "setData"), (6, "getACL"), (7, "setACL"), (8, "getChildren"),
        (9, "sync"), (1, "create"), (12, "getChildren2"), (17, "checkWatches"), (18, "removeWatches"), (103, "getEphemerals"),
        (104, "getAllChildrenNumber"), (106, "addWatch"),
    ] as [(Int32, String)])
    func decode_nullPath_throwsMarshallingFailure(type: Int32, name: String) {
        // Whatever follows the path, a null path must fail decoding (the server answers −5).
        var reader = JuteReader(buffer(bytes("ffffffff" + String(repeating: "00", count: 32))))
        #expect(throws: JuteError.self, "\(name)") { try Request.decode(type: type, from: &reader) }
    }

    @Test(arguments: [0, 10, 23, 77, 99, 108, -1, -10, -12, Int32.min, Int32.max] as [Int32])
    func decode_opcodeNotAcceptedFromClients_throwsUnknownType(type: Int32) {
        var reader = JuteReader(buffer(bytes("00000002 2f61 00000000")))
        #expect(throws: JuteError.unknownType(type)) { try Request.decode(type: type, from: &reader) }
    }
}

/// `MultiOperationRecord` framing (reference §1.7).
@Suite struct MultiRequestTests {
    @Test func decode_multi_handWrittenBytes() throws {
        let body = bytes(
            // {type 1, done false, err -1} create "/a" null data, open ACL, flags 0
            "00000001 00 ffffffff" + "00000002 2f61" + "ffffffff"
                + "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65" + "00000000"
                // {type 13} check "/a" version 0
                + "0000000d 00 ffffffff" + "00000002 2f61" + "00000000"
                // {type 2} delete "/a" version -1
                + "00000002 00 ffffffff" + "00000002 2f61" + "ffffffff"
                // terminator
                + "ffffffff 01 ffffffff")
        var reader = JuteReader(buffer(body))
        let request = try Request.decode(type: 14, from: &reader)
        #expect(reader.isAtEnd)
        #expect(
            request
                == .multi([
                    .create(CreateRequest(opCode: .create, path: "/a", data: nil, acl: openACL, flags: 0)),
                    .check(path: "/a", version: 0),
                    .delete(path: "/a", version: -1),
                ]))
    }

    @Test func decode_emptyMulti_isOnlyTheTerminator() throws {
        var reader = JuteReader(buffer(bytes("ffffffff 01 ffffffff")))
        #expect(try Request.decode(type: 14, from: &reader) == .multi([]))
        var readReader = JuteReader(buffer(bytes("ffffffff 01 ffffffff")))
        #expect(try Request.decode(type: 22, from: &readReader) == .multiRead([]))
    }

    @Test func decode_multiRead_consumesIgnoredWatchFlags() throws {
        let body = bytes(
            "00000004 00 ffffffff" + "00000002 2f61" + "01" + "00000008 00 ffffffff" + "00000001 2f" + "01"
                + "ffffffff 01 ffffffff")
        var reader = JuteReader(buffer(body))
        #expect(try Request.decode(type: 22, from: &reader) == .multiRead([.getData(path: "/a"), .getChildren(path: "/")]))
        #expect(reader.isAtEnd)
    }

    @Test func decode_multiWithReadOp_throwsInvalidMulti() {
        var reader = JuteReader(written {
            RequestEncoder.encode(MultiOp.create(CreateRequest(opCode: .create, path: "/a", data: nil, acl: openACL, flags: 0)), &$0)
            RequestEncoder.encode(MultiOp.getData(path: "/a"), &$0)
            RequestEncoder.encodeMultiTerminator(&$0)
        })
        #expect(throws: JuteError.self) { try Request.decode(type: 14, from: &reader) }
        var onlyReads = JuteReader(written {
            RequestEncoder.encode(MultiOp.getChildren(path: "/"), &$0)
            RequestEncoder.encodeMultiTerminator(&$0)
        })
        #expect(throws: JuteError.self) { try Request.decode(type: 14, from: &onlyReads) }
    }

    @Test func decode_multiReadWithWriteOp_throwsInvalidMulti() {
        var reader = JuteReader(written {
            RequestEncoder.encode(MultiOp.getData(path: "/a"), &$0)
            RequestEncoder.encode(MultiOp.delete(path: "/a", version: -1), &$0)
            RequestEncoder.encodeMultiTerminator(&$0)
        })
        #expect(throws: JuteError.self) { try Request.decode(type: 22, from: &reader) }
    }

    @Test(arguments: [0, 3, 6, 7, 9, 11, 12, 14, 22, 77, 101, -11] as [Int32])
    func decode_multiWithUnsupportedOpType_throwsInvalidMulti(opType: Int32) {
        var reader = JuteReader(written {
            $0.writeInt(opType)
            $0.writeBool(false)
            $0.writeInt(-1)
            $0.writeString("/a")
            $0.writeInt(0)
            RequestEncoder.encodeMultiTerminator(&$0)
        })
        #expect(throws: JuteError.self) { try Request.decode(type: 14, from: &reader) }
    }

    @Test func decode_multiWithoutTerminator_throwsTruncated() {
        var reader = JuteReader(written {
            RequestEncoder.encode(MultiOp.delete(path: "/a", version: -1), &$0)
        })
        #expect(throws: JuteError.truncated) { try Request.decode(type: 14, from: &reader) }
    }

    @Test func multiOp_opCodeAndIsRead_matchKind() {
        #expect(MultiOp.create(CreateRequest(opCode: .createTTL, path: "/", data: nil, acl: nil, flags: 5, ttl: 1)).opCode == .createTTL)
        #expect(MultiOp.delete(path: "/", version: 0).opCode == .delete)
        #expect(MultiOp.setData(path: "/", data: nil, version: 0).opCode == .setData)
        #expect(MultiOp.check(path: "/", version: 0).opCode == .check)
        #expect(MultiOp.getChildren(path: "/").opCode == .getChildren && MultiOp.getChildren(path: "/").isRead)
        #expect(MultiOp.getData(path: "/").opCode == .getData && MultiOp.getData(path: "/").isRead)
        #expect(!MultiOp.check(path: "/", version: 0).isRead)
    }
}
