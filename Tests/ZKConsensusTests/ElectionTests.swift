import Testing
import ZKModel
@testable import ZKConsensus

@Suite struct ElectionTests {
    static let three = QuorumConfiguration(voters: [1, 2, 3])

    @Test func voteOrderIsEpochThenZxidThenId() {
        let base = Vote(leader: 1, zxid: 10, peerEpoch: 1)
        #expect(Vote(leader: 1, zxid: 0, peerEpoch: 2).isBetter(than: base))
        #expect(Vote(leader: 1, zxid: 11, peerEpoch: 1).isBetter(than: base))
        #expect(Vote(leader: 2, zxid: 10, peerEpoch: 1).isBetter(than: base))
        #expect(!base.isBetter(than: base))
        #expect(!Vote(leader: 3, zxid: 9, peerEpoch: 1).isBetter(than: base))
    }

    @Test func quorumIsAMajorityOfVoters() {
        let five = QuorumConfiguration(voters: [1, 2, 3, 4, 5], observers: [9])
        #expect(!five.isQuorum([1, 2]))
        #expect(five.isQuorum([1, 2, 3]))
        #expect(!five.isQuorum([1, 2, 9]))
        #expect(Self.three.isQuorum([2, 3]))
    }

    /// Server 1 hears a better vote, adopts it, and decides after finalizeWait once a quorum
    /// agrees.
    @Test func adoptsTheBetterVoteAndDecidesAfterFinalizeWait() {
        var election = FastLeaderElection(me: 1, configuration: Self.three, lastZxid: 5, currentEpoch: 1, previousRound: 0)
        let better = Vote(leader: 3, zxid: 7, peerEpoch: 1)
        let first = election.receive(Notification(state: .looking, vote: better, round: 1), from: 3, now: 0)
        #expect(first.changed)
        #expect(election.proposal == better)
        // Votes: 1 → 3 (adopted) and 3 → 3: a quorum; decide after 200 ms unless something better comes.
        #expect(election.finalizeAtMs == FastLeaderElection.finalizeWaitMs)
        #expect(election.tick(now: 100) == nil)
        #expect(election.tick(now: 200) == FastLeaderElection.Decision(vote: better, round: 1))
    }

    /// A notification from a later round resets the received votes and moves our round on.
    @Test func laterRoundResetsTheElection() {
        var election = FastLeaderElection(me: 3, configuration: Self.three, lastZxid: 9, currentEpoch: 1, previousRound: 0)
        _ = election.receive(Notification(state: .looking, vote: Vote(leader: 1, zxid: 1, peerEpoch: 1), round: 5), from: 1, now: 0)
        #expect(election.round == 5)
        // Our own vote is better than theirs, so we keep proposing ourselves in the new round.
        #expect(election.proposal.leader == 3)
        #expect(election.finalizeAtMs == nil)
    }

    /// A LOOKING peer that keeps sending a worse vote in our round gets our vote back at once:
    /// its notifications postpone our own resend, so without the answer neither side would
    /// ever learn the other's vote (found by the simulator, seeds 1165 and 3113).
    @Test func aWorseVoteInOurRoundIsAnswered() {
        var peer = Peer(configuration: PeerConfiguration(me: 1, quorum: Self.three), durable: PeerDurableState(acceptedEpoch: 10, currentEpoch: 10), now: 0)
        _ = peer.tick(now: 0)
        guard case .looking(let election, _, _) = peer.role else {
            Issue.record("not looking")
            return
        }
        let worse = Notification(state: .looking, vote: Vote(leader: 2, zxid: 7, peerEpoch: 9), round: election.round)
        let actions = peer.receive(.notification(worse), from: 2, now: 10)
        let answered = actions.contains { action in
            if case .send(to: 2, .notification(let ours)) = action { return ours.vote.leader == 1 } else { return false }
        }
        #expect(answered, "\(actions)")
    }

    /// An observer's vote counts for nothing, so a voter does not answer it in its own round:
    /// answering would never end (the observer answers back), and the messages would keep
    /// postponing both resend timers (found by the simulator, seeds 341, 959, 1182).
    @Test func anObserversVoteInOurRoundIsNotAnswered() {
        let quorum = QuorumConfiguration(voters: [1, 2, 3], observers: [9])
        var peer = Peer(configuration: PeerConfiguration(me: 1, quorum: quorum), durable: PeerDurableState(), now: 0)
        guard case .looking(let election, _, _) = peer.role else {
            Issue.record("not looking")
            return
        }
        let observers = Notification(state: .looking, vote: Vote(leader: Int64.min, zxid: Int64.min, peerEpoch: Int64.min), round: election.round)
        let actions = peer.receive(.notification(observers), from: 9, now: 10)
        #expect(actions.isEmpty, "\(actions)")
    }

    /// Split votes: each server first votes for itself; the best vote wins everywhere.
    @Test func splitVotesConvergeOnTheBestCandidate() {
        var elections = (1...3).map {
            FastLeaderElection(me: Int64($0), configuration: Self.three, lastZxid: 4, currentEpoch: 1, previousRound: 0)
        }
        for _ in 0..<3 {
            for sender in 0..<3 {
                for receiver in 0..<3 where receiver != sender {
                    _ = elections[receiver].receive(elections[sender].notification, from: Int64(sender + 1), now: 0)
                }
            }
        }
        for var election in elections {
            #expect(election.proposal.leader == 3)
            #expect(election.tick(now: 1000)?.vote.leader == 3)
        }
    }

    /// A late joiner follows an established leader once a quorum reports it and the leader
    /// itself says it is LEADING, but never on the word of followers alone.
    @Test func lateJoinerNeedsTheLeaderItself() {
        var election = FastLeaderElection(me: 1, configuration: Self.three, lastZxid: 0, currentEpoch: 0, previousRound: 0)
        let vote = Vote(leader: 3, zxid: 8, peerEpoch: 2)
        let fromFollower = election.receive(Notification(state: .following, vote: vote, round: 4), from: 2, now: 0)
        #expect(fromFollower.decision == nil)
        let fromLeader = election.receive(Notification(state: .leading, vote: vote, round: 4), from: 3, now: 0)
        #expect(fromLeader.decision?.vote == vote)
        #expect(election.round == 4)
    }
}
