import ZKDataTree
import ZKModel
import ZKWire

extension Replica {
    /// Evaluates a read against the committed tree (`FinalRequestProcessor`).
    mutating func evaluateRead(_ id: ConnectionID, sessionId: SessionID, xid: Xid, _ request: Request) -> (ReplyHeader, Response) {
        let result: Result<Response, ErrorCode>
        do {
            result = .success(try read(id, sessionId: sessionId, request))
        } catch {
            result = .failure(error)
        }
        let zxid = tree.lastProcessedZxid
        switch result {
        case .success(let response): return (ReplyHeader(xid: xid, zxid: zxid, err: 0), response)
        case .failure(let code): return (ReplyHeader(xid: xid, zxid: zxid, err: code.rawValue), .none)
        }
    }

    func ids(_ id: ConnectionID) -> [Id] { connections[id]?.ids ?? [] }

    func requireNode(_ path: String, _ permission: Permissions, _ id: ConnectionID) throws(ErrorCode) -> DataNode {
        guard let node = tree.node(path) else { throw .noNode }
        guard ACLRules.allows(node.acl, permission, ids: ids(id), skipACL: configuration.skipACL) else { throw .noAuth }
        return node
    }

    mutating func read(_ id: ConnectionID, sessionId: SessionID, _ request: Request) throws(ErrorCode) -> Response {
        switch request {
        case .ping, .sync:
            if case .sync(let path) = request { return .sync(path: path) }
            return .none
        case .exists(let path, let watch):
            if path.utf8.contains(0) { throw .badArguments }
            if let node = tree.node(path) {
                guard ACLRules.allows(node.acl, .read, ids: ids(id), skipACL: configuration.skipACL) else { throw .noAuth }
            }
            if watch { watches.add(id, path: path, table: .data, mode: .standard) }
            guard let node = tree.node(path) else { throw .noNode }
            return .stat(node.stat)
        case .getData(let path, let watch):
            let node = try requireNode(path, .read, id)
            if watch { watches.add(id, path: path, table: .data, mode: .standard) }
            return .data(node.data, node.stat)
        case .getChildren(let path, let watch), .getChildren2(let path, let watch):
            let node = try requireNode(path, .read, id)
            if watch { watches.add(id, path: path, table: .child, mode: .standard) }
            if case .getChildren = request { return .children(node.listedChildren) }
            return .children2(node.listedChildren, node.stat)
        case .getACL(let path):
            guard let node = tree.node(path) else { throw .noNode }
            let callerIds = ids(id)
            let isAdmin = ACLRules.allows(node.acl, .admin, ids: callerIds, skipACL: configuration.skipACL)
            guard isAdmin || ACLRules.allows(node.acl, .read, ids: callerIds, skipACL: configuration.skipACL) else { throw .noAuth }
            return .acl(isAdmin ? node.acl : ACLRules.redacted(node.acl), node.stat)
        case .getAllChildrenNumber(let path):
            _ = try requireNode(path, .read, id)
            return .allChildrenNumber(Int32(clamping: tree.descendantCount(of: path)))
        case .getEphemerals(let prefix):
            let all = tree.ephemeralPaths(of: sessionId)
            if prefix.isEmpty || prefix == "/" { return .ephemerals(all) }
            return .ephemerals(all.filter { $0.hasPrefix(prefix) })
        case .multiRead(let ops):
            return .multi(ops.map { multiRead(id, $0) })
        case .checkWatches(let path, let type), .removeWatches(let path, let type):
            guard let watcherType = WatcherType(rawValue: type) else { throw .marshallingError }
            if case .checkWatches = request {
                guard watches.contains(id, path: path, type: watcherType) else { throw .noWatcher }
            } else {
                guard watches.remove(id, path: path, type: watcherType) else { throw .noWatcher }
            }
            return .none
        case .addWatch(let path, let mode):
            guard let watchMode = AddWatchMode(rawValue: mode) else { throw .marshallingError }
            watches.addPersistent(id, path: path, mode: watchMode)
            return .errorResponse(0)
        case .setWatches(let request, _):
            reRegister(id, request)
            return .none
        case .whoAmI:
            return .whoAmI(ids(id).map { ClientInfo(authScheme: $0.scheme, user: Self.userName(of: $0)) })
        default:
            throw .marshallingError
        }
    }

    static func userName(of id: Id) -> String {
        guard id.scheme == "digest", let colon = id.id.firstIndex(of: ":") else { return id.id }
        return String(id.id[..<colon])
    }

    func multiRead(_ id: ConnectionID, _ op: MultiOp) -> MultiResult {
        do throws(ErrorCode) {
            switch op {
            case .getData(let path):
                let node = try requireNode(path, .read, id)
                return .getData(data: node.data, stat: node.stat)
            case .getChildren(let path):
                let node = try requireNode(path, .read, id)
                return .getChildren(node.listedChildren)
            default:
                return .error(.marshallingError)
            }
        } catch {
            return .error(error)
        }
    }

    /// SetWatches after a reconnect: fire what the client missed since `relativeZxid`, re-register the rest.
    mutating func reRegister(_ id: ConnectionID, _ request: SetWatchesRequest) {
        let zxid = request.relativeZxid
        func notify(_ type: EventType, _ path: String) {
            send(.sendNotification(id, WatchedEvent(type: type, path: path), zxid: -1))
        }
        for path in request.dataWatches {
            if let node = tree.node(path) {
                if node.mzxid > zxid { notify(.nodeDataChanged, path) } else { watches.add(id, path: path, table: .data, mode: .standard) }
            } else {
                notify(.nodeDeleted, path)
            }
        }
        for path in request.existWatches {
            if tree.node(path) != nil { notify(.nodeCreated, path) } else { watches.add(id, path: path, table: .data, mode: .standard) }
        }
        for path in request.childWatches {
            if let node = tree.node(path) {
                if node.pzxid > zxid { notify(.nodeChildrenChanged, path) } else { watches.add(id, path: path, table: .child, mode: .standard) }
            } else {
                notify(.nodeDeleted, path)
            }
        }
        for path in request.persistentWatches { watches.addPersistent(id, path: path, mode: .persistent) }
        for path in request.persistentRecursiveWatches { watches.addPersistent(id, path: path, mode: .persistentRecursive) }
    }
}
