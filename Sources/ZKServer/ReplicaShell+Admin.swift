import Dispatch
import Foundation
import NIOCore
import ZKPersistence
import ZKReplica

/// What the admin port sends back: a command's JSON, or a snapshot's bytes.
struct AdminAnswer: Sendable {
    var status: Int = 200
    var contentType = "application/json"
    var headers: [(String, String)] = []
    var body: ByteBuffer

    init(json: AdminJSON, status: Int = 200, headers: [(String, String)] = []) {
        self.init(rendered: json.rendered, status: status, headers: headers)
    }

    init(rendered: String, status: Int = 200, headers: [(String, String)] = []) {
        self.status = status
        self.headers = headers
        self.body = ByteBuffer(string: rendered)
    }

    init(octets: ByteBuffer, headers: [(String, String)]) {
        self.contentType = "application/octet-stream"
        self.headers = headers
        self.body = octets
    }
}

extension ReplicaShell {
    /// The answer to `/commands/<name>`; `authorization` is the request's header,
    /// `clientAddress` its peer's IP address (the `ip` scheme).
    func adminAnswer(
        _ name: String, arguments: [String: String], authorization: String?, clientAddress: String
    ) -> EventLoopFuture<AdminAnswer> {
        if Replica.adminPrimaryName(name) == "snapshot" {
            let streaming = arguments["streaming"].map { $0.lowercased() == "true" } ?? true
            return adminSnapshot(streaming: streaming, authorization: authorization, clientAddress: clientAddress)
        }
        return adminCommand(name, arguments: arguments).map { AdminAnswer(rendered: $0) }
    }

    /// ZooKeeper 3.9's `restore`, standalone: the posted snapshot is decoded off the loop;
    /// then, on the loop, the log is closed behind what it holds, every snapshot and log is
    /// moved into `version-2/before-restore-<zxid>-<ms>` (kept for the operator), the posted
    /// bytes become `snapshot.<zxid>`, and the replica takes the state. A failure before the
    /// state changes puts the files back.
    func adminRestore(_ body: ByteBuffer, authorization: String?, clientAddress: String) -> EventLoopFuture<AdminAnswer> {
        eventLoop.flatSubmit {
            let refusal = self.handleReport { replica, now in
                replica.adminRestoreRefusal(
                    authorization: authorization, clientAddress: clientAddress, bodyBytes: body.readableBytes, now: now)
            }
            if let refusal { return self.eventLoop.makeSucceededFuture(AdminAnswer(json: refusal.json, status: refusal.status)) }
            let promise = self.eventLoop.makePromise(of: AdminAnswer.self)
            DispatchQueue.global().async {
                let bytes = Array(body.readableBytesView)
                do {
                    // The snapshot's zxid: its digest record's, or the newest any node carries.
                    let probe = try SnapshotFormat.decode(bytes, zxid: 0)
                    let newest = probe.tree.nodes.values.reduce(Int64(0)) { max($0, $1.czxid, $1.mzxid, $1.pzxid) }
                    let zxid = max(probe.digest?.zxid ?? 0, newest)
                    let contents = try SnapshotFormat.decode(bytes, zxid: zxid)
                    self.eventLoop.execute { promise.succeed(self.installRestored(contents, bytes: body, zxid: zxid)) }
                } catch {
                    self.logger.error("restore: the posted snapshot cannot be read", metadata: ["error": "\(error)"])
                    self.eventLoop.execute {
                        self.handleReport { replica, _ in replica.countRestoreError() }
                        promise.succeed(AdminAnswer(json: Self.restoreAnswer(error: "\(error)"), status: 500))
                    }
                }
            }
            return promise.futureResult
        }
    }

    static func restoreAnswer(lastZxid: Int64? = nil, error: String? = nil) -> AdminJSON {
        var fields: [(String, AdminJSON)] = lastZxid.map { [("last_zxid", .int($0))] } ?? []
        fields += [("command", .string("restore")), ("error", error.map { .string($0) } ?? .null)]
        return .object(fields)
    }

    private func installRestored(_ contents: SnapshotContents, bytes: ByteBuffer, zxid: Int64) -> AdminAnswer {
        guard let directory, let txnLog, snapshots?.isWriting != true else {
            return AdminAnswer(json: Self.restoreAnswer(error: "a snapshot is being written; retry"), status: 500)
        }
        logGeneration = txnLog.reset()
        let folder = "before-restore-\(String(UInt64(bitPattern: zxid), radix: 16))-\(Int64(Date().timeIntervalSince1970 * 1000))"
        var moved: [(from: String, to: String)] = []
        do {
            moved = try directory.moveAside(into: folder)
            _ = try directory.writeSnapshot(bytes: bytes, zxid: zxid)
        } catch {
            for file in moved.reversed() { try? PosixFile.rename(file.to, to: file.from) }
            logger.error("restore failed; the data directory is as it was", metadata: ["error": "\(error)"])
            handleReport { replica, _ in replica.countRestoreError() }
            return AdminAnswer(json: Self.restoreAnswer(error: "\(error)"), status: 500)
        }
        logger.notice("restore: the previous snapshots and logs were moved aside", metadata: ["folder": "\(folder)", "files": "\(moved.count)"])
        handle { replica, now in replica.restoreFromSnapshot(tree: contents.tree, sessionTimeouts: contents.sessions, now: now) }
        return AdminAnswer(json: Self.restoreAnswer(lastZxid: zxid))
    }

    /// ZooKeeper 3.9's `snapshot`: checks on the replica's loop, then the snapshot of the
    /// tree as it is (a persistent value: the copy costs nothing) is encoded off the loop,
    /// written to the data directory when standalone (where every applied txn is durable;
    /// an ensemble member's applied tree may run ahead of its own log, so its snapshot is
    /// only sent), and sent with `last_zxid` and `snapshot_size` headers.
    func adminSnapshot(streaming: Bool, authorization: String?, clientAddress: String) -> EventLoopFuture<AdminAnswer> {
        eventLoop.flatSubmit {
            let refusal = self.handleReport { replica, now in
                replica.adminSnapshotRefusal(authorization: authorization, clientAddress: clientAddress, now: now)
            }
            if let refusal { return self.eventLoop.makeSucceededFuture(AdminAnswer(json: refusal.json, status: refusal.status)) }
            let tree = self.replica.tree
            let sessions = self.replica.sessionTimeouts
            let directory = self.ensemble == nil ? self.directory : nil
            let promise = self.eventLoop.makePromise(of: AdminAnswer.self)
            let ok: AdminJSON = .object([("command", .string("snapshot")), ("error", .null)])
            DispatchQueue.global().async {
                let bytes = SnapshotFormat.encode(tree: tree, sessions: sessions)
                let zxid = tree.lastProcessedZxid
                let headers = [("last_zxid", "0x" + String(UInt64(bitPattern: zxid), radix: 16)), ("snapshot_size", "\(bytes.readableBytes)")]
                do {
                    if let directory { _ = try directory.writeSnapshot(bytes: bytes, zxid: zxid) }
                    promise.succeed(streaming ? AdminAnswer(octets: bytes, headers: headers) : AdminAnswer(json: ok, headers: headers))
                } catch {
                    self.logger.error("admin snapshot failed", metadata: ["error": "\(error)"])
                    self.eventLoop.execute { self.handleReport { replica, _ in replica.countSnapshotError() } }
                    promise.succeed(AdminAnswer(json: ok, status: 500))
                }
            }
            return promise.futureResult
        }
    }

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
        let batches = txnLog?.takeBatchSizes() ?? []
        let snapshotsMs = snapshots?.takeDurationsMs() ?? []
        let process = ProcessFigures.read()
        handleReport { replica, _ in
            replica.noteDiskFigures(sizes: sizes, lastSnapshot: lastSnapshot, slowSyncs: slowSyncs)
            replica.observeDurations(.fsynctime, syncs)
            replica.observeDurations(.syncProcessorBatchSize, batches)
            replica.observeDurations(.snapshottime, snapshotsMs)
            replica.fileDescriptors = (process.openFileDescriptors, process.maxFileDescriptors)
        }
    }
}
