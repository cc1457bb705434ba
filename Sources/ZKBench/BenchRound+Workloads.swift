import DequeModule
import NIOCore
import ZKClientCore
import ZKModel

/// Nodes one session created for the delete run, oldest first. `@unchecked Sendable`: loop-confined.
final class DeletePool: @unchecked Sendable {
    var created: Deque<String> = []
}

/// The watched node's fan-out, cycle after cycle. `@unchecked Sendable`: loop-confined.
final class FanOut: @unchecked Sendable {
    var firedNs: UInt64 = 0
    var notifiedCount = 0
    var allNotified: EventLoopPromise<Void>?
}

extension BenchRound {
    /// Every session first creates nodes of its own (not measured) for 1.5× the warm-up and
    /// the window, then deletes them in order; the window closes early if a session runs out.
    func runDelete(_ plan: SetupPlan) throws {
        let options = self.options
        let stats = self.stats
        let pools = connections.map { _ in DeletePool() }
        let fillS = 1.5 * (options.warmupS + options.durationS)
        let directory = self.directory
        let value = self.value
        try phase(connections, window: options.inFlight, "creating nodes to delete", seconds: fillS + options.phaseGraceS) {
            connection in
            let pool = pools[connection.index]
            let fillEndNs = nowNs() + UInt64(fillS * 1e9)
            var sent: Deque<String> = []
            var next = 0
            return BenchConnection.Phase(
                next: {
                    guard nowNs() < fillEndNs else { return nil }
                    let path = "\(directory)/d/s\(connection.index)-\(next)"
                    next += 1
                    sent.append(path)
                    return .create(path: path, data: value, acl: ACL.openACLUnsafe, mode: .persistent)
                },
                replied: { reply, _, _ in
                    let path = sent.removeFirst()
                    if reply.err == 0 { pool.created.append(path) }
                })
        }
        try loop.submit { stats.start(warmupS: options.warmupS, durationS: options.durationS) }.wait()
        try phase(connections, window: options.inFlight, "the delete run", seconds: options.warmupS + options.durationS + options.phaseGraceS) {
            connection in
            let pool = pools[connection.index]
            return BenchConnection.Phase(
                next: {
                    let now = nowNs()
                    guard now < stats.windowEndNs else { return nil }
                    guard let path = pool.created.popFirst() else {
                        stats.ranOutNs = min(stats.ranOutNs, now)
                        return nil
                    }
                    return .delete(path: path, version: -1)
                },
                replied: { reply, sent, now in stats.record(reply, sentNs: sent, nowNs: now) })
        }
        let leftovers = try loop.submit { pools.flatMap { Array($0.created) } }.wait()
        deleteLeftovers = leftovers
    }

    /// Every session watches `directory/w` (getData with a watch); session 0 sets it; the
    /// cycle repeats once every session got its notification. A latency is the time from
    /// sending the setData to one session's notification.
    func runWatch() throws {
        let options = self.options
        let stats = self.stats
        let connections = self.connections
        let watched = "\(directory)/w"
        let value = self.value
        let fanOut = FanOut()
        let loop = self.loop
        try loop.submit {
            stats.start(warmupS: options.warmupS, durationS: options.durationS)
            for connection in connections {
                connection.notified = { event, now in
                    guard event.path == watched, event.type == .nodeDataChanged else { return }
                    if stats.inWindow(now) { stats.record(latencyNs: now - fanOut.firedNs) }
                    fanOut.notifiedCount += 1
                    if fanOut.notifiedCount == connections.count { fanOut.allNotified?.succeed(()) }
                }
            }
        }.wait()
        @Sendable func cycle() -> EventLoopFuture<Void> {
            guard nowNs() < stats.measureToNs else { return loop.makeSucceededVoidFuture() }
            let armed = connections.map { $0.run(WorkList([.getData(path: watched, watch: true)]).phase(), window: 1) }
            return EventLoopFuture.andAllSucceed(armed, on: loop).flatMap {
                let notified = loop.makePromise(of: Void.self)
                fanOut.notifiedCount = 0
                fanOut.allNotified = notified
                fanOut.firedNs = nowNs()
                let set = connections[0].run(WorkList([.setData(path: watched, data: value, version: -1)]).phase(), window: 1)
                return set.and(notified.futureResult).flatMap { _ in cycle() }
            }
        }
        let future = loop.flatSubmit { cycle() }
        try wait(future, seconds: options.warmupS + options.durationS + options.phaseGraceS, "the watch run")
    }

    /// `sessions` slots each open a session, close it, and open the next; a latency is the
    /// time from starting the TCP connection to the closeSession reply.
    func runChurn() throws -> RoundFigures {
        let options = self.options
        let stats = self.stats
        let loop = self.loop
        try loop.submit { stats.start(warmupS: options.warmupS, durationS: options.durationS) }.wait()
        @Sendable func cycle(slot: Int, serial: Int) -> EventLoopFuture<Void> {
            let start = nowNs()
            guard start < stats.measureToNs else { return loop.makeSucceededVoidFuture() }
            return openSession(index: slot + serial * options.sessions).flatMap { connection in
                connection.run(WorkList([.closeSession]).phase(), window: 1).always { _ in connection.close() }
            }.flatMap {
                let now = nowNs()
                if stats.inWindow(now) { stats.record(latencyNs: now - start) }
                return cycle(slot: slot, serial: serial + 1)
            }
        }
        let future = loop.flatSubmit {
            EventLoopFuture.andAllSucceed((0..<options.sessions).map { cycle(slot: $0, serial: 0) }, on: loop)
        }
        try wait(future, seconds: options.warmupS + options.durationS + options.phaseGraceS, "the churn run")
        return try loop.submit { stats.figures() }.wait()
    }
}
