import Glibc
import NIOCore

/// Gives freed heap memory back to the system. What a client made the server hold (a
/// million watches, a hundred thousand ephemerals) is freed as many small blocks, which
/// glibc keeps in its free lists; `malloc_trim` returns their pages, so the server's RSS
/// comes back down after the client is gone. Cheap when there is little to return.
enum MemoryTrim {
    private typealias Trim = @convention(c) (Int) -> Int32

    /// glibc's `malloc_trim`, looked up at run time (Swift's Glibc module leaves malloc.h out).
    private static let trim: Trim? = {
        // A nil handle is RTLD_DEFAULT: the symbol as the process's libraries provide it.
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()

    static func schedule(every interval: TimeAmount, on loop: EventLoop) {
        guard let trim else { return }
        loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            _ = trim(0)
        }
    }
}
