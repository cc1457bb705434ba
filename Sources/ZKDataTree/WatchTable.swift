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

/// What one watcher holds: the paths it was given watches on, appended as they come (a
/// path may repeat or be stale after its watch fired; the list is compacted when it grows
/// past twice what is live), and its live entry counts per table.
struct WatcherPaths: Sendable {
    var paths: [String] = []
    var dataEntries = 0
    var childEntries = 0
    var recursiveEntries = 0
    var live: Int { dataEntries + childEntries }
}

/// ZooKeeper's two watch tables (data/exist and child) with one-shot, persistent and
/// persistent-recursive modes (`WatchManager` of 3.9). Every change costs in proportion to
/// the watches it touches, and the counts `mntr` reports are kept as the tables change.
/// A closed connection's watches leave the counts at once and the tables in slices
/// (`sweep`), so a connection holding a million watches does not stall the server when it
/// goes; tables that emptied out are rebuilt smaller, so their memory is given back.
public struct WatchTable: Sendable {
    public enum Table: Sendable { case data, child }

    private var dataWatches: [String: PathWatchers] = [:]
    private var childWatches: [String: PathWatchers] = [:]
    private var watchers: [WatcherID: WatcherPaths] = [:]
    /// Closed watchers whose entries are still in the tables, and their paths to sweep.
    private var closed: Set<WatcherID> = []
    private var sweepQueue: [(watcher: WatcherID, paths: [String])] = []
    private var sweepPosition = 0
    private var recursiveWatchCount = 0
    /// Live (path, watcher) entries in the data table and in the child table.
    public private(set) var dataWatchCount = 0
    public private(set) var childWatchCount = 0

    public init() {}

    public var totalWatchCount: Int { dataWatchCount + childWatchCount }
    /// Watches one watcher holds (what one connection costs).
    public func watchCount(of watcher: WatcherID) -> Int { watchers[watcher]?.live ?? 0 }
    /// Entries of closed connections not swept from the tables yet.
    public var sweepPending: Bool { !sweepQueue.isEmpty }

    /// Changes one live watcher's modes on one path and keeps every count and index
    /// current; returns the modes before and after.
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
        let recursiveDelta = (new.contains(.persistentRecursive) ? 1 : 0) - (old.contains(.persistentRecursive) ? 1 : 0)
        if table == .data {
            dataWatchCount += delta
            recursiveWatchCount += recursiveDelta
        } else {
            childWatchCount += delta
        }
        var held = watchers.removeValue(forKey: watcher) ?? WatcherPaths()
        if delta > 0 { held.paths.append(path) }
        if table == .data {
            held.dataEntries += delta
            held.recursiveEntries += recursiveDelta
        } else {
            held.childEntries += delta
        }
        if held.live == 0 {
            return (old, new)  // nothing left: the watcher's list goes
        }
        if held.paths.count > 2 * held.live + 16 { compact(&held, watcher) }
        watchers[watcher] = held
        return (old, new)
    }

    /// Drops a watcher's stale and repeated paths (amortized: the list at most doubles).
    private func compact(_ held: inout WatcherPaths, _ watcher: WatcherID) {
        var seen = Set<String>()
        held.paths = held.paths.filter { path in
            guard seen.insert(path).inserted else { return false }
            return !(dataWatches[path]?.modes(of: watcher) ?? []).isEmpty || !(childWatches[path]?.modes(of: watcher) ?? []).isEmpty
        }
    }

    public mutating func add(_ watcher: WatcherID, path: String, table: Table, mode: WatchModes) {
        // Connection ids are never reused by the replica; a reused one is swept first.
        if !closed.isEmpty, closed.contains(watcher) {
            while closed.contains(watcher) { sweep(budget: Int.max) }
        }
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
    /// notifies each watcher once. Closed watchers get nothing.
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
            if !closed.isEmpty, closed.contains(watcher) { continue }
            delivered.insert(watcher)
            if modes.contains(.standard) { update(table, path, watcher) { $0.subtracting(.standard) } }
        }
        guard recursive else { return }
        for ancestor in PathRules.ancestors(of: path) {
            for (watcher, modes) in dataWatches[ancestor]?.entries ?? [] where modes.contains(.persistentRecursive) {
                if !closed.isEmpty, closed.contains(watcher) { continue }
                delivered.insert(watcher)
            }
        }
    }

    /// Drops every watch of a closed connection: from the counts at once, from the tables
    /// as `sweep` gets to them.
    public mutating func removeWatcher(_ watcher: WatcherID) {
        guard let held = watchers.removeValue(forKey: watcher) else { return }
        dataWatchCount -= held.dataEntries
        childWatchCount -= held.childEntries
        recursiveWatchCount -= held.recursiveEntries
        closed.insert(watcher)
        sweepQueue.append((watcher, held.paths))
    }

    /// Removes up to `budget` paths' entries of closed watchers from the tables; returns
    /// whether entries are left. Rebuilds a table that emptied to a small part of its
    /// capacity, so that its storage is given back.
    @discardableResult
    public mutating func sweep(budget: Int) -> Bool {
        var remaining = budget
        while remaining > 0, let (watcher, paths) = sweepQueue.first {
            while remaining > 0, sweepPosition < paths.count {
                let path = paths[sweepPosition]
                sweepPosition += 1
                remaining -= 1
                if let current = dataWatches[path], !current.modes(of: watcher).isEmpty {
                    dataWatches[path] = PathWatchers.setting(current, watcher, [])
                }
                if let current = childWatches[path], !current.modes(of: watcher).isEmpty {
                    childWatches[path] = PathWatchers.setting(current, watcher, [])
                }
            }
            guard sweepPosition >= paths.count else { break }
            sweepQueue.removeFirst()
            sweepPosition = 0
            closed.remove(watcher)
        }
        if sweepQueue.isEmpty {
            Self.shrinkIfSparse(&dataWatches)
            Self.shrinkIfSparse(&childWatches)
        }
        return !sweepQueue.isEmpty
    }

    /// Swift dictionaries keep their capacity when emptied; one at under 1/8 of it is copied
    /// into storage of its size.
    private static func shrinkIfSparse(_ table: inout [String: PathWatchers]) {
        guard table.capacity > 4096, table.count * 8 < table.capacity else { return }
        var smaller = [String: PathWatchers](minimumCapacity: table.count)
        for (path, watchers) in table { smaller[path] = watchers }
        table = smaller
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

    private func liveEntries(_ watchers: PathWatchers) -> [(WatcherID, WatchModes)] {
        watchers.entries.filter { closed.isEmpty || !closed.contains($0.0) }
    }

    /// Paths watched by each watcher in the data table (what `wchc` shows).
    public func dataPathsByWatcher() -> [(WatcherID, [String])] {
        watchers.keys.sorted().compactMap { watcher in
            let paths = Set(watchers[watcher]!.paths).filter { !(dataWatches[$0]?.modes(of: watcher) ?? []).isEmpty }.sorted()
            return paths.isEmpty ? nil : (watcher, paths)
        }
    }

    /// Watchers of each path in the data table (what `wchp` shows), paths and watchers sorted.
    public func dataWatchersByPath() -> [(String, [WatcherID])] {
        dataWatches.keys.sorted().compactMap { path in
            let ids = liveEntries(dataWatches[path]!).map(\.0).sorted()
            return ids.isEmpty ? nil : (path, ids)
        }
    }

    public var dataWatchedPathCount: Int { dataWatches.values.filter { !liveEntries($0).isEmpty }.count }
    public var dataWatcherCount: Int { watchers.values.filter { $0.dataEntries > 0 }.count }
}
