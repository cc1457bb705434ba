import Foundation
import NIOCore
import Testing
import ZKModel
import ZKWire
@testable import ZKPersistence

@Suite struct TxnLogTests {
    static let scanner = TxnLogScanner(payloadBytesMax: 0xfffff + 1024)

    static let acl = [ACL(perms: 31, id: Id(scheme: "world", id: "anyone"))]

    /// One txn of every body kind SwiftKeeper logs.
    static let everyKind: [Txn] = {
        let bodies: [(Int32, TxnBody)] = [
            (-10, .createSession(timeoutMs: 30000)),
            (1, .create(path: "/a", data: Array("x".utf8), acl: acl, ephemeral: false, parentCVersion: 3)),
            (15, .create(path: "/b", data: nil, acl: acl, ephemeral: true, parentCVersion: 4)),
            (19, .createContainer(path: "/c", data: [], acl: acl, parentCVersion: 5)),
            (21, .createTTL(path: "/t", data: [1, 2], acl: acl, parentCVersion: 6, ttl: 3_600_000)),
            (2, .delete(path: "/a")),
            (20, .deleteContainer(path: "/c")),
            (5, .setData(path: "/b", data: [0, 255], version: 2)),
            (7, .setACL(path: "/b", acl: [ACL(perms: 1, id: Id(scheme: "digest", id: "u:p"))], version: 1)),
            (-1, .error(.noNode)),
            (14, .multi([.create(path: "/m", data: [], acl: acl, ephemeral: false, parentCVersion: 7), .check(path: "/m", version: 1), .setData(path: "/m", data: [9], version: 1)])),
            (14, .multi([.delete(path: "/x"), .error(.badVersion), .error(.runtimeInconsistency)])),
            (-11, .closeSession(pathsToDelete: ["/b", "/ünï"])),
        ]
        return bodies.enumerated().map { index, pair in
            Txn(header: TxnHeader(clientId: 0x0100_0000_0000_0001, cxid: Int32(index), zxid: Int64(index + 1), time: 1_700_000_000_000 + Int64(index), type: pair.0), body: pair.1)
        }
    }()

    static func logBytes(_ txns: [Txn], padding: Int = 0) -> [UInt8] {
        var buffer = TxnLogFormat.fileHeader()
        for txn in txns { buffer.writeImmutableBuffer(TxnLogFormat.entry(txn)) }
        return Array(buffer.readableBytesView) + [UInt8](repeating: 0, count: padding)
    }

    @Test func everyTxnKindRoundTrips() throws {
        for txn in Self.everyKind {
            let (decoded, digest) = try TxnCodec.decode(TxnCodec.encode(txn))
            #expect(decoded == txn)
            #expect(digest == nil)
            let withDigest = try TxnCodec.decode(TxnCodec.encode(txn, digest: TxnDigest(version: 2, treeDigest: 0x51c6_d660)))
            #expect(withDigest.0 == txn)
            #expect(withDigest.1 == TxnDigest(version: 2, treeDigest: 0x51c6_d660))
        }
    }

    /// Every entry ZooKeeper 3.8.0 wrote decodes to what its generator recorded, and encodes
    /// back to the same bytes.
    @Test func zooKeeperLogDecodesAndReencodesByteForByte() throws {
        let bytes = try ZooKeeperFixture.bytes("log.1")
        let expected = try ZooKeeperFixture.logEntries
        let scan = Self.scanner.scan(bytes)
        #expect(scan.end == .clean(offset: bytes.count))
        #expect(scan.txns.count == expected.count)
        for (logged, entry) in zip(scan.txns, expected) {
            #expect(logged.offset == (entry["offset"] as! Int))
            #expect(logged.txn.zxid == (entry["zxid"] as! NSNumber).int64Value)
            #expect(logged.txn.header.type == (entry["type"] as! NSNumber).int32Value)
            #expect(logged.txn.header.clientId == (entry["clientId"] as! NSNumber).int64Value)
            let original = Array(bytes[logged.offset..<(entry["end_offset"] as! Int)])
            let reencoded = TxnLogFormat.entry(logged.txn, digest: logged.digest)
            #expect(Array(reencoded.readableBytesView) == original, "entry at zxid \(logged.txn.zxid)")
        }
    }

    @Test func zooKeeperMultiAndCloseSessionContents() throws {
        let scan = Self.scanner.scan(try ZooKeeperFixture.bytes("log.1"))
        let failed = scan.txns.first { $0.txn.zxid == 0x1a }!.txn
        guard case .multi(let bodies) = failed.body else { Issue.record("not a multi"); return }
        #expect(bodies.count == 3)
        #expect(bodies[1] == .error(.badVersion))
        #expect(bodies[2] == .error(.runtimeInconsistency))
        let close = scan.txns.last!.txn
        guard case .closeSession(let paths) = close.body else { Issue.record("not a closeSession"); return }
        #expect(Set(paths) == ["/app/ephseq_b-0000000005", "/app/eph_b"])
    }

    @Test func preallocatedPaddingEndsTheLogCleanly() {
        let bytes = Self.logBytes(Self.everyKind, padding: 10_000)
        let scan = Self.scanner.scan(bytes)
        #expect(scan.txns.map(\.txn) == Self.everyKind)
        #expect(scan.end == .clean(offset: bytes.count - 10_000))
    }

    /// A crash can stop the last write at any byte; the preallocated area after it holds zeros
    /// (or the file simply ends). Either way every earlier txn is read and the tail is torn.
    @Test func tornTailAtEveryByteOfTheLastEntry() {
        let full = Self.logBytes(Self.everyKind)
        let lastStart = full.count - TxnLogFormat.entry(Self.everyKind.last!).readableBytes
        for cut in lastStart..<full.count {
            for padding in [0, 4096] {
                let bytes = Array(full[0..<cut]) + [UInt8](repeating: 0, count: padding)
                let scan = Self.scanner.scan(bytes)
                #expect(scan.txns.map(\.txn) == Array(Self.everyKind.dropLast()), "cut at \(cut), padding \(padding)")
                switch scan.end {
                case .clean(let offset), .tornTail(let offset, _):
                    #expect(offset == lastStart, "cut at \(cut)")
                case .corrupt(let offset, let reason):
                    Issue.record("cut at \(cut), padding \(padding): corrupt at \(offset): \(reason)")
                }
            }
        }
    }

    /// A crash while the header itself was being written leaves any prefix of it: an empty
    /// log with a torn tail at 0, not damage (found by the simulator, whose disks keep any
    /// prefix of unsynced bytes). Anything else that short is still damage.
    @Test func tornHeaderIsAnEmptyLog() {
        let header = Array(TxnLogFormat.fileHeader().readableBytesView)
        for cut in 0..<header.count {
            let scan = Self.scanner.scan(Array(header.prefix(cut)))
            #expect(scan.txns.isEmpty)
            #expect(scan.end == .tornTail(offset: 0, reason: "file shorter than its header"), "cut at \(cut)")
        }
        let scan = Self.scanner.scan([0x5A, 0x4B, 0x00])
        if case .corrupt = scan.end {} else { Issue.record("a short file that is not a header prefix must be damage: \(scan.end)") }
    }

    enum Expectation { case corrupt, ignored }

    /// A flipped byte: in the header, a checksum, a length, a payload or a middle entry's
    /// end marker stops start-up; in the padding it changes nothing.
    @Test func flippedByteInEachRegion() {
        let bytes = Self.logBytes(Self.everyKind, padding: 512)
        let secondEntry = TxnLogFormat.fileHeaderBytes + TxnLogFormat.entry(Self.everyKind[0]).readableBytes
        let secondLength = TxnLogFormat.entry(Self.everyKind[1]).readableBytes
        let regions: [(String, Int, Expectation)] = [
            ("magic", 1, .corrupt),
            ("version", 7, .corrupt),
            ("checksum", secondEntry + 6, .corrupt),
            ("length", secondEntry + 11, .corrupt),
            ("txn header", secondEntry + 12 + 3, .corrupt),
            ("txn record", secondEntry + 12 + 35, .corrupt),
            ("end-of-record marker", secondEntry + secondLength - 1, .corrupt),
            ("padding", bytes.count - 100, .ignored),
        ]
        for (region, offset, expectation) in regions {
            var damaged = bytes
            damaged[offset] ^= 0x5a
            let scan = Self.scanner.scan(damaged)
            switch expectation {
            case .corrupt:
                guard case .corrupt = scan.end else {
                    Issue.record("\(region): expected a corrupt log, got \(scan.end) after \(scan.txns.count) txns")
                    continue
                }
                #expect(scan.txns.count <= 1, "\(region)")
            case .ignored:
                #expect(scan.txns.count == Self.everyKind.count, "\(region)")
            }
        }
    }

    /// After an unreadable entry the scan looks for a valid one, but what it checksums is
    /// bounded by the file's size: a tail built so that every 64 bytes passes the cheap checks
    /// (zero high word, plausible length, end marker, later zxid) is called damage, not a
    /// torn tail, without checksumming each candidate (which was quadratic in the file).
    @Test func lookalikeEntriesAfterDamageAreBoundedAndCalledDamage() {
        let scanner = TxnLogScanner(payloadBytesMax: 4096)
        var bytes = Self.logBytes(Array(Self.everyKind.prefix(2)))
        let damageAt = bytes.count
        bytes += [0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0x10, 0, 1, 2, 3]  // an entry claiming 4096 bytes, torn
        var block = [UInt8](repeating: 0x11, count: 64)
        block.replaceSubrange(0..<4, with: [0, 0, 0, 0])
        block.replaceSubrange(8..<12, with: [0, 0, 0x0f, 0xd2])  // 4050: its marker lands at block offset 30
        block[30] = TxnLogFormat.endOfRecord
        for _ in 0..<(1 << 14) { bytes += block }
        let scan = scanner.scan(bytes)
        #expect(scan.txns.count == 2)
        guard case .corrupt(let offset, let reason) = scan.end else {
            Issue.record("expected damage, got \(scan.end)")
            return
        }
        #expect(offset == damageAt)
        #expect(reason.contains("looks like entries"))
        // The same torn entry with only zero padding after it is a torn tail.
        let torn = Array(bytes[..<(damageAt + 15)]) + [UInt8](repeating: 0, count: 1 << 20)
        #expect(scanner.scan(torn).end == .tornTail(offset: damageAt, reason: "missing end-of-record marker"))
    }

    @Test func fileNamesAreLowerCaseHexWithoutPadding() {
        #expect(DataFileName(kind: .log, zxid: 1).name == "log.1")
        #expect(DataFileName(kind: .snapshot, zxid: 0x1_0000_0001).name == "snapshot.100000001")
        #expect(DataFileName("snapshot.1e.gz") == DataFileName(kind: .snapshot, zxid: 0x1e))
        #expect(DataFileName("log.zz") == nil)
        #expect(DataFileName("tmp.snapshot.1") == nil)
        #expect(DataFileName("acceptedEpoch") == nil)
    }

    @Test func preallocationFollowsZooKeeper() {
        let block = 64 * 1024 * 1024
        #expect(LogPreallocation.sizeNeeded(position: 16, appendBytes: 0, currentSize: 16, blockBytes: block) == 16 + block)
        #expect(LogPreallocation.sizeNeeded(position: 1000, appendBytes: 100, currentSize: 16 + block, blockBytes: block) == nil)
        #expect(LogPreallocation.sizeNeeded(position: block - 100, appendBytes: 0, currentSize: 16 + block, blockBytes: block) == 16 + 2 * block)
        #expect(LogPreallocation.sizeNeeded(position: 16, appendBytes: 10, currentSize: 16, blockBytes: 0) == nil)
    }
}
