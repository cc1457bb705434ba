import Glibc
import Logging

/// Every client connection is a file descriptor. The soft limit most shells start with
/// (1024) is far below what a ZooKeeper server serves, so the server raises it to the hard
/// limit at start-up, as the JVM does for ZooKeeper (`-XX:+MaxFDLimit`, on by default).
enum FileDescriptorLimit {
    static func raiseToHardLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let soft = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.info("raised the open file limit", metadata: ["from": "\(soft)", "to": "\(limit.rlim_max)"])
        } else {
            logger.warning("could not raise the open file limit", metadata: ["limit": "\(soft)", "errno": "\(errno)"])
        }
    }
}
