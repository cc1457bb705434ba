import ZKModel

/// Identifies who holds a watch: one client connection (watches are per connection).
public typealias WatcherID = Int64

/// The modes one watcher holds on one path; a watcher may hold several at once (a one-shot
/// getData watch beside a persistent addWatch), as in ZooKeeper 3.9's `WatchStats`.
public struct WatchModes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let standard = WatchModes(rawValue: 1)
    public static let persistent = WatchModes(rawValue: 2)
    public static let persistentRecursive = WatchModes(rawValue: 4)
    public static let all: WatchModes = [.standard, .persistent, .persistentRecursive]
}

/// ZooKeeper's two watch tables (data/exist and child) with one-shot, persistent and
/// persistent-recursive modes (`WatchManager` of 3.9).
public struct WatchTable: Sendable {
    public typealias Entries = [String: [WatcherID: WatchModes]]
    public private(set) var dataWatches: Entries = [:]
    public private(set) var childWatches: Entries = [:]
    private var recursiveWatchCount = 0
    /// Paths each watcher holds anything on, so a closing connection is cleaned up in O(its watches).
    private var pathsByWatcher: [WatcherID: Set<String>] = [:]

    public init() {}

    public enum Table: Sendable { case data, child }

    public mutating func add(_ watcher: WatcherID, path: String, table: Table, mode: WatchModes) {
        let (old, new): (WatchModes, WatchModes)
        switch table {
        case .data: (old, new) = Self.insert(watcher, path, mode, into: &dataWatches)
        case .child: (old, new) = Self.insert(watcher, path, mode, into: &childWatches)
        }
        countRecursive(old: old, new: new)
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

    private static func insert(_ watcher: WatcherID, _ path: String, _ mode: WatchModes, into table: inout Entries) -> (WatchModes, WatchModes) {
        let old = table[path]?[watcher] ?? []
        let new = old.union(mode)
        table[path, default: [:]][watcher] = new
        return (old, new)
    }

    private mutating func forgetIfUnwatched(_ watcher: WatcherID, _ path: String) {
        if dataWatches[path]?[watcher] == nil && childWatches[path]?[watcher] == nil {
            pathsByWatcher[watcher]?.remove(path)
            if pathsByWatcher[watcher]?.isEmpty == true { pathsByWatcher[watcher] = nil }
        }
    }

    private mutating func countRecursive(old: WatchModes, new: WatchModes) {
        if !old.contains(.persistentRecursive) && new.contains(.persistentRecursive) { recursiveWatchCount += 1 }
        if old.contains(.persistentRecursive) && !new.contains(.persistentRecursive) { recursiveWatchCount -= 1 }
    }

    /// Fires the watches a change triggers and returns who gets the event, sorted. One-shot
    /// modes are consumed. A deletion fires the data and child tables of the node but
    /// notifies each watcher once.
    public mutating func fire(_ trigger: WatchTrigger) -> [WatcherID] {
        var delivered = Set<WatcherID>()
        switch trigger.type {
        case .nodeCreated, .nodeDataChanged:
            Self.fire(&dataWatches, path: trigger.path, recursive: recursiveWatchCount > 0, into: &delivered)
        case .nodeDeleted:
            Self.fire(&dataWatches, path: trigger.path, recursive: recursiveWatchCount > 0, into: &delivered)
            Self.fire(&childWatches, path: trigger.path, recursive: false, into: &delivered)
        case .nodeChildrenChanged:
            Self.fire(&childWatches, path: trigger.path, recursive: false, into: &delivered)
        default:
            break
        }
        let result = delivered.sorted()
        for watcher in result { forgetIfUnwatched(watcher, trigger.path) }
        return result
    }

    /// One-shot modes consumed here never include recursive ones, so the recursive count is unchanged.
    private static func fire(_ table: inout Entries, path: String, recursive: Bool, into delivered: inout Set<WatcherID>) {
        if var onPath = table[path] {
            for (watcher, modes) in onPath {
                delivered.insert(watcher)
                if modes.contains(.standard) {
                    let remaining = modes.subtracting(.standard)
                    onPath[watcher] = remaining.isEmpty ? nil : remaining
                }
            }
            table[path] = onPath.isEmpty ? nil : onPath
        }
        guard recursive else { return }
        for ancestor in PathRules.ancestors(of: path) {
            for (watcher, modes) in table[ancestor] ?? [:] where modes.contains(.persistentRecursive) {
                delivered.insert(watcher)
            }
        }
    }

    /// Drops every watch of a closed connection.
    public mutating func removeWatcher(_ watcher: WatcherID) {
        for path in pathsByWatcher.removeValue(forKey: watcher) ?? [] {
            let (old, new) = Self.remove(watcher, path: path, modes: .all, from: &dataWatches)
            countRecursive(old: old, new: new)
            _ = Self.remove(watcher, path: path, modes: .all, from: &childWatches)
        }
    }

    /// Removes `modes`; returns the watcher's modes before and after (equal when nothing matched).
    private static func remove(_ watcher: WatcherID, path: String, modes: WatchModes, from table: inout Entries) -> (WatchModes, WatchModes) {
        guard let old = table[path]?[watcher], !old.isDisjoint(with: modes) else { return ([], []) }
        let new = old.subtracting(modes)
        table[path]?[watcher] = new.isEmpty ? nil : new
        if table[path]?.isEmpty == true { table[path] = nil }
        return (old, new)
    }

    /// Which modes of which table a `WatcherType` names (3.9's `DataTree.containsWatcher`).
    private static func selection(_ type: WatcherType) -> (data: WatchModes, child: WatchModes) {
        switch type {
        case .children: return ([], .standard)
        case .data: return (.standard, [])
        case .persistent: return (.persistent, .persistent)
        case .persistentRecursive: return (.persistentRecursive, [])
        case .any: return (.all, .all)
        }
    }

    /// checkWatches: does `watcher` hold a watch of `type` on `path`?
    public func contains(_ watcher: WatcherID, path: String, type: WatcherType) -> Bool {
        let (data, child) = Self.selection(type)
        let inData = !(dataWatches[path]?[watcher] ?? []).isDisjoint(with: data)
        let inChild = !(childWatches[path]?[watcher] ?? []).isDisjoint(with: child)
        return inData || inChild
    }

    /// removeWatches: removes the watches of `type` on `path`; false when there were none.
    public mutating func remove(_ watcher: WatcherID, path: String, type: WatcherType) -> Bool {
        let (data, child) = Self.selection(type)
        let (childOld, childNew) = Self.remove(watcher, path: path, modes: child, from: &childWatches)
        let (dataOld, dataNew) = Self.remove(watcher, path: path, modes: data, from: &dataWatches)
        countRecursive(old: dataOld, new: dataNew)
        forgetIfUnwatched(watcher, path)
        return childOld != childNew || dataOld != dataNew
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
