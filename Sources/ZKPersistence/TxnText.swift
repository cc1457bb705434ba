import ZKModel
import ZKWire

/// The text ZooKeeper 3.8.0's `TxnLogToolkit` prints for one logged txn. Pure: the caller
/// formats the time stamp (it depends on the local time zone) and writes the line.
///
/// The body text follows the tool's rules: creates, setData and multi get a comma-separated
/// form with the data decoded as UTF-8; every other record is shown as jute's `toString()`
/// (`JuteRecordText`), which ends with a newline of its own.
public enum TxnText {
    /// The whole line, ending with exactly one newline: `<time> session 0x.. cxid 0x.. zxid
    /// 0x.. <op> <body>`. `recordPresent` is false for a closeSession written before 3.6
    /// (no record after the header), which the tool shows with an empty body.
    public static func line(_ txn: Txn, timeText: String, recordPresent: Bool = true) -> String {
        let header = txn.header
        let text = "\(timeText) session 0x\(hex(header.clientId)) cxid 0x\(hex(Int64(header.cxid))) zxid 0x\(hex(header.zxid)) \(opName(header.type)) \(body(txn.body, recordPresent: recordPresent))"
        return text.hasSuffix("\n") ? text : text + "\n"
    }

    /// The body part of the line.
    public static func body(_ body: TxnBody, recordPresent: Bool = true) -> String {
        switch body {
        case .create(let path, let data, let acl, let ephemeral, let parentCVersion):
            return "\(path),\(utf8(data)),\(aclListText(acl)),\(ephemeral),\(parentCVersion)"
        case .setData(let path, let data, let version):
            return "\(path),\(utf8(data)),\(version)"
        case .createContainer(let path, let data, let acl, let parentCVersion):
            return "\(path),\(utf8(data)),\(aclListText(acl)),\(parentCVersion)"
        case .createTTL(let path, let data, let acl, let parentCVersion, let ttl):
            return "\(path),\(utf8(data)),\(aclListText(acl)),\(parentCVersion),\(ttl)"
        case .multi(let bodies):
            // Each sub-txn as its op name and its record's raw bytes read as UTF-8.
            return bodies.map { sub -> String in
                var writer = JuteWriter()
                TxnCodec.encodeRecord(sub, into: &writer)
                return "\(opName(sub.type.rawValue)):\(utf8(Array(writer.buffer.readableBytesView)))"
            }.joined(separator: ";")
        case .closeSession(let paths):
            guard recordPresent else { return "" }
            var record = JuteRecordText()
            record.vector(paths) { $0.string($1) }
            return record.finished
        case .createSession(let timeoutMs):
            var record = JuteRecordText()
            record.number(Int64(timeoutMs))
            return record.finished
        case .delete(let path), .deleteContainer(let path):
            var record = JuteRecordText()
            record.string(path)
            return record.finished
        case .setACL(let path, let acl, let version):
            var record = JuteRecordText()
            record.string(path)
            record.vector(acl) { $0.acl($1) }
            record.number(Int64(version))
            return record.finished
        case .check(let path, let version):
            var record = JuteRecordText()
            record.string(path)
            record.number(Int64(version))
            return record.finished
        case .error(let code):
            var record = JuteRecordText()
            record.number(Int64(code.rawValue))
            return record.finished
        }
    }

    /// Java's `List<ACL>.toString()`: each ACL's record text (newline included), joined by ", ".
    public static func aclListText(_ acl: [ACL]) -> String {
        "[" + acl.map { entry -> String in
            var record = JuteRecordText()
            record.number(Int64(entry.perms))
            record.nested { $0.string(entry.id.scheme); $0.string(entry.id.id) }
            return record.finished
        }.joined(separator: ", ") + "]"
    }

    /// `Request.op2String` as 3.8.0 has it (no name for addWatch there).
    public static func opName(_ type: Int32) -> String {
        guard let op = OpCode(rawValue: type) else { return "unknown \(type)" }
        switch op {
        case .notification: return "notification"
        case .create: return "create"
        case .delete: return "delete"
        case .exists: return "exists"
        case .getData: return "getData"
        case .setData: return "setData"
        case .getACL: return "getACL"
        case .setACL: return "setACL"
        case .getChildren: return "getChildren"
        case .sync: return "sync"
        case .ping: return "ping"
        case .getChildren2: return "getChildren2"
        case .check: return "check"
        case .multi: return "multi"
        case .create2: return "create2"
        case .reconfig: return "reconfig"
        case .checkWatches: return "checkWatches"
        case .removeWatches: return "removeWatches"
        case .createContainer: return "createContainer"
        case .deleteContainer: return "deleteContainer"
        case .createTTL: return "createTtl"
        case .multiRead: return "multiRead"
        case .auth: return "auth"
        case .setWatches: return "setWatches"
        case .setWatches2: return "setWatches2"
        case .sasl: return "sasl"
        case .getEphemerals: return "getEphemerals"
        case .getAllChildrenNumber: return "getAllChildrenNumber"
        case .createSession: return "createSession"
        case .closeSession: return "closeSession"
        case .error: return "error"
        case .whoAmI: return "whoAmI"
        default: return "unknown \(type)"
        }
    }

    /// Lower-case hex of the two's complement, as Java's `Long.toHexString`.
    public static func hex(_ value: Int64) -> String { String(UInt64(bitPattern: value), radix: 16) }

    /// Bytes as Java's `new String(bytes, UTF_8)` shows them: malformed sequences become U+FFFD.
    static func utf8(_ bytes: [UInt8]?) -> String {
        guard let bytes, !bytes.isEmpty else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// jute's `toString()` of a record (its `ToStringOutputArchive`): fields separated by commas,
/// strings as `'text` with `\0 \n \r , } %` escaped as `%XX`, buffers as `#` and Java's
/// `Integer.toHexString` of each (sign-extended) byte, vectors as `v{..}`, nested records as
/// `s{..}`, booleans as T/F; the top-level record ends with a newline.
public struct JuteRecordText: Sendable {
    private var text = ""
    private var isFirst = true

    public init() {}

    /// The record's text, newline included.
    public var finished: String { text + "\n" }

    private mutating func separate() {
        if !isFirst { text += "," }
        isFirst = false
    }

    public mutating func number(_ value: Int64) {
        separate()
        text += String(value)
    }

    public mutating func bool(_ value: Bool) {
        separate()
        text += value ? "T" : "F"
    }

    public mutating func string(_ value: String?) {
        separate()
        guard let value else { return }
        text += "'"
        for unit in value.unicodeScalars {
            switch unit {
            case "\0": text += "%00"
            case "\n": text += "%0A"
            case "\r": text += "%0D"
            case ",": text += "%2C"
            case "}": text += "%7D"
            case "%": text += "%25"
            default: text.unicodeScalars.append(unit)
            }
        }
    }

    public mutating func buffer(_ value: [UInt8]?) {
        separate()
        guard let value, !value.isEmpty else { return }
        text += "#"
        for byte in value { text += String(UInt32(bitPattern: Int32(Int8(bitPattern: byte))), radix: 16) }
    }

    public mutating func vector<T>(_ values: [T], _ element: (inout JuteRecordText, T) -> Void) {
        separate()
        text += "v{"
        isFirst = true
        for value in values { element(&self, value) }
        text += "}"
        isFirst = false
    }

    public mutating func nested(_ fields: (inout JuteRecordText) -> Void) {
        separate()
        text += "s{"
        isFirst = true
        fields(&self)
        text += "}"
        isFirst = false
    }

    public mutating func acl(_ entry: ACL) {
        nested { record in
            record.number(Int64(entry.perms))
            record.nested { $0.string(entry.id.scheme); $0.string(entry.id.id) }
        }
    }
}
