import ZKModel

extension PendingChanges {
    /// Validates `op` against the committed tree plus pending changes, in ZooKeeper's check order
    /// (`PrepRequestProcessor`), and returns the txn to log. A failure becomes `.error(code)`,
    /// which is logged too: failed writes consume a zxid. Success records the change as pending.
    public mutating func prepare(_ op: WriteOp, tree: DataTree, context: PrepareContext, zxid: Zxid) -> TxnBody {
        beginTxn()
        defer { finishTxn(zxid) }
        switch op {
        case .multi(let ops):
            return prepareMulti(ops, tree: tree, context: context, zxid: zxid)
        case .createSession(let timeoutMs):
            return .createSession(timeoutMs: timeoutMs)
        case .closeSession:
            let paths = ephemeralPaths(of: context.sessionId, in: tree)
            for path in paths { markDeleted(path, tree: tree, zxid: zxid) }
            return .closeSession(pathsToDelete: paths)
        default:
            do {
                return try prepareSingle(op, tree: tree, context: context, zxid: zxid)
            } catch {
                return .error(error)
            }
        }
    }

    mutating func prepareMulti(_ ops: [WriteOp], tree: DataTree, context: PrepareContext, zxid: Zxid) -> TxnBody {
        var bodies: [TxnBody] = []
        bodies.reserveCapacity(ops.count)
        beginMulti()
        for (index, op) in ops.enumerated() {
            do {
                bodies.append(try prepareSingle(op, tree: tree, context: context, zxid: zxid))
            } catch {
                // All or nothing: drop every pending change of this multi (ZOOKEEPER-1624).
                finishMulti(failed: true)
                bodies.append(.error(error))
                for _ in (index + 1)..<ops.count { bodies.append(.error(.runtimeInconsistency)) }
                return .multi(bodies)
            }
        }
        finishMulti(failed: false)
        return .multi(bodies)
    }

    mutating func prepareSingle(_ op: WriteOp, tree: DataTree, context: PrepareContext, zxid: Zxid) throws(ErrorCode) -> TxnBody {
        switch op {
        case .create(let opCode, let path, let data, let acl, let flags, let ttl):
            return try prepareCreate(opCode, path, data, acl, flags, ttl, tree: tree, context: context, zxid: zxid)
        case .delete(let path, let version):
            return try prepareDelete(path, version: version, tree: tree, context: context, zxid: zxid)
        case .setData(let path, let data, let version):
            guard PathRules.isValid(path) else { throw .badArguments }
            guard var record = record(path, in: tree) else { throw .noNode }
            try checkPermission(record.acl, .write, context)
            record.version = try Self.nextVersion(current: record.version, expected: version)
            record.zxid = zxid
            set(path, record)
            return .setData(path: path, data: data, version: record.version)
        case .setACL(let path, let acl, let version):
            guard PathRules.isValid(path) else { throw .badArguments }
            let fixed = try ACLRules.fixup(acl, ids: context.ids)
            guard var record = record(path, in: tree) else { throw .noNode }
            try checkPermission(record.acl, .admin, context)
            record.aversion = try Self.nextVersion(current: record.aversion, expected: version)
            record.acl = fixed
            record.zxid = zxid
            set(path, record)
            return .setACL(path: path, acl: fixed, version: record.aversion)
        case .check(let path, let version):
            guard PathRules.isValid(path) else { throw .badArguments }
            guard let record = record(path, in: tree) else { throw .noNode }
            try checkPermission(record.acl, .read, context)
            return .check(path: path, version: try Self.nextVersion(current: record.version, expected: version))
        case .deleteContainer(let path):
            guard let record = record(path, in: tree) else { throw .noNode }
            if EphemeralOwner.session(record.ephemeralOwner) != nil { throw .badVersion }
            if record.childCount > 0 { throw .notEmpty }
            markDeleted(path, tree: tree, zxid: zxid)
            return .deleteContainer(path: path)
        case .multi, .createSession, .closeSession:
            throw .marshallingError
        }
    }

    mutating func prepareCreate(
        _ opCode: OpCode, _ requestedPath: String, _ data: [UInt8]?, _ acl: [ACL]?, _ flags: Int32, _ ttl: Int64,
        tree: DataTree, context: PrepareContext, zxid: Zxid
    ) throws(ErrorCode) -> TxnBody {
        guard let mode = CreateMode(rawValue: flags) else { throw .badArguments }
        if mode.isTTL && !context.extendedTypesEnabled { throw .unimplemented }
        if mode.isTTL {
            if ttl <= 0 || ttl > EphemeralOwner.ttlMax { throw .badArguments }
        } else if ttl >= 0 {
            throw .badArguments
        }
        guard let parentPath = PathRules.parent(of: requestedPath), !requestedPath.utf8.contains(0) else {
            throw .badArguments
        }
        let fixedACL = try ACLRules.fixup(acl, ids: context.ids)
        guard var parent = record(parentPath, in: tree) else { throw .noNode }
        try checkPermission(parent.acl, .create, context)
        let path = mode.isSequential ? requestedPath + SequentialName.suffix(parent.cversion) : requestedPath
        guard PathRules.isValid(path) else { throw .badArguments }
        if record(path, in: tree) != nil { throw .nodeExists }
        if EphemeralOwner.session(parent.ephemeralOwner) != nil { throw .noChildrenForEphemerals }
        parent.cversion &+= 1
        parent.childCount += 1
        parent.zxid = zxid
        set(parentPath, parent)
        let owner: Int64
        let body: TxnBody
        switch opCode {
        case .createContainer:
            owner = EphemeralOwner.container
            body = .createContainer(path: path, data: data, acl: fixedACL, parentCVersion: parent.cversion)
        case .createTTL:
            owner = EphemeralOwner.ttl(ttl)
            body = .createTTL(path: path, data: data, acl: fixedACL, parentCVersion: parent.cversion, ttl: ttl)
        default:
            owner = mode.isEphemeral ? context.sessionId : 0
            body = .create(path: path, data: data, acl: fixedACL, ephemeral: mode.isEphemeral, parentCVersion: parent.cversion)
        }
        set(path, ChangeRecord(createdWith: fixedACL, ephemeralOwner: owner, zxid: zxid))
        return body
    }

    mutating func prepareDelete(_ path: String, version: Int32, tree: DataTree, context: PrepareContext, zxid: Zxid) throws(ErrorCode) -> TxnBody {
        guard let parentPath = PathRules.parent(of: path), !path.utf8.contains(0), !DataTree.undeletable.contains(path) else {
            throw .badArguments
        }
        guard let parent = record(parentPath, in: tree) else { throw .noNode }
        try checkPermission(parent.acl, .delete, context)
        guard let node = record(path, in: tree) else { throw .noNode }
        _ = try Self.nextVersion(current: node.version, expected: version)
        if node.childCount > 0 { throw .notEmpty }
        markDeleted(path, tree: tree, zxid: zxid)
        return .delete(path: path)
    }

    mutating func markDeleted(_ path: String, tree: DataTree, zxid: Zxid) {
        guard var node = record(path, in: tree) else { return }
        node.exists = false
        node.zxid = zxid
        set(path, node)
        if let parentPath = PathRules.parent(of: path), var parent = record(parentPath, in: tree) {
            parent.childCount -= 1
            parent.zxid = zxid
            set(parentPath, parent)
        }
    }

    func checkPermission(_ acl: [ACL], _ permission: Permissions, _ context: PrepareContext) throws(ErrorCode) {
        if !ACLRules.allows(acl, permission, ids: context.ids, skipACL: context.skipACL) { throw .noAuth }
    }

    /// `expected == -1` matches any version; the new version wraps like Java's int.
    static func nextVersion(current: Int32, expected: Int32) throws(ErrorCode) -> Int32 {
        if expected != -1 && expected != current { throw .badVersion }
        return current &+ 1
    }
}
