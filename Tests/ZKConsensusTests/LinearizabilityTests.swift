import Testing
@testable import ZKSimulation

/// The checker must accept what a correct ZooKeeper may do and reject known-bad histories.
@Suite struct LinearizabilityTests {
    typealias Op = HistoryOperation

    static func op(_ kind: Op.Kind, _ outcome: Op.Outcome, _ call: Int64, _ ret: Int64?, path: String = "/a") -> Op {
        Op(path: path, kind: kind, outcome: outcome, callTime: call, returnTime: ret)
    }

    @Test func sequentialHistoryIsLinearizable() {
        let history = [
            Self.op(.create(value: 1), .ok, 0, 1), Self.op(.read, .value(1), 2, 3), Self.op(.setData(value: 2), .ok, 4, 5),
            Self.op(.read, .value(2), 6, 7), Self.op(.delete, .ok, 8, 9), Self.op(.read, .noNode, 10, 11),
        ]
        #expect(LinearizabilityChecker.firstViolation(history) == nil)
    }

    /// A read that starts after a write finished must see it.
    @Test func staleReadIsCaught() {
        let history = [
            Self.op(.create(value: 1), .ok, 0, 1), Self.op(.setData(value: 2), .ok, 2, 3), Self.op(.read, .value(1), 4, 5),
        ]
        #expect(LinearizabilityChecker.firstViolation(history) != nil)
    }

    /// A read concurrent with a write may see either value.
    @Test func concurrentReadMaySeeEither() {
        for seen in [1, 2] {
            let history = [
                Self.op(.create(value: 1), .ok, 0, 1), Self.op(.setData(value: 2), .ok, 2, 10), Self.op(.read, .value(seen), 3, 4),
            ]
            #expect(LinearizabilityChecker.firstViolation(history) == nil, "saw \(seen)")
        }
    }

    /// A write acknowledged and then gone (no delete) is a lost write.
    @Test func lostAcknowledgedWriteIsCaught() {
        let history = [Self.op(.create(value: 1), .ok, 0, 1), Self.op(.read, .noNode, 5, 6)]
        #expect(LinearizabilityChecker.firstViolation(history) != nil)
    }

    @Test func twoSuccessfulCreatesAreCaught() {
        let history = [Self.op(.create(value: 1), .ok, 0, 1), Self.op(.create(value: 2), .ok, 2, 3)]
        #expect(LinearizabilityChecker.firstViolation(history) != nil)
    }

    /// An operation whose outcome is unknown may have happened, or not.
    @Test func indeterminateWriteMayOrMayNotHaveHappened() {
        for read: Op.Outcome in [.noNode, .value(7)] {
            let history = [Self.op(.create(value: 7), .unknown, 0, nil), Self.op(.read, read, 5, 6)]
            #expect(LinearizabilityChecker.firstViolation(history) == nil, "read \(read)")
        }
        // But once seen, it cannot be unseen.
        let flicker = [
            Self.op(.create(value: 7), .unknown, 0, nil), Self.op(.read, .value(7), 5, 6), Self.op(.read, .noNode, 7, 8),
        ]
        #expect(LinearizabilityChecker.firstViolation(flicker) != nil)
    }

    /// Paths are independent; a violation on one is named.
    @Test func perPathPartitions() {
        let history = [
            Self.op(.create(value: 1), .ok, 0, 1, path: "/x"), Self.op(.read, .value(1), 2, 3, path: "/x"),
            Self.op(.create(value: 1), .ok, 0, 1, path: "/y"), Self.op(.read, .noNode, 2, 3, path: "/y"),
        ]
        #expect(LinearizabilityChecker.firstViolation(history)?.contains("/y") == true)
    }

    /// Many concurrent operations: the memoised search stays fast and finds the order.
    @Test func largeConcurrentHistory() {
        // Overlapping writes with reads between them: linearizable (later writes may wait).
        var overlapping: [Op] = [Self.op(.create(value: 0), .ok, 0, 1)]
        for i in 1...200 {
            let start = Int64(i * 10)
            overlapping.append(Self.op(.setData(value: i), .ok, start, start + 25))
            overlapping.append(Self.op(.read, .value(i), start + 26, start + 27))
        }
        #expect(LinearizabilityChecker.isLinearizable(overlapping))
        // One stale read deep in a long history is found.
        var stale = overlapping
        stale[301] = Self.op(.read, .value(100), 1_506, 1_507)
        #expect(!LinearizabilityChecker.isLinearizable(stale))
        var clean: [Op] = [Self.op(.create(value: 0), .ok, 0, 1)]
        for i in 1...200 {
            let start = Int64(i * 100)
            clean.append(Self.op(.setData(value: i), .ok, start, start + 50))
            clean.append(Self.op(.read, .value(i), start + 20, start + 90))
            clean.append(Self.op(.setData(value: -i), .unknown, start + 10, nil))
        }
        #expect(LinearizabilityChecker.isLinearizable(clean))
    }
}
