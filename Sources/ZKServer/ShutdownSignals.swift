import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers

/// How the process answers signals, as ZooKeeper's does: SIGTERM and SIGINT start a graceful
/// stop, a second one exits at once (an operator's way out of a stop stuck on a hung disk),
/// and SIGHUP is ignored. A graceful stop that takes longer than `shutdownTimeoutMs` exits
/// with status 1.
///
/// Dispatch signal sources run their handlers on their own queue, never on a thread the
/// stop may be waiting on, so a blocked fsync cannot hold back the second signal.
enum ShutdownSignals {
    /// Keeps the sources alive for the life of the process. `nonisolated(unsafe)`: written
    /// only by `install`, once, on the thread that starts the server; never read.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let signalsReceived = NIOLockedValueBox(0)
    private static let queue = DispatchQueue(label: "swiftkeeper.signals")

    /// `stop` starts the graceful stop and is called once, on the signal queue.
    static func install(logger: Logger, shutdownTimeoutMs: Int, stop: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        var installed: [DispatchSourceSignal] = []
        for (signo, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            // Ignored for the default action: the dispatch source still sees it.
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler {
                received(signo, name: name, logger: logger, shutdownTimeoutMs: shutdownTimeoutMs, stop: stop)
            }
            source.resume()
            installed.append(source)
        }
        sources += installed
    }

    private static func received(
        _ signo: Int32, name: String, logger: Logger, shutdownTimeoutMs: Int, stop: @Sendable () -> Void
    ) {
        let count = signalsReceived.withLockedValue { value in
            value += 1
            return value
        }
        guard count == 1 else {
            logger.warning("second stop signal: exiting at once", metadata: ["signal": "\(name)"])
            exitNow(128 + signo)
        }
        logger.notice(
            "stop signal: stopping gracefully (send it again to exit at once)",
            metadata: ["signal": "\(name)", "shutdownTimeoutMs": "\(shutdownTimeoutMs)"])
        queue.asyncAfter(deadline: .now() + .milliseconds(shutdownTimeoutMs)) {
            logger.error("graceful stop did not finish in time: exiting", metadata: ["shutdownTimeoutMs": "\(shutdownTimeoutMs)"])
            exitNow(1)
        }
        stop()
    }

    /// Exits without running atexit handlers or flushing stdio buffers another thread may
    /// hold locked; stderr (the log) is unbuffered.
    static func exitNow(_ status: Int32) -> Never {
        _exit(status)
    }
}
