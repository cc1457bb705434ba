import HashTreeCollections
import NIOCore
import ZKDataTree
import ZKModel
import ZKWire

/// The applied tree as of one zxid, handed to the client connections' loops so that they
/// answer plain reads themselves (reads scale with the cores; the replica's loop does the
/// writes). Only what needs nothing of the replica is answered here: `exists`, `getData`,
/// `getChildren` and `getChildren2` without a watch, on a node any caller may read (or
/// with `skipACL`). Everything else returns nil and goes to the replica as before.
///
/// The tree is persistent (`TreeDictionary`), so a view costs one reference; the replica's
/// next change copies only the trie nodes on the changed path.
///
/// When a connection may use a view (the handler decides; see `ClientConnectionHandler`):
/// every request it handed to the replica was answered (so replies keep request order and
/// a read still waits behind the same session's writes), the view is at least as new as the
/// newest zxid that connection was sent (read-your-writes, `sync`), and views reach a loop
/// behind the replies and notifications of the batch that made them (a watch event still
/// arrives before the data it announces).
public struct ReadView: Sendable {
    let nodes: TreeDictionary<String, DataNode>
    public let zxid: Zxid
    let skipACL: Bool
    /// Larger replies go to the replica, which closes the connection as it always has.
    let replyBytesMax: Int

    init(tree: DataTree, configuration: ReplicaConfiguration) {
        self.nodes = tree.nodes
        self.zxid = tree.lastProcessedZxid
        self.skipACL = configuration.skipACL
        self.replyBytesMax = configuration.replyBytesMax
    }

    /// The reply to one client frame (length prefix removed), or nil when the replica must
    /// answer it.
    public func answer(_ frame: ByteBuffer, frameBytesMax: Int) -> (ReplyHeader, Response)? {
        var reader = JuteReader(frame, lengthMax: Int32(clamping: frameBytesMax))
        guard let xid = try? reader.readInt(), let type = try? reader.readInt(), Self.answerable(type) else { return nil }
        guard let request = try? Request.decode(type: type, from: &reader) else { return nil }
        guard let reply = answer(xid: xid, request) else { return nil }
        guard EncodedSize.reply(reply.0, reply.1) - EncodedSize.framePrefix <= replyBytesMax else { return nil }
        return reply
    }

    /// Whether the frame's opcode is one a view may answer (its body is not read).
    public static func answerable(_ frame: ByteBuffer) -> Bool {
        guard let type = frame.getInteger(at: frame.readerIndex + 4, as: Int32.self) else { return false }
        return answerable(type)
    }

    static func answerable(_ type: Int32) -> Bool {
        switch OpCode(rawValue: type) {
        case .exists?, .getData?, .getChildren?, .getChildren2?: return true
        default: return false
        }
    }

    /// As the replica's `read` answers these requests (`Replica+Reads`); a unit test holds
    /// the two together.
    func answer(xid: Xid, _ request: Request) -> (ReplyHeader, Response)? {
        let found: DataNode?
        switch request {
        case .exists(let path, false):
            if path.utf8.contains(0) { return reply(xid, .badArguments) }
            found = node(path)
        case .getData(let path, false), .getChildren(let path, false), .getChildren2(let path, false):
            found = node(path)
        default:
            return nil
        }
        guard let node = found else { return reply(xid, .noNode) }
        // An id-free check that passes passes for every caller: ACLs only grant.
        guard skipACL || ACLRules.allows(node.acl, .read, ids: [], skipACL: false) else { return nil }
        let header = ReplyHeader(xid: xid, zxid: zxid, err: 0)
        switch request {
        case .exists: return (header, .stat(node.stat))
        case .getData: return (header, .data(node.data, node.stat))
        case .getChildren: return (header, .children(node.listedChildren))
        default: return (header, .children2(node.listedChildren, node.stat))
        }
    }

    func node(_ path: String) -> DataNode? { nodes[path.isEmpty ? "/" : path] }

    func reply(_ xid: Xid, _ code: ErrorCode) -> (ReplyHeader, Response) {
        (ReplyHeader(xid: xid, zxid: zxid, err: code.rawValue), .none)
    }
}
