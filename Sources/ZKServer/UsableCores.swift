import Foundation
import NIOCore

/// The cores this process may run on: NIO's `System.coreCount` reads cgroup quotas and
/// the online CPUs, not the affinity mask, so under `taskset -c 0` the server would start
/// a connection loop per online core on the one it may use (the JVM sizes by the mask).
/// The mask is `Cpus_allowed` in /proc/self/status (Glibc's Swift module has no
/// `sched_getaffinity`).
enum UsableCores {
    static var count: Int {
        let online = System.coreCount
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }),
            let inMask = allowed(fromMask: line.dropFirst("Cpus_allowed:".count))
        else { return online }
        return max(1, min(online, inMask))
    }

    /// Cores in a mask such as "\t00000000,00000003"; nil if it does not parse.
    static func allowed(fromMask text: Substring) -> Int? {
        var count = 0
        for character in text where character != "," && !character.isWhitespace {
            guard let digit = character.hexDigitValue else { return nil }
            count += digit.nonzeroBitCount
        }
        return count
    }
}
