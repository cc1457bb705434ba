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
        if path != "/" {
            var path = path
            path.withUTF8 { crc.update(UnsafeRawBufferPointer($0)) }
        }
        if let data = node.data { data.withUnsafeBytes { crc.update($0) } }
        // The 60-byte stat block, big-endian, in one pass.
        var block = StatBlock(
            czxid: node.czxid.bigEndian, mzxid: node.mzxid.bigEndian, pzxid: node.pzxid.bigEndian,
            ctime: node.ctime.bigEndian, mtime: node.mtime.bigEndian, version: node.version.bigEndian,
            cversion: node.cversion.bigEndian, aversion: node.aversion.bigEndian, ephemeralOwner: node.ephemeralOwner.bigEndian)
        withUnsafeBytes(of: &block) { crc.update(UnsafeRawBufferPointer(rebasing: $0[0..<StatBlock.bytes])) }
        return UInt64(crc.value)
    }

    /// Laid out without padding up to its 60th byte: five Int64, three Int32, one Int64 would
    /// pad, so ephemeralOwner is kept as two Int32 halves.
    struct StatBlock {
        static let bytes = 60
        var czxid: Int64, mzxid: Int64, pzxid: Int64, ctime: Int64, mtime: Int64
        var version: Int32, cversion: Int32, aversion: Int32
        var ownerHigh: Int32, ownerLow: Int32

        init(czxid: Int64, mzxid: Int64, pzxid: Int64, ctime: Int64, mtime: Int64, version: Int32, cversion: Int32, aversion: Int32, ephemeralOwner: Int64) {
            (self.czxid, self.mzxid, self.pzxid, self.ctime, self.mtime) = (czxid, mzxid, pzxid, ctime, mtime)
            (self.version, self.cversion, self.aversion) = (version, cversion, aversion)
            // `ephemeralOwner` arrives big-endian: its first four bytes in memory are the high half.
            (ownerHigh, ownerLow) = withUnsafeBytes(of: ephemeralOwner) { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: Int32.self), raw.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            }
        }
    }
}

extension DataTree {
    /// Every write to `nodes` goes through here, so that what is kept beside the nodes stays
    /// current at the cost of this one node: the digest (the sum of node digests), the data
    /// size `mntr` reports, and the indexes of ephemerals by owner, containers and TTL nodes.
    mutating func setNode(_ path: String, _ node: DataNode?) {
        let old = node.map { nodes.updateValue($0, forKey: path) } ?? nodes.removeValue(forKey: path)
        if let old {
            digest &-= TreeDigest.of(path: path, node: old)
            dataBytes -= path.utf8.count + (old.data?.count ?? 0)
        }
        if let node {
            digest &+= TreeDigest.of(path: path, node: node)
            dataBytes += path.utf8.count + (node.data?.count ?? 0)
        }
        if old?.ephemeralOwner != node?.ephemeralOwner {
            if let old { unindexOwner(path, old.ephemeralOwner) }
            if let node { indexOwner(path, node.ephemeralOwner) }
        }
    }

    /// Changes a parent's children, cversion or pzxid where it lies in the tree, keeping the
    /// digest current. Taking the node out, changing it and putting it back (`setNode`)
    /// shares its child set with the tree meanwhile, so every insert or remove copied the
    /// child set's path: creates and deletes ran at half the rate of setData. The change
    /// must leave data and owner alone (what `setNode` also indexes).
    mutating func updateInPlace(_ path: String, _ change: (inout DataNode) -> Void) {
        guard let before = nodes[path].map({ (TreeDigest.of(path: path, node: $0), $0.data?.count, $0.ephemeralOwner) }) else { return }
        // The new digest is taken inside the same in-place access, not by a third lookup.
        func changed(_ node: inout DataNode) -> UInt64 {
            change(&node)
            precondition(node.data?.count == before.1 && node.ephemeralOwner == before.2, "updateInPlace changed data or owner of \(path)")
            return TreeDigest.of(path: path, node: node)
        }
        let after = changed(&nodes[path]!)
        digest &-= before.0
        digest &+= after
    }

    private mutating func indexOwner(_ path: String, _ owner: Int64) {
        if let session = EphemeralOwner.session(owner) {
            if ephemerals[session, default: []].insert(path).inserted { ephemeralCount += 1 }
        } else if EphemeralOwner.isContainer(owner) {
            containers.insert(path)
        } else if EphemeralOwner.ttlValue(owner) != nil {
            ttls.insert(path)
        }
    }

    private mutating func unindexOwner(_ path: String, _ owner: Int64) {
        if let session = EphemeralOwner.session(owner) {
            if ephemerals[session]?.remove(path) != nil { ephemeralCount -= 1 }
            if ephemerals[session]?.isEmpty == true { ephemerals[session] = nil }
        } else if EphemeralOwner.isContainer(owner) {
            containers.remove(path)
        } else if EphemeralOwner.ttlValue(owner) != nil {
            ttls.remove(path)
        }
    }

    /// The digest recomputed from every node, to check the running one.
    public func recomputedDigest() -> UInt64 {
        nodes.reduce(UInt64(0)) { $0 &+ TreeDigest.of(path: $1.key, node: $1.value) }
    }
}
