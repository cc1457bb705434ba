import HashTreeCollections
import ZKModel

/// One znode as stored. `cversion` is the stored count of child creations; clients see
/// `2 * cversion - numChildren` (creations plus deletions).
public struct DataNode: Sendable {
    public var data: [UInt8]?
    public var acl: [ACL]
    public var czxid: Zxid
    public var mzxid: Zxid
    public var pzxid: Zxid
    public var ctime: Int64
    public var mtime: Int64
    public var version: Int32
    public var cversion: Int32
    public var aversion: Int32
    /// Session id for ephemerals, a marker for containers and TTL nodes, else 0.
    public var ephemeralOwner: Int64
    /// A persistent set, so that copies of the tree taken for snapshots share structure;
    /// listed in ZooKeeper's order (`ChildSet`).
    public var children: ChildSet

    public init(
        data: [UInt8]?, acl: [ACL], czxid: Zxid, mzxid: Zxid, pzxid: Zxid, ctime: Int64, mtime: Int64,
        version: Int32 = 0, cversion: Int32 = 0, aversion: Int32 = 0, ephemeralOwner: Int64 = 0
    ) {
        self.data = data
        self.acl = acl
        self.czxid = czxid
        self.mzxid = mzxid
        self.pzxid = pzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner
        self.children = []
    }

    /// The `Stat` clients see.
    public var stat: Stat {
        Stat(
            czxid: czxid, mzxid: mzxid, ctime: ctime, mtime: mtime, version: version,
            cversion: cversion &* 2 &- Int32(children.count), aversion: aversion,
            ephemeralOwner: EphemeralOwner.visible(ephemeralOwner), dataLength: Int32(data?.count ?? 0),
            numChildren: Int32(children.count), pzxid: pzxid)
    }

    /// The children as ZooKeeper lists them (getChildren, getChildren2, snapshots).
    public var listedChildren: [String] { children.javaOrder }
}
