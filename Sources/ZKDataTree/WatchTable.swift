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

/// The watchers of one path in one table. Nearly every watched path has one watcher, kept
/// inline, so a watch costs one dictionary slot rather than a dictionary of its own.
enum PathWatchers: Sendable {
    case one(WatcherID, WatchModes)
    case many([WatcherID: WatchModes])

    func modes(of watcher: WatcherID) -> WatchModes {
        switch self {
        case .one(let id, let modes): return id == watcher ? modes : []
        case .many(let all): return all[watcher] ?? []
        }
    }

    var entries: [(WatcherID, WatchModes)] {
        switch self {
        case .one(let id, let modes): return [(id, modes)]
        case .many(let all): return all.map { ($0.key, $0.value) }
        }
    }

    /// These watchers with `watcher` holding `modes` (none removes it); nil when none is left.
    static func setting(_ watchers: PathWatchers?, _ watcher: WatcherID, _ modes: WatchModes) -> PathWatchers? {
        var all: [WatcherID: WatchModes]
        switch watchers {
        case nil:
            return modes.isEmpty ? nil : .one(watcher, modes)
        case .one(let id, let held):
            if id == watcher { return modes.isEmpty ? nil : .one(watcher, modes) }
            if modes.isEmpty { return watchers }
            all = [id: held]
        case .many(let held):
            all = held
        }
        all[watcher] = modes.isEmpty ? nil : modes
        if all.count == 1, let (id, held) = all.first { return .one(id, held) }
        return all.isEmpty ? nil : .many(all)
    }
}

/// ZooKeeper's two watch tables (data/exist and child) with one-shot, persistent and
/// persistent-recursive modes (`WatchManager` of 3.9). Every change costs in proportion to
/// the watches it touches; the counts `mntr` reports are kept as the tables change.
public struct WatchTable: Sendable {
    public enum Table: Sendable { case data, child }

    private var dataWatches: [String: PathWatchers] = [:]
    private var childWatches: [String: PathWatchers] = [:]
    /// What each watcher holds, path by path (bit 0: data table, bit 1: child table), so a
    /// closing connection is cleaned up in O(its watches).
    private var pathsByWatcher: [WatcherID: [String: UInt8]] = [:]
    private var recursiveWatchCount = 0
    /// (path, watcher) entries in the data table and in the child table.
    public private(set) var dataWatchCount = 0
    public private(set) var childWatchCount = 0

    public init() {}

    public var totalWatchCount: Int { dataWatchCount + childWatchCount }
    /// Paths and tables a watcher holds watches on (what one connection costs).
    public func watchCount(of watcher: WatcherID) -> Int { pathsByWatcher[watcher]?.count ?? 0 }

    private static func bit(_ table: Table) -> UInt8 { table == .data ? 1 : 2 }

    /// Changes one watcher's modes on one path and keeps every count and index current;
    /// returns the modes before and after.
    @discardableResult
    private mutating func update(_ table: Table, _ path: String, _ watcher: WatcherID, _ change: (WatchModes) -> WatchModes) -> (WatchModes, WatchModes) {
        let current = table == .data ? dataWatches[path] : childWatches[path]
        let old = current?.modes(of: watcher) ?? []
        let new = change(old)
        guard new != old else { return (old, new) }
        let updated = PathWatchers.setting(current, watcher, new)
        switch table {
        case .data: dataWatches[path] = updated
        case .child: childWatches[path] = updated
        }
        let delta = (new.isEmpty ? 0 : 1) - (old.isEmpty ? 0 : 1)
        if table == .data {
            dataWatchCount += delta
            if !old.contains(.persistentRecursive) && new.contains(.persistentRecursive) { recursiveWatchCount += 1 }
            if old.contains(.persistentRecursive) && !new.contains(.persistentRecursive) { recursiveWatchCount -= 1 }
        } else {
            childWatchCount += delta
        }
        if delta > 0 {
            pathsByWatcher[watcher, default: [:]][path, default: 0] |= Self.bit(table)
        } else if delta < 0 {
            let bits = (pathsByWatcher[watcher]?[path] ?? 0) & ~Self.bit(table)
            pathsByWatcher[watcher]?[path] = bits == 0 ? nil : bits
            if pathsByWatcher[watcher]?.isEmpty == true { pathsByWatcher[watcher] = nil }
        }
        return (old, new)
    }

    public mutating func add(_ watcher: WatcherID, path: String, table: Table, mode: WatchModes) {
        update(table, path, watcher) { $0.union(mode) }
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

    /// Fires the watches a change triggers and returns who gets the event, sorted. One-shot
    /// modes are consumed. A deletion fires the data and child tables of the node but
    /// notifies each watcher once.
    public mutating func fire(_ trigger: WatchTrigger) -> [WatcherID] {
        var delivered = Set<WatcherID>()
        switch trigger.type {
        case .nodeCreated, .nodeDataChanged:
            fire(.data, path: trigger.path, recursive: recursiveWatchCount > 0, into: &delivered)
        case .nodeDeleted:
            fire(.data, path: trigger.path, recursive: recursiveWatchCount > 0, into: &delivered)
            fire(.child, path: trigger.path, recursive: false, into: &delivered)
        case .nodeChildrenChanged:
            fire(.child, path: trigger.path, recursive: false, into: &delivered)
        default:
            break
        }
        return delivered.sorted()
    }

    /// One-shot modes consumed here never include recursive ones.
    private mutating func fire(_ table: Table, path: String, recursive: Bool, into delivered: inout Set<WatcherID>) {
        let onPath = table == .data ? dataWatches[path] : childWatches[path]
        for (watcher, modes) in onPath?.entries ?? [] {
            delivered.insert(watcher)
            if modes.contains(.standard) { update(table, path, watcher) { $0.subtracting(.standard) } }
        }
        guard recursive else { return }
        for ancestor in PathRules.ancestors(of: path) {
            for (watcher, modes) in dataWatches[ancestor]?.entries ?? [] where modes.contains(.persistentRecursive) {
                delivered.insert(watcher)
            }
        }
    }

    /// Drops every watch of a closed connection.
    public mutating func removeWatcher(_ watcher: WatcherID) {
        // Taken out first, so the updates below find no index to keep (and copy) for it.
        for (path, bits) in pathsByWatcher.removeValue(forKey: watcher) ?? [:] {
            if bits & Self.bit(.data) != 0 { update(.data, path, watcher) { _ in [] } }
            if bits & Self.bit(.child) != 0 { update(.child, path, watcher) { _ in [] } }
        }
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
        let inData = !(dataWatches[path]?.modes(of: watcher) ?? []).isDisjoint(with: data)
        let inChild = !(childWatches[path]?.modes(of: watcher) ?? []).isDisjoint(with: child)
        return inData || inChild
    }

    /// removeWatches: removes the watches of `type` on `path`; false when there were none.
    public mutating func remove(_ watcher: WatcherID, path: String, type: WatcherType) -> Bool {
        let (data, child) = Self.selection(type)
        let (childOld, childNew) = update(.child, path, watcher) { $0.subtracting(child) }
        let (dataOld, dataNew) = update(.data, path, watcher) { $0.subtracting(data) }
        return childOld != childNew || dataOld != dataNew
    }

    // MARK: - Reports for the four-letter words (these walk the table, as ZooKeeper's do)

    /// Paths watched by each watcher in the data table (what `wchc` shows).
    public func dataPathsByWatcher() -> [(WatcherID, [String])] {
        pathsByWatcher.keys.sorted().compactMap { watcher in
            let paths = pathsByWatcher[watcher]!.filter { $0.value & Self.bit(.data) != 0 }.keys.sorted()
            return paths.isEmpty ? nil : (watcher, paths)
        }
    }

    /// Watchers of each path in the data table (what `wchp` shows), paths and watchers sorted.
    public func dataWatchersByPath() -> [(String, [WatcherID])] {
        dataWatches.keys.sorted().map { path in (path, dataWatches[path]!.entries.map(\.0).sorted()) }
    }

    public var dataWatchedPathCount: Int { dataWatches.count }
    public var dataWatcherCount: Int { pathsByWatcher.values.filter { $0.values.contains { $0 & Self.bit(.data) != 0 } }.count }
}
