import DequeModule
import Foundation
import NIOCore
import NIOPosix
import ZKClientCore
import ZKModel

/// One round against one server (or ensemble): open the sessions, set up the nodes the
/// workload needs under a directory of its own, warm up, measure, delete everything it
/// made, close the sessions.
///
/// The driver's methods run on the calling thread and wait; everything they start runs on
/// `loop`, the one event loop every connection of the round lives on.
/// `@unchecked Sendable`: after `init` its fields are only read, except `connections`,
/// which the driver fills before any phase and reads from the loop afterwards.
final class BenchRound: @unchecked Sendable {
    let options: BenchOptions
    let hosts: [HostPort]
    let loop: EventLoop
    let directory: String
    let keyPaths: [String]
    let value: [UInt8]
    private(set) var connections: [BenchConnection] = []
    let stats = RoundStats()
    /// SWIFTKEEPER_BENCH_TRACE=1 prints each phase to stderr as it starts.
    static let trace = ProcessInfo.processInfo.environment["SWIFTKEEPER_BENCH_TRACE"] != nil

    init(options: BenchOptions, hosts: [HostPort], loop: EventLoop, tag: String) {
        self.options = options
        self.hosts = hosts
        self.loop = loop
        directory = "\(BenchOptions.rootPath)/\(tag)"
        keyPaths = (0..<options.keys).map { "\(BenchOptions.rootPath)/\(tag)/k\($0)" }
        value = [UInt8](repeating: UInt8(ascii: "v"), count: options.valueBytes)
    }

    func run() throws -> RoundFigures {
        if options.workload == .churn { return try runChurn() }
        connections = try (0..<options.sessions).map { try connect(index: $0) }
        defer { for connection in connections { loop.execute { connection.close() } } }
        let plan = SetupPlan(round: self)
        try plan.setUp()
        switch options.workload {
        case .get, .exists, .set, .mixed, .multi, .create: try runPipelined()
        case .delete: try runDelete(plan)
        case .watch: try runWatch()
        case .churn: preconditionFailure("churn runs without the round's sessions")
        }
        let figures = try loop.submit { self.stats.figures() }.wait()
        try plan.cleanUp(leftoverDeletes: deleteLeftovers)
        try closeSessions()
        return figures
    }

    // MARK: - Sessions

    func connect(index: Int) throws -> BenchConnection {
        let future = openSession(index: index)
        return try wait(future, seconds: options.phaseGraceS, "session \(index) to connect")
    }

    func openSession(index: Int) -> EventLoopFuture<BenchConnection> {
        let host = hosts[index % hosts.count]
        let connection = BenchConnection(index: index, sessionTimeoutMs: options.sessionTimeoutMs, eventLoop: loop)
        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in channel.pipeline.addHandler(connection) }
            .connect(host: host.host, port: host.port)
            .flatMap { _ in connection.connectedFuture }
            .map { connection }
    }

    private func closeSessions() throws {
        try phase(connections, window: 1, "closing the sessions") { _ in
            var sent = false
            return BenchConnection.Phase(
                next: {
                    defer { sent = true }
                    return sent ? nil : .closeSession
                }, replied: { _, _, _ in })
        }
    }

    // MARK: - Phases

    /// Runs `make`'s phase on each of `connections` with `window` requests in flight and
    /// waits until all of them finished.
    func phase(
        _ connections: [BenchConnection], window: Int, _ what: String, seconds: Double? = nil,
        _ make: @escaping @Sendable (BenchConnection) -> BenchConnection.Phase
    ) throws {
        let loop = self.loop
        let future = loop.flatSubmit {
            EventLoopFuture.andAllSucceed(connections.map { $0.run(make($0), window: window) }, on: loop)
        }
        try wait(future, seconds: seconds ?? options.phaseGraceS, what)
    }

    func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Double, _ what: String) throws -> T {
        let promise = loop.makePromise(of: T.self)
        future.cascade(to: promise)
        let timer = loop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            promise.fail(BenchError.timedOut(what))
        }
        defer { timer.cancel() }
        if BenchRound.trace { FileHandle.standardError.write("bench: waiting for \(what)\n".data(using: .utf8)!) }
        return try promise.futureResult.wait()
    }

    /// Requests in flight per session while setting up and cleaning up: `setupInFlight` in
    /// all, so that setup stays below the server's throttle (ZooKeeper's
    /// globalOutstandingLimit is 1000).
    var setupWindow: Int { max(1, options.setupInFlight / options.sessions) }

    private var measuredSeconds: Double { options.warmupS + options.durationS + options.phaseGraceS }

    // MARK: - Workloads

    /// get, exists, set, mixed, multi and create: every session keeps `inFlight` requests
    /// going until the window closes.
    private func runPipelined() throws {
        let stats = self.stats
        let options = self.options
        try loop.submit { stats.start(warmupS: options.warmupS, durationS: options.durationS) }.wait()
        let createdCounter = CreatedCounter()
        try phase(connections, window: options.inFlight, "the \(options.workload) run", seconds: measuredSeconds) {
            connection in
            var random = SeededGenerator(seed: options.seed &+ UInt64(connection.index) &* 0x9E37_79B9)
            return BenchConnection.Phase(
                next: { nowNs() < stats.measureToNs ? self.request(&random) : nil },
                replied: { reply, sent, now in
                    stats.record(reply, sentNs: sent, nowNs: now)
                    if reply.opCode == .create, reply.err == 0 { createdCounter.count += 1 }
                })
        }
        createdSequentialCount = createdCounter.count
    }

    /// Sequential nodes the create run made under `directory/c` (named n-0000000000 on up,
    /// since the parent is new and nothing under it is deleted meanwhile).
    var createdSequentialCount = 0
    /// Nodes the delete run made and did not get to delete.
    var deleteLeftovers: [String] = []

    private func request(_ random: inout SeededGenerator) -> ClientRequest {
        func key() -> String { keyPaths[Int(random.next() % UInt64(keyPaths.count))] }
        switch options.workload {
        case .get: return .getData(path: key(), watch: false)
        case .exists: return .exists(path: key(), watch: false)
        case .set: return .setData(path: key(), data: value, version: -1)
        case .mixed:
            let read = Int(random.next() % 100) < options.readPercent
            return read ? .getData(path: key(), watch: false) : .setData(path: key(), data: value, version: -1)
        case .multi:
            return .multi((0..<BenchOptions.opsPerMulti).map { _ in .setData(path: key(), data: value, version: -1) })
        case .create:
            return .create(path: "\(directory)/c/n-", data: value, acl: ACL.openACLUnsafe, mode: .persistentSequential)
        case .delete, .watch, .churn:
            preconditionFailure("\(options.workload) does not pipeline random requests")
        }
    }
}

/// Counts successful creates on the loop. `@unchecked Sendable`: loop-confined.
final class CreatedCounter: @unchecked Sendable {
    var count = 0
}
