import NIOCore
import Testing
import ZKDataTree
import ZKModel
import ZKReplica
import ZKWire

/// Seeded random workloads over several sessions with durability reported in random batches.
/// Checks the ordering promises of reference §1.1 and §2.3 and the tree's own consistency.
@Suite struct RandomWorkloadTests {
    static let paths = ["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z"]

    struct ClientState {
        var nextXid: Xid = 1
        /// Sent and not yet answered, in order; the zxid is set for writes.
        var outstanding: [(xid: Xid, zxid: Zxid?)] = []
        var lastReplyZxid: Zxid = 0
    }

    static func randomRequest(_ xid: Xid, _ g: inout SeededGenerator) -> (ByteBuffer, isWrite: Bool) {
        let path = paths[Int.random(in: 0..<paths.count, using: &g)]
        switch Int.random(in: 0..<11, using: &g) {
        case 0, 1: return (Req.create(xid, path, data: [UInt8(xid & 0xff)], flags: Int32.random(in: 0...3, using: &g)), true)
        case 2: return (Req.delete(xid, path, version: Bool.random(using: &g) ? -1 : 0), true)
        case 3: return (Req.setData(xid, path, [1, 2], version: Bool.random(using: &g) ? -1 : Int32.random(in: 0...2, using: &g)), true)
        case 4: return (Req.getData(xid, path, watch: Bool.random(using: &g)), false)
        case 5: return (Req.exists(xid, path, watch: Bool.random(using: &g)), false)
        case 6: return (Req.getChildren(xid, path, watch: Bool.random(using: &g)), false)
        case 7:
            let other = paths[Int.random(in: 0..<paths.count, using: &g)]
            return (Req.multi(xid, [(.create, Req.createRecord(path)), (.delete, Req.pathVersionRecord(other, -1))]), true)
        case 8: return (Req.pathAndInt(xid, .addWatch, path, Int32.random(in: 0...1, using: &g)), false)
        case 9: return (Req.path(xid, .sync, path), false)
        default: return (requestFrame(xid, .ping), false)
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomWorkload_repliesInOrderAfterDurability_treeStaysConsistent(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var h = ReplicaHarness()
        let ids: [ConnectionID] = [1, 2, 3]
        var clients: [ConnectionID: ClientState] = [:]
        for id in ids {
            h.connect(id, timeout: 40000)
            clients[id] = ClientState()
        }
        var durable: Zxid = h.replica.tree.lastProcessedZxid
        var notifications = 0

        func check(_ actions: [ReplicaAction]) {
            for action in actions {
                if case .sendNotification(let id, _, let zxid) = action, let client = clients[id] {
                    // The event for txn Z comes before any reply that reflects Z (reference §2.3).
                    #expect(client.lastReplyZxid < zxid, "seed \(seed): event of \(zxid) after a reply at \(client.lastReplyZxid) on \(id)")
                    notifications += 1
                }
                guard case .sendReply(let id, let header, _) = action, var client = clients[id] else { continue }
                guard let first = client.outstanding.first else {
                    Issue.record("seed \(seed): unexpected reply \(header) on \(id)")
                    continue
                }
                #expect(header.xid == first.xid, "seed \(seed): reply out of order on \(id)")
                if let zxid = first.zxid {
                    #expect(zxid <= durable, "seed \(seed): reply for zxid \(zxid) before durability (\(durable))")
                    #expect(header.zxid == zxid, "seed \(seed): write reply carries another zxid")
                }
                #expect(header.zxid >= client.lastReplyZxid, "seed \(seed): reply zxid went backwards on \(id)")
                client.lastReplyZxid = header.zxid
                client.outstanding.removeFirst()
                clients[id] = client
            }
        }

        for _ in 0..<400 {
            if Int.random(in: 0..<4, using: &g) == 0, !h.unpersisted.isEmpty {
                // Some prefix of the appended txns becomes durable.
                let count = Int.random(in: 1...h.unpersisted.count, using: &g)
                let upTo = h.unpersisted[count - 1].zxid
                h.unpersisted.removeFirst(count)
                durable = upTo
                check(h.record(h.replica.logPersisted(upTo: upTo, now: h.time)))
            } else {
                let id = ids[Int.random(in: 0..<ids.count, using: &g)]
                var client = clients[id]!
                let xid = client.nextXid
                client.nextXid += 1
                let (frame, isWrite) = Self.randomRequest(xid, &g)
                let actions = h.send(id, frame)
                let appended = actions.appendedTxns
                #expect(appended.count == (isWrite ? 1 : 0), "seed \(seed): a write logs exactly one txn")
                client.outstanding.append((xid, appended.first?.zxid))
                clients[id] = client
                check(actions)
            }
            h.now += Int64.random(in: 0...50, using: &g)
        }
        durable = h.unpersisted.last?.zxid ?? durable
        check(h.persist())
        for id in ids { #expect(clients[id]!.outstanding.isEmpty, "seed \(seed): unanswered requests on \(id)") }

        // The workload did something.
        #expect(notifications > 10, "seed \(seed): only \(notifications) notifications")
        #expect(h.log.filter { if case .error = $0.body { return false } else { return true } }.count > 20)

        // Tree consistency.
        let tree = h.replica.tree
        #expect(tree.lastProcessedZxid == h.log.last?.zxid)
        for (path, node) in tree.nodes {
            for child in node.children {
                #expect(tree.node(PathRules.join(path, child)) != nil, "seed \(seed): \(path) lists missing child \(child)")
            }
            if path != "/" {
                #expect(tree.node(PathRules.parent(of: path)!)?.children.contains(PathRules.name(of: path)) == true)
            }
            // Built-in children (zookeeper, quota, config) were never "created", so they are not counted.
            let builtIn: Int32 = path == "/" ? 1 : (path == "/zookeeper" ? 2 : 0)
            #expect(node.cversion + builtIn >= Int32(node.children.count), "seed \(seed): stored cversion below child count at \(path)")
            if let owner = EphemeralOwner.session(node.ephemeralOwner) {
                #expect(node.children.isEmpty, "seed \(seed): ephemeral \(path) has children")
                #expect(h.replica.sessions.sessions[owner] != nil)
                #expect(tree.ephemeralPaths(of: owner).contains(path))
            }
        }
        #expect(h.replica.tree.nodeCount == tree.nodes.count + 1)
        #expect(tree.digest == tree.recomputedDigest(), "seed \(seed): running tree digest drifted")
    }
}
