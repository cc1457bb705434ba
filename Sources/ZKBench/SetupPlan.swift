import DequeModule
import ZKClientCore
import ZKModel

/// Requests every connection of a phase takes from, until none are left.
/// `@unchecked Sendable`: loop-confined.
final class WorkList: @unchecked Sendable {
    var requests: Deque<ClientRequest>
    /// Error codes that are fine for this list (e.g. NODEEXISTS for the root).
    let allowedErrors: Set<Int32>
    var unexpected: [Int32: Int] = [:]

    init(_ requests: [ClientRequest], allowedErrors: Set<Int32> = []) {
        self.requests = Deque(requests)
        self.allowedErrors = allowedErrors
    }

    func phase() -> BenchConnection.Phase {
        BenchConnection.Phase(
            next: { self.requests.popFirst() },
            replied: { reply, _, _ in
                if reply.err != 0, !self.allowedErrors.contains(reply.err) { self.unexpected[reply.err, default: 0] += 1 }
            })
    }

    var failureText: String? {
        unexpected.isEmpty ? nil : unexpected.sorted { $0.key < $1.key }.map { "error \($0.key) ×\($0.value)" }.joined(separator: ", ")
    }
}

/// The nodes a round makes before measuring and deletes after.
struct SetupPlan {
    let round: BenchRound

    static let nodeExists = ErrorCode.nodeExists.rawValue
    static let noNode = ErrorCode.noNode.rawValue
    static let notEmpty = ErrorCode.notEmpty.rawValue

    /// Subdirectories the workload uses: c (sequential creates), d (deletes), w (the watched node).
    var subdirectories: [String] {
        switch round.options.workload {
        case .create: return ["c"]
        case .delete: return ["d"]
        case .watch: return ["w"]
        default: return []
        }
    }

    func setUp() throws {
        let directory = round.directory
        let value = round.value
        let first = [round.connections[0]]
        // In order on one session: the shared root (which may exist), this round's directory, its parts.
        let skeleton = WorkList(
            [.create(path: BenchOptions.rootPath, data: [], acl: ACL.openACLUnsafe, mode: .persistent)]
                + ([directory] + subdirectories.map { "\(directory)/\($0)" }).map {
                    .create(path: $0, data: [], acl: ACL.openACLUnsafe, mode: .persistent)
                }, allowedErrors: [Self.nodeExists])
        try run(skeleton, on: first, window: 1, "creating \(directory)")
        if usesKeys {
            let keys = WorkList(round.keyPaths.map { .create(path: $0, data: value, acl: ACL.openACLUnsafe, mode: .persistent) })
            try run(keys, on: round.connections, window: round.setupWindow, "creating \(round.keyPaths.count) keys")
        }
        // Every member a session is on has applied the setup before anyone measures.
        try round.phase(round.connections, window: 1, "sync before measuring") { _ in
            WorkList([.sync(path: directory)]).phase()
        }
    }

    func cleanUp(leftoverDeletes: [String] = []) throws {
        let directory = round.directory
        var paths = usesKeys ? round.keyPaths : []
        paths += (0..<round.createdSequentialCount).map { "\(directory)/c/n-\(Self.sequenceSuffix($0))" }
        paths += leftoverDeletes
        let children = WorkList(paths.map { .delete(path: $0, version: -1) })
        try run(children, on: round.connections, window: round.setupWindow, "deleting \(paths.count) nodes")
        let skeleton = WorkList(
            (subdirectories.map { "\(directory)/\($0)" } + [directory]).map { .delete(path: $0, version: -1) }
                + [.delete(path: BenchOptions.rootPath, version: -1)],
            allowedErrors: [Self.notEmpty])
        try run(skeleton, on: [round.connections[0]], window: 1, "deleting \(directory)")
    }

    private var usesKeys: Bool {
        switch round.options.workload {
        case .get, .exists, .set, .mixed, .multi: return true
        case .create, .delete, .watch, .churn: return false
        }
    }

    private func run(_ list: WorkList, on connections: [BenchConnection], window: Int, _ what: String) throws {
        try round.phase(connections, window: window, what) { _ in list.phase() }
        if let failure = try round.loop.submit({ list.failureText }).wait() {
            throw BenchError.setup("\(what): \(failure)")
        }
    }

    /// ZooKeeper's sequential suffix: the parent's cversion in 10 digits.
    static func sequenceSuffix(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}
