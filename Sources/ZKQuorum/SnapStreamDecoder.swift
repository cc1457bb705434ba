import NIOCore
import ZKConsensus
import ZKDataTree
import ZKModel
import ZKPersistence
import ZKWire

/// Reads the stream a SNAP packet is followed by: sessions, the ACL table, every node, the
/// `/` marker, then the string "BenWasHere". The stream has no length of its own, so it is
/// read record by record as bytes arrive; what was read stays read (linear in the stream).
struct SnapStreamDecoder {
    static let signature = "BenWasHere"

    private enum Phase {
        case sessionCount
        case sessions(remaining: Int32)
        case aclCount
        case acls(remaining: Int32)
        case nodes
        case signature
    }

    let zxid: Zxid
    let lengthMax: Int32
    private var phase = Phase.sessionCount
    private var sessions: [SessionID: Int32] = [:]
    private var table: [Int64: [ACL]] = [:]
    private var tree = DataTree.empty()

    init(zxid: Zxid, lengthMax: Int32) {
        self.zxid = zxid
        self.lengthMax = lengthMax
    }

    /// Reads what it can; the snapshot once the signature arrived, nil while more is needed.
    mutating func feed(_ buffer: inout ByteBuffer) throws -> SyncSnapshot? {
        while true {
            var reader = JuteReader(buffer, lengthMax: lengthMax)
            do {
                if let done = try step(&reader) { buffer = reader.buffer; return done }
            } catch JuteError.truncated {
                return nil
            } catch let error as JuteError {
                throw QuorumWireError.malformed("SNAP stream: \(error)")
            }
            buffer = reader.buffer
        }
    }

    private mutating func step(_ reader: inout JuteReader) throws -> SyncSnapshot? {
        switch phase {
        case .sessionCount:
            let count = try reader.readInt()
            guard count >= 0 else { throw QuorumWireError.malformed("SNAP stream: \(count) sessions") }
            phase = .sessions(remaining: count)
        case .sessions(let remaining):
            guard remaining > 0 else { phase = .aclCount; return nil }
            let id = try reader.readLong()
            sessions[id] = try reader.readInt()
            phase = .sessions(remaining: remaining - 1)
        case .aclCount:
            let count = try reader.readInt()
            guard count >= 0 else { throw QuorumWireError.malformed("SNAP stream: ACL table of \(count)") }
            phase = .acls(remaining: count)
        case .acls(let remaining):
            guard remaining > 0 else { phase = .nodes; return nil }
            let reference = try reader.readLong()
            table[reference] = try reader.readACLs() ?? []
            phase = .acls(remaining: remaining - 1)
        case .nodes:
            let path = try reader.readString() ?? ""
            if path == "/" { phase = .signature; return nil }
            let node: DataNode
            do {
                node = try SnapshotFormat.readNode(&reader, path: path, table: table)
                try tree.restoreNode(path: path, node: node)
            } catch let error as JuteError {
                throw error
            } catch {
                throw QuorumWireError.malformed("SNAP stream: \(error)")
            }
        case .signature:
            let signature = try reader.readString()
            guard signature == Self.signature else {
                throw QuorumWireError.malformed("SNAP stream ends with \(signature.map { "'\($0)'" } ?? "null") instead of '\(Self.signature)'")
            }
            do {
                try tree.finishRestore(lastProcessedZxid: zxid)
            } catch {
                throw QuorumWireError.malformed("SNAP stream: \(error)")
            }
            return SyncSnapshot(tree: tree, sessions: sessions)
        }
        return nil
    }
}
