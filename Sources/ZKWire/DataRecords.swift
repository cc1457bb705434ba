import NIOCore
import ZKModel

extension JuteReader {
    public mutating func readId() throws -> Id {
        Id(scheme: try readString() ?? "", id: try readString() ?? "")
    }
    public mutating func readACL() throws -> ACL {
        let perms = try readInt()
        return ACL(perms: perms, id: try readId())
    }
    public mutating func readACLs() throws -> [ACL]? { try readVector { try $0.readACL() } }
    public mutating func readStat() throws -> Stat {
        Stat(
            czxid: try readLong(), mzxid: try readLong(), ctime: try readLong(), mtime: try readLong(),
            version: try readInt(), cversion: try readInt(), aversion: try readInt(),
            ephemeralOwner: try readLong(), dataLength: try readInt(), numChildren: try readInt(),
            pzxid: try readLong())
    }
}

extension JuteWriter {
    public mutating func writeId(_ id: Id) {
        writeString(id.scheme)
        writeString(id.id)
    }
    public mutating func writeACL(_ acl: ACL) {
        writeInt(acl.perms)
        writeId(acl.id)
    }
    public mutating func writeACLs(_ acls: [ACL]?) { writeVector(acls) { $0.writeACL($1) } }
    public mutating func writeStat(_ stat: Stat) {
        writeLong(stat.czxid)
        writeLong(stat.mzxid)
        writeLong(stat.ctime)
        writeLong(stat.mtime)
        writeInt(stat.version)
        writeInt(stat.cversion)
        writeInt(stat.aversion)
        writeLong(stat.ephemeralOwner)
        writeInt(stat.dataLength)
        writeInt(stat.numChildren)
        writeLong(stat.pzxid)
    }
}
