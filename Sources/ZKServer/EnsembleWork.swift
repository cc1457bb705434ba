import Foundation
import Logging
import NIOCore
import ZKConsensus
import ZKModel
import ZKPersistence
import ZKReplica

/// Carries out an ensemble member's `PeerAction`s for the shell: notifications onto the
/// election mesh, quorum packets onto their link, epoch files, TRUNC and SNAP on the data
/// directory, closing links. Runs on the replica loop; loop-confined, hence
/// `@unchecked Sendable`.
final class EnsembleWork: @unchecked Sendable {
    let mesh: ElectionMesh
    let links: QuorumLinks
    let disk: EnsembleDisk
    let txnLog: FileTxnLog
    let logger: Logger
    /// `snapshotSizeFactor`: how large a DIFF from the log may be, relative to a snapshot.
    var snapshotSizeFactor = 0.33
    unowned let shell: ReplicaShell
    private var lastRole: (state: ServerState, leader: ServerID?) = (.looking, nil)

    init(mesh: ElectionMesh, links: QuorumLinks, disk: EnsembleDisk, txnLog: FileTxnLog, logger: Logger, shell: ReplicaShell) {
        self.mesh = mesh
        self.links = links
        self.disk = disk
        self.txnLog = txnLog
        self.logger = logger
        self.shell = shell
    }

    var role: (state: ServerState, leader: ServerID?) {
        guard let peer = shell.replica.peer else { return (.looking, nil) }
        return (peer.state, peer.leaderId)
    }

    func carryOut(_ work: PeerAction) {
        switch work {
        case .send(let to, .notification(let notification)):
            mesh.send(notification, to: to)
        case .send(let to, let message):
            links.send(message, to: to)
        case .persistAcceptedEpoch(let epoch):
            durably("acceptedEpoch") { try disk.writeEpoch(EnsembleDisk.acceptedEpochFile, epoch) }
        case .persistCurrentEpoch(let epoch):
            durably("currentEpoch") { try disk.writeEpoch(EnsembleDisk.currentEpochFile, epoch) }
        case .truncateLog(let zxid):
            shell.logGeneration = txnLog.reset()
            var state: RecoveredState?
            durably("TRUNC to 0x\(String(zxid, radix: 16))") { state = try disk.truncate(to: zxid) }
            if let state {
                shell.handle { replica, now in replica.stateReloaded(tree: state.tree, sessionTimeouts: state.sessions, now: now) }
            }
        case .installSnapshot(let zxid, let snapshot):
            shell.logGeneration = txnLog.reset()
            durably("SNAP to 0x\(String(zxid, radix: 16))") { try disk.installSnapshot(zxid: zxid, snapshot) }
        case .readLogForLearner(let learner, let lastZxid):
            let txns = disk.logDiff(after: lastZxid, snapshotSizeFactor: snapshotSizeFactor)
            logger.info(
                txns == nil ? "learner too far behind for a DIFF from the log: SNAP" : "learner synced from the on-disk log (DIFF)",
                metadata: ["learner": "server.\(learner)", "zxid": "0x\(String(lastZxid, radix: 16))", "txns": "\(txns?.count ?? 0)"])
            shell.handle { replica, now in replica.logRead(for: learner, txns: txns, now: now) }
        case .closeConnection(let peer):
            links.close(peer)
        case .notice(let text):
            logger.warning("\(text)")
        case .persistTxns, .takeSnapshotForLearner, .apply, .syncDone, .syncFailed, .roleChanged:
            // The replica carries these out itself.
            break
        }
    }

    /// After every batch: written packets leave, and a change of role is passed on.
    func batchDone() {
        links.flush()
        let now = role
        guard now.state != lastRole.state || now.leader != lastRole.leader else { return }
        logger.info(
            "quorum role changed",
            metadata: ["state": "\(now.state)", "leader": "\(now.leader.map { "server.\($0)" } ?? "none")",
                       "epoch": "\(shell.replica.peer?.currentEpoch ?? 0)", "zxid": "0x\(String(shell.replica.peer?.lastLoggedZxid ?? 0, radix: 16))"])
        lastRole = now
        links.roleChanged(to: now.state)
    }

    /// A member that cannot make its state durable must not go on acknowledging: it leaves
    /// the ensemble (the process exits; a supervisor restarts it once the disk is fixed).
    func durably(_ what: String, _ work: () throws -> Void) {
        do {
            try work()
        } catch {
            Self.leaveEnsemble(logger, "cannot write \(what): \(error)")
        }
    }

    static func leaveEnsemble(_ logger: Logger, _ reason: String) -> Never {
        logger.critical("leaving the ensemble: this member's disk failed, so it must not acknowledge anything more", metadata: ["reason": "\(reason)"])
        exit(3)
    }
}
