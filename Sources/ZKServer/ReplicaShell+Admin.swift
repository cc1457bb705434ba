import Foundation
import NIOCore
import ZKReplica

extension ReplicaShell {
    /// An AdminServer command, run on the replica's loop; the rendered JSON.
    func adminCommand(_ name: String, arguments: [String: String]) -> EventLoopFuture<String> {
        eventLoop.submit {
            self.refreshDiskFigures()
            return self.handleReport { replica, now in replica.adminCommand(name, arguments: arguments, now: now).rendered }
        }
    }

    /// `/metrics`, run on the replica's loop.
    func prometheusText(exportProcessInfo: Bool) -> EventLoopFuture<String> {
        eventLoop.submit {
            self.refreshDiskFigures()
            let extra = exportProcessInfo ? ProcessFigures.read().prometheusText : ""
            return self.handleReport { replica, now in replica.prometheusText(now: now, extra: extra) }
        }
    }

    /// What the reports take from outside the replica: directory sizes, the newest
    /// snapshot, the log's fsync times, snapshot times, file descriptors. Read when a
    /// report asks (a few `stat` calls), never per request.
    func refreshDiskFigures() {
        guard let directory else { return }
        let sizes = directory.sizes()
        var lastSnapshot: (zxid: Int64, timestampSeconds: Int64)?
        if let newest = directory.validSnapshots().max() {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.path(of: newest))
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            lastSnapshot = (newest.zxid, Int64(modified))
        }
        let slowSyncs = txnLog?.slowSyncCount ?? 0
        let syncs = txnLog?.takeSyncDurationsMs() ?? []
        let snapshotsMs = snapshots?.takeDurationsMs() ?? []
        let process = ProcessFigures.read()
        handleReport { replica, _ in
            replica.noteDiskFigures(sizes: sizes, lastSnapshot: lastSnapshot, slowSyncs: slowSyncs)
            replica.observeDurations("fsynctime", syncs)
            replica.observeDurations("snapshottime", snapshotsMs)
            replica.fileDescriptors = (process.openFileDescriptors, process.maxFileDescriptors)
        }
    }
}
