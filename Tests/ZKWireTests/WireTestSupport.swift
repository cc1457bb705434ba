import NIOCore
import ZKModel
import ZKWire

// Test-side helpers. The server only decodes requests and only encodes responses, so the
// other direction lives here, written field by field from the jute definitions (reference §1.6).

func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex string")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
}

func hex(_ buffer: ByteBuffer) -> String { hex(buffer.readableBytesView.map { $0 }) }

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

/// Runs `body` against a fresh writer and returns what it wrote.
func written(_ body: (inout JuteWriter) -> Void) -> ByteBuffer {
    var writer = JuteWriter()
    body(&writer)
    return writer.buffer
}

func writtenBytes(_ body: (inout JuteWriter) -> Void) -> [UInt8] {
    Array(written(body).readableBytesView)
}

/// Decodes a request body written by `body` as opcode `type`, and checks nothing is left over.
func decodeRequest(type: Int32, _ body: (inout JuteWriter) -> Void) throws -> Request {
    var reader = JuteReader(written(body))
    let request = try Request.decode(type: type, from: &reader)
    guard reader.isAtEnd else { throw TestFailure("\(reader.buffer.readableBytes) bytes left after decoding type \(type)") }
    return request
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let openACL = ACL.openACLUnsafe
let digestACL = [ACL(perms: 31, id: Id(scheme: "digest", id: "user:smGaoVKd/cQkjm7b88GyorAUz20="))]

let sampleStat = Stat(
    czxid: 0x1_0000_0002, mzxid: 0x1_0000_0003, ctime: 1_700_000_000_123, mtime: 1_700_000_000_456, version: 7,
    cversion: -3, aversion: 2, ephemeralOwner: 0x0100_000a_425f_0000, dataLength: 5, numChildren: 4,
    pzxid: Int64.max)

// MARK: - Request encoding (client side)

enum RequestEncoder {
    /// The opcode a request is sent with.
    static func type(of request: Request) -> Int32 {
        switch request {
        case .create(let create): return create.opCode.rawValue
        case .delete: return OpCode.delete.rawValue
        case .exists: return OpCode.exists.rawValue
        case .getData: return OpCode.getData.rawValue
        case .setData: return OpCode.setData.rawValue
        case .getACL: return OpCode.getACL.rawValue
        case .setACL: return OpCode.setACL.rawValue
        case .getChildren: return OpCode.getChildren.rawValue
        case .getChildren2: return OpCode.getChildren2.rawValue
        case .sync: return OpCode.sync.rawValue
        case .ping: return OpCode.ping.rawValue
        case .check: return OpCode.check.rawValue
        case .multi: return OpCode.multi.rawValue
        case .multiRead: return OpCode.multiRead.rawValue
        case .reconfig: return OpCode.reconfig.rawValue
        case .checkWatches: return OpCode.checkWatches.rawValue
        case .removeWatches: return OpCode.removeWatches.rawValue
        case .deleteContainer: return OpCode.deleteContainer.rawValue
        case .auth: return OpCode.auth.rawValue
        case .setWatches(_, let version2): return version2 ? OpCode.setWatches2.rawValue : OpCode.setWatches.rawValue
        case .sasl: return OpCode.sasl.rawValue
        case .getEphemerals: return OpCode.getEphemerals.rawValue
        case .getAllChildrenNumber: return OpCode.getAllChildrenNumber.rawValue
        case .addWatch: return OpCode.addWatch.rawValue
        case .whoAmI: return OpCode.whoAmI.rawValue
        case .closeSession: return OpCode.closeSession.rawValue
        }
    }

    static func encodeCreate(_ create: CreateRequest, _ writer: inout JuteWriter) {
        writer.writeString(create.path)
        writer.writeBuffer(create.data)
        writer.writeACLs(create.acl)
        writer.writeInt(create.flags)
        if create.opCode == .createTTL { writer.writeLong(create.ttl) }
    }

    static func encode(_ op: MultiOp, _ writer: inout JuteWriter) {
        writer.writeInt(op.opCode.rawValue)
        writer.writeBool(false)
        writer.writeInt(-1)
        switch op {
        case .create(let create): encodeCreate(create, &writer)
        case .delete(let path, let version), .check(let path, let version):
            writer.writeString(path)
            writer.writeInt(version)
        case .setData(let path, let data, let version):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeInt(version)
        case .getChildren(let path), .getData(let path):
            writer.writeString(path)
            writer.writeBool(false)
        }
    }

    static func encodeMultiTerminator(_ writer: inout JuteWriter) {
        writer.writeInt(-1)
        writer.writeBool(true)
        writer.writeInt(-1)
    }

    static func encode(_ request: Request, _ writer: inout JuteWriter) {
        switch request {
        case .create(let create): encodeCreate(create, &writer)
        case .delete(let path, let version), .check(let path, let version):
            writer.writeString(path)
            writer.writeInt(version)
        case .exists(let path, let watch), .getData(let path, let watch), .getChildren(let path, let watch),
            .getChildren2(let path, let watch):
            writer.writeString(path)
            writer.writeBool(watch)
        case .setData(let path, let data, let version):
            writer.writeString(path)
            writer.writeBuffer(data)
            writer.writeInt(version)
        case .getACL(let path), .sync(let path), .getAllChildrenNumber(let path), .getEphemerals(let path):
            writer.writeString(path)
        case .deleteContainer(let path):
            writer.writeBuffer(Array(path.utf8))
        case .setACL(let path, let acl, let version):
            writer.writeString(path)
            writer.writeACLs(acl)
            writer.writeInt(version)
        case .ping, .whoAmI, .closeSession:
            break
        case .multi(let ops), .multiRead(let ops):
            for op in ops { encode(op, &writer) }
            encodeMultiTerminator(&writer)
        case .reconfig(let reconfig):
            writer.writeString(reconfig.joiningServers)
            writer.writeString(reconfig.leavingServers)
            writer.writeString(reconfig.newMembers)
            writer.writeLong(reconfig.curConfigId)
        case .checkWatches(let path, let type), .removeWatches(let path, let type), .addWatch(let path, let type):
            writer.writeString(path)
            writer.writeInt(type)
        case .auth(let type, let scheme, let auth):
            writer.writeInt(type)
            writer.writeString(scheme)
            writer.writeBuffer(auth)
        case .setWatches(let watches, let version2):
            writer.writeLong(watches.relativeZxid)
            writer.writeStringVector(watches.dataWatches)
            writer.writeStringVector(watches.existWatches)
            writer.writeStringVector(watches.childWatches)
            if version2 {
                writer.writeStringVector(watches.persistentWatches)
                writer.writeStringVector(watches.persistentRecursiveWatches)
            }
        case .sasl(let token):
            writer.writeBuffer(token)
        }
    }

    static func body(_ request: Request) -> ByteBuffer { written { encode(request, &$0) } }
}

// MARK: - Response decoding (client side)

enum ResponseDecoder {
    /// Decodes a reply body of the same shape as `expected`.
    static func decode(like expected: Response, from reader: inout JuteReader) throws -> Response {
        switch expected {
        case .none: return .none
        case .create: return .create(path: try reader.readPath())
        case .sync: return .sync(path: try reader.readPath())
        case .create2: return .create2(path: try reader.readPath(), stat: try reader.readStat())
        case .stat: return .stat(try reader.readStat())
        case .data: return .data(try reader.readBuffer(), try reader.readStat())
        case .acl:
            let acl = try reader.readACLs() ?? []
            return .acl(acl, try reader.readStat())
        case .children: return .children(try reader.readStringVector() ?? [])
        case .ephemerals: return .ephemerals(try reader.readStringVector() ?? [])
        case .children2:
            let children = try reader.readStringVector() ?? []
            return .children2(children, try reader.readStat())
        case .multi: return .multi(try decodeMulti(from: &reader))
        case .allChildrenNumber: return .allChildrenNumber(try reader.readInt())
        case .errorResponse: return .errorResponse(try reader.readInt())
        case .whoAmI:
            let infos = try reader.readVector { r in
                ClientInfo(authScheme: try r.readString() ?? "", user: try r.readString() ?? "")
            }
            return .whoAmI(infos ?? [])
        case .sasl: return .sasl(token: try reader.readBuffer())
        }
    }

    /// `MultiResponse`: `(MultiHeader, result)*` then `MultiHeader{-1, true, -1}`.
    static func decodeMulti(from reader: inout JuteReader) throws -> [MultiResult] {
        var results: [MultiResult] = []
        while true {
            let type = try reader.readInt()
            let done = try reader.readBool()
            let err = try reader.readInt()
            if done {
                guard type == -1, err == -1 else { throw TestFailure("bad multi terminator \(type) \(err)") }
                return results
            }
            switch type {
            case 1: results.append(.create(path: try reader.readPath()))
            case 15: results.append(.create2(path: try reader.readPath(), stat: try reader.readStat()))
            case 2: results.append(.delete)
            case 13: results.append(.check)
            case 5: results.append(.setData(try reader.readStat()))
            case 8: results.append(.getChildren(try reader.readStringVector() ?? []))
            case 4: results.append(.getData(data: try reader.readBuffer(), stat: try reader.readStat()))
            case -1:
                let code = try reader.readInt()
                guard code == err, let errorCode = ErrorCode(rawValue: code) else {
                    throw TestFailure("error result header \(err) body \(code)")
                }
                results.append(.error(errorCode))
            default: throw TestFailure("unknown multi result type \(type)")
            }
            if type != -1 && err != 0 { throw TestFailure("result type \(type) with err \(err)") }
        }
    }
}

/// Splits an encoded frame: checks the length prefix, returns the payload.
func payload(ofFrame frame: ByteBuffer) throws -> ByteBuffer {
    var frame = frame
    guard let length = frame.readInteger(endianness: .big, as: Int32.self) else { throw TestFailure("no length") }
    guard Int(length) == frame.readableBytes else { throw TestFailure("length \(length) but \(frame.readableBytes) bytes") }
    return frame
}
