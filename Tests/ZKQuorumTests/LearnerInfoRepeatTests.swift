import NIOCore
import XCTest
import ZKConsensus
@testable import ZKQuorum

/// A learner's FOLLOWERINFO may come twice on one link (SwiftKeeper's peer repeats it until
/// LEADERINFO arrives); that closed the link once, costing a failover 2.5 s. Another sid on
/// the same link is still refused.
final class LearnerInfoRepeatTests: XCTestCase {
    func info(_ sid: ServerID) -> ByteBuffer {
        var learner = QuorumLinkCodec(side: .learner, serverId: sid, configText: "", dataBytesMax: 1 << 20)
        var buffer = ByteBuffer()
        learner.encode(.learnerInfo(acceptedEpoch: 3, observer: false), into: &buffer)
        return buffer
    }

    func testRepeatedFollowerInfoIsAccepted() throws {
        var leader = QuorumLinkCodec(side: .leader, serverId: 3, configText: "", dataBytesMax: 1 << 20)
        var bytes = info(1)
        var second = info(1)
        bytes.writeBuffer(&second)
        XCTAssertEqual(try leader.decode(from: &bytes), .learnerInfo(acceptedEpoch: 3, observer: false))
        XCTAssertEqual(try leader.decode(from: &bytes), .learnerInfo(acceptedEpoch: 3, observer: false))
        XCTAssertEqual(leader.learnerInfo?.serverId, 1)
    }

    func testAnotherSidOnTheSameLinkIsRefused() throws {
        var leader = QuorumLinkCodec(side: .leader, serverId: 3, configText: "", dataBytesMax: 1 << 20)
        var bytes = info(1)
        var other = info(2)
        bytes.writeBuffer(&other)
        _ = try leader.decode(from: &bytes)
        XCTAssertThrowsError(try leader.decode(from: &bytes))
    }
}
