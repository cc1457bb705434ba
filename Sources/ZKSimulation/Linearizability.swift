/// A client operation on one znode, as a history records it: when it was called, when (if
/// ever) it returned, and what it returned. An operation whose outcome is unknown (the
/// connection was lost) has no return: it may have taken effect at any time after its call,
/// or never.
public struct HistoryOperation: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case create(value: Int)
        case setData(value: Int)
        case delete
        case read
    }

    public enum Outcome: Hashable, Sendable {
        case ok
        case nodeExists
        case noNode
        case value(Int)
        /// Refused for another reason (bad arguments, no permission): nothing changed.
        case failed
        /// The client never learned the result.
        case unknown
    }

    public var path: String
    public var kind: Kind
    public var outcome: Outcome
    public var callTime: Int64
    /// Nil for an operation that never returned.
    public var returnTime: Int64?

    public init(path: String, kind: Kind, outcome: Outcome, callTime: Int64, returnTime: Int64?) {
        self.path = path
        self.kind = kind
        self.outcome = outcome
        self.callTime = callTime
        self.returnTime = returnTime
    }
}

/// Wing & Gong's linearizability check with Lowe's memoisation, per znode (operations on
/// different paths never constrain each other, so each path is checked on its own).
public enum LinearizabilityChecker {
    /// The znode as the sequential model sees it: absent, or present with a value.
    enum NodeState: Hashable {
        case absent
        case present(Int)
    }

    /// Nil when every path's history is linearizable; otherwise the first path that is not.
    public static func firstViolation(_ history: [HistoryOperation]) -> String? {
        let byPath = Dictionary(grouping: history, by: \.path)
        for path in byPath.keys.sorted() where !isLinearizable(byPath[path]!) {
            return "the history of \(path) (\(byPath[path]!.count) operations) is not linearizable"
        }
        return nil
    }

    /// The sequential specification: may `operation` happen in `state`, and what follows.
    static func step(_ state: NodeState, _ operation: HistoryOperation) -> NodeState? {
        let outcome = operation.outcome
        if outcome == .failed { return state }
        switch (operation.kind, state) {
        case (.create(let value), .absent):
            return outcome == .ok || outcome == .unknown ? .present(value) : nil
        case (.create, .present):
            return outcome == .nodeExists || outcome == .unknown ? state : nil
        case (.setData(let value), .present):
            return outcome == .ok || outcome == .unknown ? .present(value) : nil
        case (.setData, .absent), (.delete, .absent):
            return outcome == .noNode || outcome == .unknown ? state : nil
        case (.delete, .present):
            return outcome == .ok || outcome == .unknown ? .absent : nil
        case (.read, .absent):
            return outcome == .noNode || outcome == .unknown ? state : nil
        case (.read, .present(let value)):
            return outcome == .value(value) || outcome == .unknown ? state : nil
        }
    }

    struct Memo: Hashable {
        var linearized: [UInt64]
        var state: NodeState
    }

    /// One path's history, starting from an absent node.
    public static func isLinearizable(_ operations: [HistoryOperation]) -> Bool {
        guard !operations.isEmpty else { return true }
        // Events in time order (calls before returns at equal times); an operation that never
        // returned gets its return after everything else.
        let count = operations.count
        var events: [(time: Int64, isReturn: Bool, op: Int)] = []
        for (index, operation) in operations.enumerated() {
            events.append((operation.callTime, false, index))
            events.append((operation.returnTime ?? Int64.max, true, index))
        }
        events.sort { ($0.time, $0.isReturn ? 1 : 0, $0.op) < ($1.time, $1.isReturn ? 1 : 0, $1.op) }
        // A doubly linked list over the events, with a head sentinel at index `events.count`.
        let head = events.count
        var next = Array(1...events.count) + [0]
        var previous = [head] + Array(0..<(events.count - 1)) + [events.count - 1]
        next[head] = events.isEmpty ? -1 : 0
        if !events.isEmpty { next[events.count - 1] = -1 }
        var callIndex = [Int](repeating: 0, count: count), returnIndex = [Int](repeating: 0, count: count)
        for (position, event) in events.enumerated() {
            if event.isReturn { returnIndex[event.op] = position } else { callIndex[event.op] = position }
        }
        func unlink(_ position: Int) {
            next[previous[position]] = next[position]
            if next[position] != -1 { previous[next[position]] = previous[position] }
        }
        func relink(_ position: Int) {
            next[previous[position]] = position
            if next[position] != -1 { previous[next[position]] = position }
        }
        var linearized = [UInt64](repeating: 0, count: (count + 63) / 64)
        var state = NodeState.absent
        var stack: [(op: Int, state: NodeState)] = []
        var memo: Set<Memo> = []
        var cursor = next[head]
        while next[head] != -1 {
            guard cursor != -1 else { return false }
            let event = events[cursor]
            if !event.isReturn {
                let op = event.op
                if let after = step(state, operations[op]) {
                    var bits = linearized
                    bits[op / 64] |= 1 << UInt64(op % 64)
                    if memo.insert(Memo(linearized: bits, state: after)).inserted {
                        stack.append((op, state))
                        linearized = bits
                        state = after
                        unlink(callIndex[op])
                        unlink(returnIndex[op])
                        cursor = next[head]
                        continue
                    }
                }
                cursor = next[cursor]
            } else {
                // A return before its call was linearized: undo the last choice and try the next.
                guard let (op, before) = stack.popLast() else { return false }
                linearized[op / 64] &= ~(1 << UInt64(op % 64))
                state = before
                relink(returnIndex[op])
                relink(callIndex[op])
                cursor = next[callIndex[op]]
            }
        }
        return true
    }
}
