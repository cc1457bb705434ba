import ZKModel

/// Identifies who holds a watch: one client connection (watches are per connection).
public typealias WatcherID = Int64

public enum WatchMode: Hashable, Sendable {
    case standard
    case persistent
    case persistentRecursive
}

/// ZooKeeper's two watch tables (data/exist and child) with one-shot, persistent and
/// persistent-recursive modes (`WatchManager`).
public struct WatchTable: Sendable {
    public private(set) var dataWatches: [String: [WatcherID: WatchMode]] = [:]
    public private(set) var childWatches: [String: [WatcherID: WatchMode]] = [:]
    private var pathsByWatcher: [WatcherID: Set<String>] = [:]
    private var recursiveWatchCount = 0

    public init() {}

    public enum Table: Sendable { case data, child }

    public mutating func add(_ watcher: WatcherID, path: String, table: Table, mode: WatchMode) {
        switch table {
        case .data: Self.insert(watcher, path, mode, into: &dataWatches, recursiveCount: &recursiveWatchCount)
        case .child: Self.insert(watcher, path, mode, into: &childWatches, recursiveCount: &recursiveWatchCount)
        }
        pathsByWatcher[watcher, default: []].insert(path)
    }

    /// `addWatch`: persistent watches live in both tables, recursive ones in the data table only.
    public mutating func addPersistent(_ watcher: WatcherID, path: String, mode: AddWatchMode) {
        switch mode {
        case .persistent:
            add(watcher, path: path, table: .data, mode: .persistent)
            add(watcher, path: path, table: .child, mode: .persistent)
        case .persistentRecursive:
            add(watcher, path: path, table: .data, mode: .persistentRecursive)
        }
    }

    private static func insert(
        _ watcher: WatcherID, _ path: String, _ mode: WatchMode, into table: inout [String: [WatcherID: WatchMode]],
        recursiveCount: inout Int
    ) {
        let existing = table[path]?[watcher]
        // A one-shot registration never downgrades a persistent watch on the same path.
        if mode == .standard, let existing, existing != .standard { return }
        if existing == .persistentRecursive { recursiveCount -= 1 }
        if mode == .persistentRecursive { recursiveCount += 1 }
        table[path, default: [:]][watcher] = mode
    }

    /// Fires the watches a change triggers and returns who gets the event, sorted. One-shot
    /// watches are removed. A deletion fires the data and child tables of the node but
    /// notifies each watcher once.
    public mutating func fire(_ trigger: WatchTrigger) -> [WatcherID] {
        var delivered = Set<WatcherID>()
        switch trigger.type {
        case .nodeCreated, .nodeDataChanged:
            fireTable(.data, path: trigger.path, into: &delivered)
        case .nodeDeleted:
            fireTable(.data, path: trigger.path, into: &delivered)
            fireTable(.child, path: trigger.path, into: &delivered)
        case .nodeChildrenChanged:
            fireTable(.child, path: trigger.path, into: &delivered)
        default:
            break
        }
        return delivered.sorted()
    }

    private mutating func fireTable(_ table: Table, path: String, into delivered: inout Set<WatcherID>) {
        var watchers = table == .data ? dataWatches : childWatches
        defer { if table == .data { dataWatches = watchers } else { childWatches = watchers } }
        if let onPath = watchers[path] {
            var remaining = onPath
            for (watcher, mode) in onPath {
                delivered.insert(watcher)
                if mode == .standard {
                    remaining[watcher] = nil
                    forgetPathIfUnused(watcher, path, dataTableAfter: table == .data ? remaining : dataWatches[path])
                }
            }
            watchers[path] = remaining.isEmpty ? nil : remaining
        }
        guard table == .data, recursiveWatchCount > 0 else { return }
        for ancestor in PathRules.ancestors(of: path) {
            for (watcher, mode) in watchers[ancestor] ?? [:] where mode == .persistentRecursive {
                delivered.insert(watcher)
            }
        }
    }

    private mutating func forgetPathIfUnused(_ watcher: WatcherID, _ path: String, dataTableAfter: [WatcherID: WatchMode]?) {
        let inData = dataTableAfter?[watcher] != nil
        let inChild = childWatches[path]?[watcher] != nil
        if !inData && !inChild {
            pathsByWatcher[watcher]?.remove(path)
        }
    }

    /// Drops every watch of a closed connection.
    public mutating func removeWatcher(_ watcher: WatcherID) {
        guard let paths = pathsByWatcher.removeValue(forKey: watcher) else { return }
        for path in paths {
            if let mode = dataWatches[path]?.removeValue(forKey: watcher), mode == .persistentRecursive {
                recursiveWatchCount -= 1
            }
            if dataWatches[path]?.isEmpty == true { dataWatches[path] = nil }
            childWatches[path]?[watcher] = nil
            if childWatches[path]?.isEmpty == true { childWatches[path] = nil }
        }
    }

    /// The modes that `WatcherType` selects in each table (nil = any mode).
    private static func selection(_ type: WatcherType) -> (data: [WatchMode]?, child: [WatchMode]?) {
        switch type {
        case .children: return (nil, [.standard, .persistent])
        case .data: return ([.standard, .persistent, .persistentRecursive], nil)
        case .any: return ([.standard, .persistent, .persistentRecursive], [.standard, .persistent])
        case .persistent: return ([.persistent], [.persistent])
        case .persistentRecursive: return ([.persistentRecursive], nil)
        }
    }

    /// checkWatches: does `watcher` hold a watch of `type` on `path`?
    public func contains(_ watcher: WatcherID, path: String, type: WatcherType) -> Bool {
        let (dataModes, childModes) = Self.selection(type)
        if let dataModes, let mode = dataWatches[path]?[watcher], dataModes.contains(mode) { return true }
        if let childModes, let mode = childWatches[path]?[watcher], childModes.contains(mode) { return true }
        return false
    }

    /// removeWatches: removes the watches of `type` on `path`; false when there were none.
    public mutating func remove(_ watcher: WatcherID, path: String, type: WatcherType) -> Bool {
        let (dataModes, childModes) = Self.selection(type)
        var removed = false
        if let dataModes, let mode = dataWatches[path]?[watcher], dataModes.contains(mode) {
            dataWatches[path]?[watcher] = nil
            if dataWatches[path]?.isEmpty == true { dataWatches[path] = nil }
            if mode == .persistentRecursive { recursiveWatchCount -= 1 }
            removed = true
        }
        if let childModes, let mode = childWatches[path]?[watcher], childModes.contains(mode) {
            childWatches[path]?[watcher] = nil
            if childWatches[path]?.isEmpty == true { childWatches[path] = nil }
            removed = true
        }
        if dataWatches[path]?[watcher] == nil && childWatches[path]?[watcher] == nil {
            pathsByWatcher[watcher]?.remove(path)
        }
        return removed
    }

    // MARK: - Reports for the four-letter words

    /// Paths watched by each watcher in the data table (what `wchc` shows).
    public func dataPathsByWatcher() -> [(WatcherID, [String])] {
        var result: [WatcherID: [String]] = [:]
        for (path, watchers) in dataWatches {
            for watcher in watchers.keys { result[watcher, default: []].append(path) }
        }
        return result.keys.sorted().map { ($0, result[$0]!.sorted()) }
    }

    public var dataWatchCount: Int { dataWatches.values.reduce(0) { $0 + $1.count } }
    public var totalWatchCount: Int { dataWatchCount + childWatches.values.reduce(0) { $0 + $1.count } }
    public var dataWatchedPathCount: Int { dataWatches.count }
    public var dataWatcherCount: Int { Set(dataWatches.values.flatMap(\.keys)).count }
}
