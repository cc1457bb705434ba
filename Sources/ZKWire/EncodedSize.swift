import ZKModel

/// Exact sizes of what the server sends, computed without encoding it. The replica uses
/// them to refuse a reply larger than `jute.maxbuffer` before building it, and to account
/// for the reply bytes each connection has not taken yet (backpressure). `FrameEncoder`
/// writes exactly these many bytes (a unit test holds the two together).
public enum EncodedSize {
    public static let stat = 68
    /// Length prefix of a frame.
    public static let framePrefix = 4
    /// `ReplyHeader{xid, zxid, err}`.
    public static let replyHeader = 16
    /// `MultiHeader{type, done, err}`.
    static let multiHeader = 9

    public static func buffer(_ bytes: [UInt8]?) -> Int { 4 + (bytes?.count ?? 0) }

    /// jute's string: UTF-8, except that characters outside the BMP take 6 bytes (Java writes
    /// each UTF-16 surrogate separately), as `JuteWriter.writeString` does.
    public static func string(_ value: String?) -> Int {
        guard let value else { return 4 }
        var outsideBMP = 0
        for byte in value.utf8 where byte >= 0xf0 { outsideBMP += 1 }
        return 4 + value.utf8.count + 2 * outsideBMP
    }

    public static func strings(_ values: [String]?) -> Int {
        guard let values else { return 4 }
        return values.reduce(4) { $0 + string($1) }
    }

    public static func acls(_ acls: [ACL]?) -> Int {
        guard let acls else { return 4 }
        return acls.reduce(4) { $0 + 4 + string($1.id.scheme) + string($1.id.id) }
    }

    /// A whole reply frame (prefix included); the body counts only when `err` is 0.
    public static func reply(_ header: ReplyHeader, _ response: Response) -> Int {
        framePrefix + replyHeader + (header.err == 0 ? body(response) : 0)
    }

    /// A whole notification frame: prefix, reply header, `WatcherEvent{type, state, path}`.
    public static func notification(_ event: WatchedEvent) -> Int {
        framePrefix + replyHeader + 8 + string(event.path)
    }

    public static func connectResponse(_ response: ConnectResponse) -> Int {
        framePrefix + 16 + buffer(response.passwd) + (response.readOnly == nil ? 0 : 1)
    }

    public static func body(_ response: Response) -> Int {
        switch response {
        case .none: return 0
        case .create(let path), .sync(let path): return string(path)
        case .create2(let path, _): return string(path) + stat
        case .stat: return stat
        case .data(let data, _): return buffer(data) + stat
        case .acl(let acl, _): return acls(acl) + stat
        case .children(let children), .ephemerals(let children): return strings(children)
        case .children2(let children, _): return strings(children) + stat
        case .multi(let results): return results.reduce(multiHeader) { $0 + multiHeader + multiBody($1) }
        case .allChildrenNumber, .errorResponse: return 4
        case .whoAmI(let infos): return infos.reduce(4) { $0 + string($1.authScheme) + string($1.user) }
        case .sasl(let token): return buffer(token)
        }
    }

    public static func multiBody(_ result: MultiResult) -> Int {
        switch result {
        case .create(let path): return string(path)
        case .create2(let path, _): return string(path) + stat
        case .delete, .check: return 0
        case .setData: return stat
        case .getChildren(let children): return strings(children)
        case .getData(let data, _): return buffer(data) + stat
        case .error: return 4
        }
    }
}
