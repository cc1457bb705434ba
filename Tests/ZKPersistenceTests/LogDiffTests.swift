import Testing
import ZKModel
@testable import ZKPersistence

/// `EnsembleDiskPlan.logDiff`: what a leader may send from its on-disk log.
@Suite struct LogDiffTests {
    static func txn(_ counter: Int64) -> Txn {
        Txn(
            header: TxnHeader(clientId: 0, cxid: 0, zxid: ZxidLayout.make(epoch: 1, counter: counter), time: 0, type: OpCode.create.rawValue),
            body: .create(path: "/n\(counter)", data: [UInt8](repeating: 1, count: 100), acl: ACL.openACLUnsafe, ephemeral: false, parentCVersion: -1))
    }

    static let logged = (1...10).map(txn)
    static func zxid(_ counter: Int64) -> Zxid { ZxidLayout.make(epoch: 1, counter: counter) }

    @Test func startsAtTheLastTxnAtOrBeforeTheLearner() {
        #expect(EnsembleDiskPlan.logDiff(Self.logged, after: Self.zxid(4), bytesMax: .max)?.map(\.zxid) == (4...10).map(Self.zxid))
        #expect(EnsembleDiskPlan.logDiff(Self.logged, after: Self.zxid(10), bytesMax: 0)?.map(\.zxid) == [Self.zxid(10)])
    }

    @Test func aLogThatDoesNotReachBackIsNoDiff() {
        #expect(EnsembleDiskPlan.logDiff(Self.logged, after: 0, bytesMax: .max) == nil)
        #expect(EnsembleDiskPlan.logDiff([], after: Self.zxid(3), bytesMax: .max) == nil)
    }

    @Test func aDiffLargerThanTheLimitIsNoDiff() {
        // The txns after the learner's: 5 to 10.
        let bytes = (5...10).map { TxnLogFormat.entry(Self.txn($0)).readableBytes }.reduce(0, +)
        #expect(EnsembleDiskPlan.logDiff(Self.logged, after: Self.zxid(4), bytesMax: bytes) != nil)
        #expect(EnsembleDiskPlan.logDiff(Self.logged, after: Self.zxid(4), bytesMax: bytes - 1) == nil)
    }
}
