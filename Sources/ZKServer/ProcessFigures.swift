import Foundation
import ZKReplica
#if canImport(Glibc)
import Glibc
#endif

/// The process's own figures, as Prometheus's standard `process_*` metrics name them
/// (ZooKeeper exports them with `metricsProvider.exportJvmInfo`). Read from /proc.
struct ProcessFigures {
    var openFileDescriptors = 0
    var maxFileDescriptors = 0
    var residentBytes: Double = 0
    var virtualBytes: Double = 0
    var cpuSeconds: Double = 0
    var startTimeSeconds: Double = 0

    static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        figures.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { figures.maxFileDescriptors = Int(clamping: limit.rlim_cur) }
        let pageBytes = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let pages = statm.split(separator: " ").compactMap { Double($0) }
            if pages.count >= 2 {
                figures.virtualBytes = pages[0] * pageBytes
                figures.residentBytes = pages[1] * pageBytes
            }
        }
        // /proc/self/stat: fields after the command's closing parenthesis; utime, stime
        // and starttime (in clock ticks since boot) are its 12th, 13th and 20th.
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 19, let utime = Double(fields[11]), let stime = Double(fields[12]), let start = Double(fields[19]) {
                figures.cpuSeconds = (utime + stime) / ticksPerSecond
                figures.startTimeSeconds = bootTimeSeconds() + start / ticksPerSecond
            }
        }
        return figures
    }

    static func bootTimeSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    var prometheusText: String {
        [
            ("process_cpu_seconds_total", "counter", cpuSeconds), ("process_start_time_seconds", "gauge", startTimeSeconds),
            ("process_open_fds", "gauge", Double(openFileDescriptors)), ("process_max_fds", "gauge", Double(maxFileDescriptors)),
            ("process_virtual_memory_bytes", "gauge", virtualBytes), ("process_resident_memory_bytes", "gauge", residentBytes),
        ].map { name, type, value in MetricsText.family(name, type: type, value: value) }.joined()
    }
}
