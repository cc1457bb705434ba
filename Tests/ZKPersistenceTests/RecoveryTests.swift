import Foundation
import NIOCore
import Testing
import ZKDataTree
import ZKModel
@testable import ZKPersistence

@Suite struct RecoveryTests {
    static let options = RecoveryOptions(payloadBytesMax: 0xfffff + 1024)

    /// ZooKeeper's first snapshot plus its whole log replays to the tree its live server showed.
    @Test func replayingZooKeeperLogGivesItsTree() throws {
        let state = try Recovery.recover(ZooKeeperFixture.files(snapshots: ["snapshot.0"], logs: ["log.1"]), options: Self.options)
        #expect(state.snapshot?.name == "snapshot.0")
        #expect(state.replayedTxnCount == 30)
        #expect(state.lastZxid == 0x1e)
        #expect(differences(state.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
        #expect(Set(state.sessions.keys) == (try ZooKeeperFixture.liveSessions))
        #expect(state.tornTail == nil)
        // Every digest ZooKeeper logged equals the digest SwiftKeeper computes after the same txn.
        #expect(state.digestMismatches == 0, "\(state.notes)")
        #expect(state.tree.digest == state.tree.recomputedDigest())
    }

    /// The newest snapshot wins; txns it already holds are skipped.
    @Test func newestSnapshotIsUsed() throws {
        let state = try Recovery.recover(
            ZooKeeperFixture.files(snapshots: ["snapshot.0", "snapshot.1e"], logs: ["log.1"]), options: Self.options)
        #expect(state.snapshot?.name == "snapshot.1e")
        #expect(state.replayedTxnCount == 0)
        #expect(state.digestMismatches == 0)
        #expect(differences(state.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
    }

    /// A fuzzy snapshot already holds changes after its zxid: replaying them again (NODEEXISTS,
    /// NONODE, repeated setData) must land on the same tree.
    @Test func replayOverAFuzzySnapshotIsIdempotent() throws {
        for claimed in [0x3, 0x8, 0x10, 0x17, 0x1b] as [Zxid] {
            let name = DataFileName(kind: .snapshot, zxid: claimed).name
            let files = ZooKeeperFixture.files(
                snapshots: [name], logs: ["log.1"], overrides: [name: try ZooKeeperFixture.bytes("snapshot.1e")])
            let state = try Recovery.recover(files, options: Self.options)
            #expect(differences(state.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [], "snapshot claimed at \(claimed)")
            #expect(Set(state.sessions.keys) == (try ZooKeeperFixture.liveSessions))
        }
    }

    /// Logs left empty by crashes right after they were created (no bytes, or a header
    /// alone) carry names that say nothing about where txns are: the replay after the
    /// snapshot must still come from the log that holds them (found by the simulator).
    @Test func emptyLogsDoNotHideTheLogThatHoldsTheTxns() throws {
        let header = Array(TxnLogFormat.fileHeader().readableBytesView)
        let files = ZooKeeperFixture.files(
            snapshots: ["snapshot.10"], logs: ["log.1", "log.5", "log.8"],
            overrides: ["snapshot.10": try ZooKeeperFixture.bytes("snapshot.1e"), "log.5": [], "log.8": header])
        let state = try Recovery.recover(files, options: Self.options)
        #expect(state.lastZxid == 0x1e)
        #expect(state.replayedTxnCount == 0x1e - 0x10)
    }

    @Test func unreadableNewestSnapshotFallsBackToAnOlderOne() throws {
        var damaged = try ZooKeeperFixture.bytes("snapshot.1e")
        damaged[300] ^= 0xff
        let files = ZooKeeperFixture.files(snapshots: ["snapshot.0", "snapshot.1e"], logs: ["log.1"], overrides: ["snapshot.1e": damaged])
        let state = try Recovery.recover(files, options: Self.options)
        #expect(state.snapshot?.name == "snapshot.0")
        #expect(state.notes.contains { $0.contains("snapshot.1e") })
        #expect(differences(state.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
    }

    @Test func tornTailIsReportedForTruncation() throws {
        let log = try ZooKeeperFixture.bytes("log.1")
        let entries = try ZooKeeperFixture.logEntries
        let lastOffset = entries.last!["offset"] as! Int
        let files = ZooKeeperFixture.files(snapshots: ["snapshot.0"], logs: ["log.1"], overrides: ["log.1": Array(log[0..<(log.count - 5)])])
        let state = try Recovery.recover(files, options: Self.options)
        #expect(state.lastZxid == 0x1d)
        #expect(state.tornTail?.file.name == "log.1")
        #expect(state.tornTail?.offset == lastOffset)
    }

    @Test func checksumMismatchBeforeTheTailStopsStartUp() throws {
        var log = try ZooKeeperFixture.bytes("log.1")
        let entries = try ZooKeeperFixture.logEntries
        let offset = entries[10]["offset"] as! Int
        log[offset + 40] ^= 0x01
        let files = ZooKeeperFixture.files(snapshots: ["snapshot.0"], logs: ["log.1"], overrides: ["log.1": log])
        #expect(throws: RecoveryError.corruptLog(file: "log.1", offset: offset, reason: "CRC check failed")) {
            _ = try Recovery.recover(files, options: Self.options)
        }
    }

    /// A missing stretch of txns (a lost log file) is an error, never silently skipped.
    @Test func gapInTheZxidsStopsStartUp() throws {
        let log = try ZooKeeperFixture.bytes("log.1")
        let entries = try ZooKeeperFixture.logEntries
        let first = TxnLogFormat.fileHeaderBytes
        let cutFrom = entries[5]["offset"] as! Int
        let cutTo = entries[8]["offset"] as! Int
        let early = Array(log[0..<cutFrom])
        let late = Array(log[0..<first]) + Array(log[cutTo...])
        let files = ZooKeeperFixture.files(
            snapshots: ["snapshot.0"], logs: ["log.1", "log.9"], overrides: ["log.1": early, "log.9": late])
        #expect(throws: RecoveryError.missingTxns(after: 5, next: 9, file: "log.9")) {
            _ = try Recovery.recover(files, options: Self.options)
        }
    }

    @Test func logsWithoutASnapshotNeedTrust() throws {
        let files = ZooKeeperFixture.files(snapshots: [], logs: ["log.1"])
        #expect(throws: RecoveryError.logsWithoutSnapshot(firstLog: "log.1")) {
            _ = try Recovery.recover(files, options: Self.options)
        }
        var trusting = Self.options
        trusting.trustEmptySnapshot = true
        let state = try Recovery.recover(files, options: trusting)
        #expect(differences(state.tree, fromLiveTree: try ZooKeeperFixture.liveTree) == [])
    }

    @Test func emptyDirectoryStartsFresh() throws {
        let state = try Recovery.recover(DataFiles(snapshots: [], logs: []) { _ in [] }, options: Self.options)
        #expect(state.lastZxid == 0)
        #expect(state.snapshot == nil)
        #expect(state.tree.nodes.count == 4)
    }

    /// Ephemerals whose session is not in the session table are removed at start-up.
    @Test func ephemeralsOfDeadSessionsAreRemoved() throws {
        var bytes = try ZooKeeperFixture.bytes("snapshot.1e")
        var contents = try SnapshotFormat.decode(bytes, zxid: 0x1e)
        contents.sessions[0x0100_003a_808e_0000] = nil
        bytes = Array(SnapshotFormat.encode(tree: contents.tree, sessions: contents.sessions).readableBytesView)
        let files = ZooKeeperFixture.files(snapshots: ["snapshot.1e"], logs: [], overrides: ["snapshot.1e": bytes])
        let state = try Recovery.recover(files, options: Self.options)
        #expect(state.tree.node("/app/eph_a") == nil)
        #expect(state.tree.node("/app")?.pzxid == 0x1e)
    }

    @Test func purgeKeepsTheNewestSnapshotsAndTheLogsTheyNeed() {
        let names = ["snapshot.0", "log.1", "snapshot.10", "log.11", "snapshot.20", "log.21", "snapshot.30", "log.31", "snapshot.40"]
        let files = names.compactMap(DataFileName.init)
        let snapshots = files.filter { $0.kind == .snapshot }
        let doomed = PurgePlan.filesToDelete(validSnapshots: snapshots, allFiles: files, retainCount: 3)
        #expect(doomed.map(\.name) == ["snapshot.0", "log.1", "snapshot.10"])
        // An invalid newer snapshot does not count towards the ones kept.
        let valid = snapshots.filter { $0.name != "snapshot.40" }
        #expect(PurgePlan.filesToDelete(validSnapshots: valid, allFiles: files, retainCount: 3).map(\.name) == ["snapshot.0"])
        #expect(PurgePlan.filesToDelete(validSnapshots: [], allFiles: files, retainCount: 3) == [])
    }
}
