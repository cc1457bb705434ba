import HashTreeCollections

/// A znode's children, listed in the order Apache ZooKeeper lists them: the iteration order
/// of its `HashSet<String>(8)`. That order follows Java's `String.hashCode`, HashMap's bucket
/// spreading (`h ^ (h >>> 16)`, masked by the table length), the table growing from 8 by
/// doubling past a load factor of 0.75 (and when a bucket of a table shorter than 64 reaches
/// 9 entries), and insertion order within a bucket. A persistent dictionary from name to
/// insertion number holds what that order needs, so copies of the tree share structure.
///
/// Not modelled: a bucket of 9 or more in a table of 64 or more, which Java turns into a red-
/// black tree whose iteration order can differ from insertion order.
public struct ChildSet: Sendable, Sequence, ExpressibleByArrayLiteral {
    private var insertion: TreeDictionary<String, UInt32> = [:]
    private var nextInsertion: UInt32 = 0
    /// The Java table's length; 0 until the first insert allocates it.
    private var tableLength: Int32 = 0

    static let initialTableLength: Int32 = 8
    /// Java's TREEIFY_THRESHOLD and MIN_TREEIFY_CAPACITY.
    static let bucketEntriesResizing = 9
    static let treeTableLengthMin: Int32 = 64

    public init() {}

    public init(arrayLiteral names: String...) {
        for name in names { insert(name) }
    }

    public var count: Int { insertion.count }
    public var isEmpty: Bool { insertion.isEmpty }
    public func contains(_ name: String) -> Bool { insertion[name] != nil }

    public func makeIterator() -> TreeDictionary<String, UInt32>.Keys.Iterator { insertion.keys.makeIterator() }

    @discardableResult
    public mutating func insert(_ name: String) -> Bool {
        guard insertion[name] == nil else { return false }
        if tableLength == 0 { tableLength = Self.initialTableLength }
        var bucketEntries = 0
        if tableLength < Self.treeTableLengthMin {
            // Small tables only (at most 48 entries): count the bucket's entries.
            let bucket = Self.bucket(Self.javaHash(name), tableLength)
            for other in insertion.keys where Self.bucket(Self.javaHash(other), tableLength) == bucket { bucketEntries += 1 }
        }
        insertion[name] = nextInsertion
        nextInsertion &+= 1
        if bucketEntries + 1 >= Self.bucketEntriesResizing && tableLength < Self.treeTableLengthMin { tableLength *= 2 }
        if insertion.count > Int(tableLength) * 3 / 4 { tableLength *= 2 }
        return true
    }

    @discardableResult
    public mutating func remove(_ name: String) -> Bool {
        insertion.removeValue(forKey: name) != nil
    }

    /// The names in ZooKeeper's order.
    public var javaOrder: [String] {
        let length = tableLength
        return insertion.map { (name: $0.key, bucket: Self.bucket(Self.javaHash($0.key), length), insertion: $0.value) }
            .sorted { ($0.bucket, $0.insertion) < ($1.bucket, $1.insertion) }
            .map(\.name)
    }

    /// Java's `String.hashCode`: over UTF-16 code units, 32-bit wrapping.
    static func javaHash(_ name: String) -> Int32 {
        var hash: Int32 = 0
        for unit in name.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return hash
    }

    static func bucket(_ hash: Int32, _ tableLength: Int32) -> Int32 {
        let spread = hash ^ Int32(bitPattern: UInt32(bitPattern: hash) >> 16)
        return spread & (tableLength - 1)
    }
}
