import Testing
import ZKDataTree
import ZKModel

/// The overlay's bookkeeping: applying a txn forgets only its own records, a failed multi
/// puts back exactly what it replaced, and a session's pending ephemerals are found through
/// the index.
@Suite struct PendingBookkeepingTests {
    @Test func applyingATxnKeepsLaterRecordsOfTheSamePath() {
        var h = TreeHarness()
        h.create("/a")
        let first = h.prepare(.setData(path: "/a", data: [1], version: -1))
        let second = h.prepare(.setData(path: "/a", data: [2], version: -1))
        h.apply(first)
        // The second setData's record (version 2) must survive the first one's apply.
        #expect(h.pending.records["/a"]?.version == 2)
        #expect(h.prepare(.setData(path: "/a", data: [3], version: 2)).body.errorCode == nil)
        h.apply(second)
        h.apply(Txn(header: TxnHeader(clientId: h.session, cxid: 1, zxid: h.lastZxid, time: 0, type: 5), body: .setData(path: "/a", data: [3], version: 3)))
        #expect(h.pending.isEmpty)
    }

    @Test func failedMultiPutsBackTheRecordsItReplaced() {
        var h = TreeHarness()
        h.create("/p")
        _ = h.prepare(createOp("/p/a"))
        let before = h.pending.records
        let multi = h.prepare(.multi([createOp("/p/b"), .setData(path: "/p/a", data: [1], version: -1), .delete(path: "/missing", version: -1)]))
        #expect(multi.body.errorCode == nil)
        #expect(h.pending.records == before)
        // What the failed multi would have created is not pending.
        #expect(h.prepare(createOp("/p/b")).body.createdPath == "/p/b")
    }

    @Test func sessionEphemeralsSeePendingCreatesAndDeletes() {
        var h = TreeHarness()
        let session: SessionID = 0x0100_0000_0000_0009
        h.create("/e1", flags: 1, session: session)
        h.create("/e2", flags: 1, session: session)
        _ = h.prepare(createOp("/e3", flags: 1), session: session)
        _ = h.prepare(.delete(path: "/e1", version: -1), session: session)
        _ = h.prepare(createOp("/other", flags: 1), session: 0x0100_0000_0000_0010)
        let close = h.prepare(.closeSession, session: session)
        #expect(close.body == .closeSession(pathsToDelete: ["/e2", "/e3"]))
    }

    /// Thousands of sessions closing at once each list exactly their own ephemerals.
    @Test func manyClosingSessionsEachListTheirOwnEphemerals() {
        var h = TreeHarness()
        let sessions = (1...300).map { SessionID(0x0100_0000_0000_0000 + $0) }
        for session in sessions {
            for index in 0..<20 { h.create("/s\(session)-\(index)", flags: 1, session: session) }
        }
        let closes = sessions.map { h.prepare(.closeSession, session: $0) }
        for (session, close) in zip(sessions, closes) {
            #expect(close.body == .closeSession(pathsToDelete: (0..<20).map { "/s\(session)-\($0)" }.sorted()))
        }
        for close in closes { h.apply(close) }
        #expect(h.tree.ephemeralCount == 0)
        #expect(h.pending.isEmpty)
        #expect(h.tree.nodeCount == DataTree().nodeCount)
    }

    /// The counts `mntr` reads are kept as nodes change and match a recount.
    @Test func keptCountsMatchARecount() {
        var h = TreeHarness()
        for index in 0..<50 { h.create("/n\(index)", data: [UInt8](repeating: 1, count: index), flags: index % 3 == 0 ? 1 : 0) }
        for index in stride(from: 0, to: 50, by: 4) { h.run(.delete(path: "/n\(index)", version: -1)) }
        h.run(.setData(path: "/n1", data: [UInt8](repeating: 2, count: 500), version: -1))
        let recountedBytes = h.tree.nodes.reduce(0) { $0 + $1.key.utf8.count + ($1.value.data?.count ?? 0) }
        let recountedEphemerals = h.tree.ephemerals.values.reduce(0) { $0 + $1.count }
        #expect(h.tree.approximateDataSize == recountedBytes)
        #expect(h.tree.ephemeralCount == recountedEphemerals)
        #expect(h.tree.digest == h.tree.recomputedDigest())
    }
}
