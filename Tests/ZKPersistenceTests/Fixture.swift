import Foundation
import NIOCore
import ZKDataTree
import ZKModel
import ZKPersistence

/// Files Apache ZooKeeper 3.8.0 wrote (see Tests/Interop/fixtures/make_zk_fixtures.py), and
/// the description of their content the generator recorded independently.
enum ZooKeeperFixture {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/zk380") }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static var logEntries: [[String: Any]] {
        get throws {
            let logs = try expected()["logs"] as! [String: Any]
            return (logs["log.1"] as! [String: Any])["entries"] as! [[String: Any]]
        }
    }

    /// The tree the live server showed before it stopped: path → (data, ACL, client-visible Stat).
    static var liveTree: [[String: Any]] {
        get throws { try expected()["tree"] as! [[String: Any]] }
    }

    static var liveSessions: Set<SessionID> {
        get throws {
            Set((try expected()["live_sessions"] as! [[String: Any]]).map { ($0["id"] as! NSNumber).int64Value })
        }
    }

    static func files(snapshots: [String], logs: [String], overrides: [String: [UInt8]] = [:]) -> DataFiles {
        DataFiles(
            snapshots: snapshots.compactMap(DataFileName.init), logs: logs.compactMap(DataFileName.init)
        ) { file in
            if let bytes = overrides[file.name] { return bytes }
            return try bytes(file.name)
        }
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Mismatches between `tree` and the dump of ZooKeeper's live tree, as readable lines.
func differences(_ tree: DataTree, fromLiveTree expected: [[String: Any]]) -> [String] {
    var problems: [String] = []
    var seen: Set<String> = []
    for entry in expected {
        let path = entry["path"] as! String
        seen.insert(path)
        guard let node = tree.node(path) else {
            problems.append("\(path): missing")
            continue
        }
        // The dump shows a null (never set) data buffer as JSON null.
        let expectedData = entry["data_hex"] as? String
        if expectedData == nil ? node.data != nil : hex(node.data ?? []) != expectedData {
            problems.append("\(path): data \(node.data.map(hex) ?? "null") != \(expectedData ?? "null")")
        }
        let acl = (entry["acl"] as! [[String: Any]]).map {
            ACL(perms: ($0["perms"] as! NSNumber).int32Value, id: Id(scheme: $0["scheme"] as! String, id: $0["id"] as! String))
        }
        if node.acl != acl { problems.append("\(path): acl \(node.acl) != \(acl)") }
        let stat = entry["stat"] as! [String: Any]
        let actual = node.stat
        let fields: [(String, Int64)] = [
            ("czxid", actual.czxid), ("mzxid", actual.mzxid), ("ctime", actual.ctime), ("mtime", actual.mtime),
            ("version", Int64(actual.version)), ("cversion", Int64(actual.cversion)), ("aversion", Int64(actual.aversion)),
            ("ephemeralOwner", actual.ephemeralOwner), ("dataLength", Int64(actual.dataLength)),
            ("numChildren", Int64(actual.numChildren)), ("pzxid", actual.pzxid),
        ]
        for (name, value) in fields where (stat[name] as! NSNumber).int64Value != value {
            problems.append("\(path): \(name) \(value) != \((stat[name] as! NSNumber).int64Value)")
        }
    }
    for path in tree.nodes.keys where !seen.contains(path) { problems.append("\(path): unexpected") }
    return problems.sorted()
}
