import Testing
import ZKModel
@testable import ZKPersistence

/// The expected strings are what ZooKeeper 3.8.0's TxnLogToolkit printed for the same txns.
@Suite struct TxnTextTests {
    static let digestACL = ACL(perms: 31, id: Id(scheme: "digest", id: "alice:uLxpHc/uhT86OXPoSjJTp1M8CJY="))

    @Test func createShowsDataAndTheACLList() {
        let body = TxnBody.create(path: "/app", data: Array("hello".utf8), acl: ACL.openACLUnsafe, ephemeral: false, parentCVersion: 1)
        #expect(TxnText.body(body) == "/app,hello,[31,s{'world,'anyone}\n],false,1")
        let two = TxnBody.create(
            path: "/secret", data: Array("x".utf8), acl: [Self.digestACL, ACL(perms: 1, id: .anyone)], ephemeral: true,
            parentCVersion: 3)
        #expect(TxnText.body(two) == "/secret,x,[31,s{'digest,'alice:uLxpHc/uhT86OXPoSjJTp1M8CJY=}\n, 1,s{'world,'anyone}\n],true,3")
    }

    @Test func otherRecordsAreJuteToString() {
        #expect(TxnText.body(.setACL(path: "/secret", acl: [Self.digestACL], version: 1))
            == "'/secret,v{s{31,s{'digest,'alice:uLxpHc/uhT86OXPoSjJTp1M8CJY=}}},1\n")
        #expect(TxnText.body(.closeSession(pathsToDelete: ["/eph"])) == "v{'/eph}\n")
        #expect(TxnText.body(.closeSession(pathsToDelete: []), recordPresent: false) == "")
        #expect(TxnText.body(.error(.noNode)) == "-101\n")
        #expect(TxnText.body(.createSession(timeoutMs: 10000)) == "10000\n")
        #expect(TxnText.body(.delete(path: "/m2")) == "'/m2\n")
    }

    @Test func multiShowsEachRecordsBytes() {
        let body = TxnBody.multi([.delete(path: "/a"), .error(.noNode)])
        #expect(TxnText.body(body) == "delete:\0\0\0\u{2}/a;error:\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
    }

    @Test func lineHasTheHeaderAndOneNewline() {
        let header = TxnHeader(clientId: 0x1000358e82e0000, cxid: 0x7, zxid: 0x8, time: 0, type: OpCode.delete.rawValue)
        let txn = Txn(header: header, body: .delete(path: "/m2"))
        #expect(TxnText.line(txn, timeText: "T") == "T session 0x1000358e82e0000 cxid 0x7 zxid 0x8 delete '/m2\n")
        let negative = TxnHeader(clientId: 1, cxid: -2, zxid: 9, time: 0, type: OpCode.setData.rawValue)
        #expect(TxnText.line(Txn(header: negative, body: .setData(path: "/a", data: nil, version: 2)), timeText: "T")
            == "T session 0x1 cxid 0xfffffffffffffffe zxid 0x9 setData /a,,2\n")
        #expect(TxnText.opName(OpCode.createTTL.rawValue) == "createTtl")
        #expect(TxnText.opName(OpCode.addWatch.rawValue) == "unknown 106")
    }

    @Test func juteEscapes() {
        var record = JuteRecordText()
        record.string("a,b}%\n\r\0")
        record.buffer([0x05, 0xff])
        record.bool(true)
        #expect(record.finished == "'a%2Cb%7D%25%0A%0D%00,#5ffffffff,T\n")
    }
}
