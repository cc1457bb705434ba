/// A min-heap of timed events; ties keep insertion order, so runs are deterministic.
struct EventQueue<Event> {
    private var heap: [(time: Int64, sequence: UInt64, event: Event)] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ event: Event, at time: Int64) {
        heap.append((time, nextSequence, event))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && Self.before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.before(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }

    /// Removes every event `matching` says to drop (a connection reset losing its messages).
    mutating func removeAll(where matching: (Event) -> Bool) {
        let kept = heap.filter { !matching($0.event) }.sorted { Self.before($0, $1) }
        heap = kept
    }

    static func before(_ a: (time: Int64, sequence: UInt64, event: Event), _ b: (time: Int64, sequence: UInt64, event: Event)) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }
}

/// FNV-1a over the event trace: two runs of one seed must give the same value.
struct TraceHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    /// When set, the trace is also kept as text (`swiftkeeper sim --trace`).
    var lines: [String]?

    mutating func add(_ text: String) {
        lines?.append(text)
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
    }
}
