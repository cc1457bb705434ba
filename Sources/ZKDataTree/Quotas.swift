import ZKModel

/// ZooKeeper's quota bookkeeping (`DataTree.updateCountBytes`, `StatsTrack`): a quota root P has
/// `/zookeeper/quota/P/zookeeper_limits` and `/zookeeper/quota/P/zookeeper_stats`. The stats
/// node's data is rewritten in place on every change under P (no txn, stat untouched).
public enum QuotaNames {
    public static let limits = "zookeeper_limits"
    public static let stats = "zookeeper_stats"
}

/// `count=…,bytes=…` with optional extra `;key=value` fields, parsed and printed as `StatsTrack` does.
struct StatsTrack {
    var values: [String: Int64] = [:]

    init(_ data: [UInt8]?) {
        let text = String(decoding: data ?? [], as: UTF8.self)
        for pair in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            values[String(parts[0])] = parts[1].isEmpty ? -1 : (Int64(parts[1]) ?? -1)
        }
    }

    var count: Int64 {
        get { values["count"] ?? -1 }
        set { values["count"] = newValue }
    }
    var bytes: Int64 {
        get { values["bytes"] ?? -1 }
        set { values["bytes"] = newValue }
    }

    var text: String {
        var result = "count=\(count),bytes=\(bytes)"
        let extra = values.keys.filter { $0 != "count" && $0 != "bytes" }.sorted()
        if !extra.isEmpty {
            result += "="
            for key in extra { result += ";\(key)=\(values[key]!)" }
        }
        return result
    }
}

extension DataTree {
    /// The deepest quota root at or above `path` (the root `/` never counts).
    func quotaRoot(of path: String) -> String? {
        guard !quotaRoots.isEmpty, !path.hasPrefix(Self.procPath + "/"), path != Self.procPath else { return nil }
        if quotaRoots.contains(path) && path != "/" { return path }
        return PathRules.ancestors(of: path).first { $0 != "/" && quotaRoots.contains($0) }
    }

    /// Bookkeeping after a node at `path` was created (`delta` +1) or deleted (−1), or its data
    /// changed size (`countDelta` 0).
    mutating func updateQuota(for path: String, countDelta: Int64, bytesDelta: Int64) {
        if path.hasPrefix(Self.quotaPath + "/") {
            quotaNodeChanged(path, created: countDelta > 0, deleted: countDelta < 0)
            return
        }
        guard let root = quotaRoot(of: path) else { return }
        let statsPath = Self.quotaPath + root + "/" + QuotaNames.stats
        guard var node = nodes[statsPath] else { return }
        var track = StatsTrack(node.data)
        track.count += countDelta
        track.bytes += bytesDelta
        node.data = Array(track.text.utf8)
        setNode(statsPath, node)
    }

    /// A `zookeeper_limits` node makes its parent a quota root; a new `zookeeper_stats` node
    /// triggers a full recount of the subtree.
    mutating func quotaNodeChanged(_ path: String, created: Bool, deleted: Bool) {
        let name = PathRules.name(of: path)
        guard let parent = PathRules.parent(of: path) else { return }
        let quotaRootPath = String(parent.dropFirst(Self.quotaPath.count))
        guard !quotaRootPath.isEmpty else { return }
        if name == QuotaNames.limits {
            if created { quotaRoots.insert(quotaRootPath) }
            if deleted { quotaRoots.remove(quotaRootPath) }
        } else if name == QuotaNames.stats && created {
            recountQuota(quotaRootPath)
        }
    }

    mutating func recountQuota(_ root: String) {
        let statsPath = Self.quotaPath + root + "/" + QuotaNames.stats
        guard var statsNode = nodes[statsPath], let rootNode = nodes[root] else { return }
        var count: Int64 = 0
        var bytes: Int64 = 0
        var stack: [(String, DataNode)] = [(root, rootNode)]
        while let (path, node) = stack.popLast() {
            count += 1
            bytes += Int64(node.data?.count ?? 0)
            for child in node.children {
                let childPath = PathRules.join(path, child)
                if let childNode = nodes[childPath] { stack.append((childPath, childNode)) }
            }
        }
        var track = StatsTrack(statsNode.data)
        track.count = count
        track.bytes = bytes
        statsNode.data = Array(track.text.utf8)
        setNode(statsPath, statsNode)
    }
}
