import ZKModel

/// ZooKeeper's tree digest (3.6+, `DigestCalculator`): the sum modulo 2^64 of a CRC-32 per
/// node over its path, data and stat, leaving out everything under `/zookeeper/`. Being a
/// sum, it is kept up to date by subtracting a node's old digest and adding its new one.
public enum TreeDigest {
    /// `TxnDigest.version` / the snapshot's digest version.
    public static let version: Int32 = 2

    public static func of(path: String, node: DataNode) -> UInt64 {
        if path.hasPrefix("/zookeeper/") { return 0 }
        var crc = CRC32()
        // The root is stored as "" in ZooKeeper and hashed under that name.
        if path != "/" { crc.update(path.utf8) }
        if let data = node.data { crc.update(data) }
        crc.update(bigEndian: node.czxid)
        crc.update(bigEndian: node.mzxid)
        crc.update(bigEndian: node.pzxid)
        crc.update(bigEndian: node.ctime)
        crc.update(bigEndian: node.mtime)
        crc.update(bigEndian: node.version)
        crc.update(bigEndian: node.cversion)
        crc.update(bigEndian: node.aversion)
        crc.update(bigEndian: node.ephemeralOwner)
        return UInt64(crc.value)
    }
}

extension DataTree {
    /// Every write to `nodes` goes through here so that `digest` stays the sum of node digests.
    mutating func setNode(_ path: String, _ node: DataNode?) {
        if let old = nodes[path] { digest &-= TreeDigest.of(path: path, node: old) }
        if let node { digest &+= TreeDigest.of(path: path, node: node) }
        nodes[path] = node
    }

    /// The digest recomputed from every node, to check the running one.
    public func recomputedDigest() -> UInt64 {
        nodes.reduce(UInt64(0)) { $0 &+ TreeDigest.of(path: $1.key, node: $1.value) }
    }
}
