/// ZooKeeper's path rules (`PathUtils.validatePath`), checked on UTF-16 code units as Java does.
public enum PathRules {
    /// Returns nil if `path` is valid, else a reason.
    public static func invalidReason(_ path: String) -> String? {
        if path.isEmpty { return "Path length must be > 0" }
        let units = Array(path.utf16)
        if units[0] != 0x2f { return "Path must start with / character" }
        if units.count == 1 { return nil }
        if units[units.count - 1] == 0x2f { return "Path must not end with / character" }
        var previous: UInt16 = 0x2f
        var segmentStart = 1
        for index in 1...units.count {
            let unit: UInt16 = index < units.count ? units[index] : 0x2f
            if index < units.count {
                if unit == 0 { return "null character not allowed @\(index)" }
                if unit == 0x2f && previous == 0x2f { return "empty node name specified @\(index)" }
                if isForbidden(unit) { return "invalid character @\(index)" }
            }
            if unit == 0x2f {
                let segment = units[segmentStart..<index]
                if segment.elementsEqual([0x2e]) || segment.elementsEqual([0x2e, 0x2e]) {
                    return "relative paths not allowed @\(index)"
                }
                segmentStart = index + 1
            }
            previous = unit
        }
        return nil
    }

    public static func isValid(_ path: String) -> Bool { invalidReason(path) == nil }

    private static func isForbidden(_ unit: UInt16) -> Bool {
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
