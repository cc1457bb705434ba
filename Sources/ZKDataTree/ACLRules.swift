import ZKModel

/// Permission checks and ACL fix-up, as ZooKeeper's `checkACL` and `fixupACL` do them.
public enum ACLRules {
    /// True if `ids` (the connection's authenticated ids) hold `permission` on a node with `acl`.
    public static func allows(_ acl: [ACL], _ permission: Permissions, ids: [Id], skipACL: Bool = false) -> Bool {
        if skipACL || acl.isEmpty { return true }
        if ids.contains(where: { $0.scheme == "super" }) { return true }
        for entry in acl where entry.perms & permission.rawValue != 0 {
            if entry.id.scheme == "world" && entry.id.id == "anyone" { return true }
            for id in ids where id.scheme == entry.id.scheme {
                if matches(scheme: id.scheme, id: id.id, aclExpression: entry.id.id) { return true }
            }
        }
        return false
    }

    static func matches(scheme: String, id: String, aclExpression: String) -> Bool {
        switch scheme {
        case "ip": return IPMatch.matches(address: id, expression: aclExpression)
        default: return id == aclExpression
        }
    }

    /// Validates and expands an ACL list for create/setACL: duplicates removed, `auth` entries
    /// replaced by the caller's authenticated ids. Throws `invalidACL`.
    public static func fixup(_ acl: [ACL]?, ids: [Id]) throws(ErrorCode) -> [ACL] {
        guard let acl, !acl.isEmpty else { throw .invalidACL }
        var seen = Set<ACL>()
        seen.reserveCapacity(acl.count)
        var unique: [ACL] = []
        for entry in acl where seen.insert(entry).inserted { unique.append(entry) }
        var result: [ACL] = []
        for entry in unique {
            if entry.id.scheme == "world" && entry.id.id == "anyone" {
                result.append(entry)
            } else if entry.id.scheme == "auth" {
                let authenticated = ids.filter { $0.scheme == "digest" }
                if authenticated.isEmpty { throw .invalidACL }
                for id in authenticated { result.append(ACL(perms: entry.perms, id: id)) }
            } else if !isValid(entry.id) {
                throw .invalidACL
            } else {
                result.append(entry)
            }
        }
        if result.isEmpty { throw .invalidACL }
        return result
    }

    static func isValid(_ id: Id) -> Bool {
        switch id.scheme {
        case "digest":
            // Java's `split(":")` drops trailing empty parts: "user:" is one part, "a:b:" two.
            var parts = id.id.split(separator: ":", omittingEmptySubsequences: false)
            while parts.last?.isEmpty == true { parts.removeLast() }
            return parts.count == 2
        case "ip": return IPMatch.isValidExpression(id.id)
        default: return false
        }
    }

    /// getACL without ADMIN shows digest ids as `user:x`.
    public static func redacted(_ acl: [ACL]) -> [ACL] {
        acl.map { entry in
            guard entry.id.scheme == "digest", let colon = entry.id.id.firstIndex(of: ":") else { return entry }
            return ACL(perms: entry.perms, id: Id(scheme: "digest", id: entry.id.id[..<colon] + ":x"))
        }
    }
}

/// `ip` scheme matching: `a.b.c.d`, `a.b.c.d/bits`, and IPv6 forms, masked to `bits`.
enum IPMatch {
    static func isValidExpression(_ expression: String) -> Bool { parse(expression) != nil }

    static func matches(address: String, expression: String) -> Bool {
        guard let (network, bits) = parse(expression), let (client, _) = parse(address) else { return false }
        guard network.count == client.count else { return false }
        var remaining = bits
        for index in 0..<network.count {
            let take = min(8, max(0, remaining))
            let mask: UInt8 = take == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - take))
            if network[index] & mask != client[index] & mask { return false }
            remaining -= take
        }
        return true
    }

    /// The address bytes and prefix length, or nil when unparsable.
    static func parse(_ text: String) -> ([UInt8], Int)? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = parseAddress(String(parts[0])) else { return nil }
        var bits = bytes.count * 8
        if parts.count == 2 {
            guard let value = Int(parts[1]), value >= 0, value <= bytes.count * 8 else { return nil }
            bits = value
        }
        return (bytes, bits)
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for octet in octets {
            guard let value = UInt8(octet) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = splitAtDoubleColon(text)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

/// Splits at the first `::`, the IPv6 zero-run marker.
private func splitAtDoubleColon(_ text: String) -> [Substring] {
    let chars = Array(text.utf8)
    guard chars.count >= 2 else { return [text[...]] }
    for index in 0..<(chars.count - 1) where chars[index] == 0x3a && chars[index + 1] == 0x3a {
        let lower = text.utf8.index(text.utf8.startIndex, offsetBy: index)
        let upper = text.utf8.index(lower, offsetBy: 2)
        let rest = text[upper...]
        if rest.utf8.count >= 2 && Array(rest.utf8).indices.dropLast().contains(where: { Array(rest.utf8)[$0] == 0x3a && Array(rest.utf8)[$0 + 1] == 0x3a }) {
            return [text[..<lower], rest, rest]
        }
        return [text[..<lower], rest]
    }
    return [text[...]]
}
