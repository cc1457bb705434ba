/// ZooKeeper's path rules (`PathUtils.validatePath`), checked on UTF-16 code units as Java does.
public enum PathRules {
    /// Returns nil if `path` is valid, else a reason.
    public static func invalidReason(_ path: String) -> String? {
        if path.isEmpty { return "Path length must be > 0" }
        // ASCII paths (nearly all) are checked on their UTF-8 bytes in place: for them the
        // UTF-16 offsets ZooKeeper reports are the byte offsets. Others get UTF-16 units.
        if path.utf8.allSatisfy({ $0 < 0x80 }),
            let reason = path.utf8.withContiguousStorageIfAvailable({ invalidReason(units: $0) })
        {
            return reason
        }
        return invalidReason(units: Array(path.utf16))
    }

    /// ZooKeeper's checks on the path's UTF-16 code units (`PathUtils.validatePath`).
    private static func invalidReason<Units: RandomAccessCollection>(units: Units) -> String?
    where Units.Element: FixedWidthInteger, Units.Index == Int {
        let slash: Units.Element = 0x2f, dot: Units.Element = 0x2e
        let first = units.startIndex, count = units.count
        if units[first] != slash { return "Path must start with / character" }
        if count == 1 { return nil }
        if units[first + count - 1] == slash { return "Path must not end with / character" }
        var previous = slash
        var segmentStart = 1
        for index in 1...count {
            let unit = index < count ? units[first + index] : slash
            if index < count {
                if unit == 0 { return "null character not allowed @\(index)" }
                if unit == slash && previous == slash { return "empty node name specified @\(index)" }
                if isForbidden(UInt32(unit)) { return "invalid character @\(index)" }
            }
            if unit == slash {
                let length = index - segmentStart
                if length == 1 && units[first + segmentStart] == dot
                    || length == 2 && units[first + segmentStart] == dot && units[first + segmentStart + 1] == dot
                {
                    return "relative paths not allowed @\(index)"
                }
                segmentStart = index + 1
            }
            previous = unit
        }
        return nil
    }

    public static func isValid(_ path: String) -> Bool { invalidReason(path) == nil }

    private static func isForbidden(_ unit: UInt32) -> Bool {
        (unit > 0x0000 && unit <= 0x001f) || (unit >= 0x007f && unit <= 0x009f)
            || (unit >= 0xd800 && unit <= 0xf8ff) || (unit >= 0xfff0)
    }

    /// The text before the last `/` (`/` for top-level nodes); nil when there is no slash.
    public static func parent(of path: String) -> String? {
        guard let slash = path.utf8.lastIndex(of: 0x2f) else { return nil }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[path.startIndex..<slash])
    }

    /// The text after the last `/`.
    public static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2f) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    public static func join(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// Ancestors from the parent up to `/`, nearest first.
    public static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var current = path
        while current != "/", let parent = parent(of: current) {
            result.append(parent)
            current = parent
        }
        return result
    }
}
