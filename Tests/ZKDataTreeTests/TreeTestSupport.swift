import ZKDataTree
import ZKModel

let open = ACL.openACLUnsafe
let readOnlyACL = ACL.readACLUnsafe
let alice = Id(scheme: "digest", id: "alice:" + DigestHash.base64(DigestHash.sha1(Array("alice:secret".utf8))))
let bob = Id(scheme: "digest", id: "bob:" + DigestHash.base64(DigestHash.sha1(Array("bob:secret".utf8))))
let ipLocal = Id(scheme: "ip", id: "127.0.0.1")
let superId = Id(scheme: "super", id: "")

func acl(_ perms: Permissions, _ id: Id = .anyone) -> [ACL] { [ACL(perms: perms.rawValue, id: id)] }

/// Drives prepare (against tree + pending overlay) and apply, the way the replica does, with
/// consecutive zxids. `prepare` alone leaves the txn pending, as if not yet durable.
struct TreeHarness {
    var tree = DataTree()
    var pending = PendingChanges()
    var lastZxid: Zxid = 0
    var now: Int64 = 1_000_000
    var extendedTypes = true
    var skipACL = false
    var session: SessionID = 0x0100_0000_0000_0001
    var ids: [Id] = [ipLocal]

    mutating func prepare(_ op: WriteOp, session: SessionID? = nil, ids: [Id]? = nil) -> Txn {
        lastZxid += 1
        let clientId = session ?? self.session
        let context = PrepareContext(
            sessionId: clientId, ids: ids ?? self.ids, extendedTypesEnabled: extendedTypes, skipACL: skipACL)
        let body = pending.prepare(op, tree: tree, context: context, zxid: lastZxid)
        let type: OpCode = if case .error = body { .error } else { body.type }
        return Txn(header: TxnHeader(clientId: clientId, cxid: 1, zxid: lastZxid, time: now, type: type.rawValue), body: body)
    }

    mutating func apply(_ txn: Txn) -> (outcome: OpOutcome, triggers: [WatchTrigger]) {
        var triggers: [WatchTrigger] = []
        let outcome = tree.apply(txn, triggers: &triggers)
        pending.removeApplied(upTo: txn.zxid)
        return (outcome, triggers)
    }

    @discardableResult
    mutating func run(_ op: WriteOp, session: SessionID? = nil, ids: [Id]? = nil) -> OpOutcome {
        apply(prepare(op, session: session, ids: ids)).outcome
    }

    /// Applies a hand-made txn body at the next zxid (replay of a log written elsewhere).
    @discardableResult
    mutating func replay(_ body: TxnBody, session: SessionID = 0) -> (outcome: OpOutcome, triggers: [WatchTrigger]) {
        lastZxid += 1
        return apply(Txn(header: TxnHeader(clientId: session, cxid: 0, zxid: lastZxid, time: now, type: body.type.rawValue), body: body))
    }

    @discardableResult
    mutating func create(
        _ path: String, data: [UInt8]? = [], acl: [ACL]? = open, flags: Int32 = 0, opCode: OpCode = .create,
        ttl: Int64 = -1, session: SessionID? = nil, ids: [Id]? = nil
    ) -> OpOutcome {
        run(.create(opCode: opCode, path: path, data: data, acl: acl, flags: flags, ttl: ttl), session: session, ids: ids)
    }

    /// The path a successful create produced.
    mutating func createdPath(
        _ path: String, flags: Int32 = 0, opCode: OpCode = .create, ttl: Int64 = -1, session: SessionID? = nil
    ) -> String? {
        if case .created(let created, _) = create(path, flags: flags, opCode: opCode, ttl: ttl, session: session) { return created }
        return nil
    }

    func stat(_ path: String) -> Stat? { tree.node(path)?.stat }
}

func createOp(_ path: String, data: [UInt8]? = [], acl: [ACL]? = open, flags: Int32 = 0, opCode: OpCode = .create, ttl: Int64 = -1) -> WriteOp {
    .create(opCode: opCode, path: path, data: data, acl: acl, flags: flags, ttl: ttl)
}

extension TxnBody {
    var errorCode: ErrorCode? {
        if case .error(let code) = self { return code }
        return nil
    }
    var createdPath: String? {
        switch self {
        case .create(let path, _, _, _, _), .createContainer(let path, _, _, _), .createTTL(let path, _, _, _, _): return path
        default: return nil
        }
    }
}
