#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time stamps as ZooKeeper's data tools print them in the local time zone with Java's
/// default (en_US) locale. The zone is the C library's abbreviation (`tm_zone`), which is
/// what Java shows for UTC and the usual named zones.
public enum JavaTimeText {
    static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let millisecondsPerSecond: Int64 = 1000

    struct Fields {
        var year: Int, month: Int, day: Int, weekday: Int, hour: Int, minute: Int, second: Int
        var zone: String
    }

    static func fields(milliseconds: Int64) -> Fields {
        // Java floors toward minus infinity for times before 1970.
        var seconds = time_t(milliseconds / millisecondsPerSecond)
        if milliseconds % millisecondsPerSecond < 0 { seconds -= 1 }
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else {
            return Fields(year: 1970, month: 0, day: 1, weekday: 4, hour: 0, minute: 0, second: 0, zone: "UTC")
        }
        let zone = parts.tm_zone.map { String(cString: $0) } ?? "UTC"
        return Fields(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon), day: Int(parts.tm_mday),
            weekday: Int(parts.tm_wday), hour: Int(parts.tm_hour), minute: Int(parts.tm_min),
            second: Int(parts.tm_sec), zone: zone)
    }

    /// `java.util.Date.toString()`: `Thu Jan 01 00:00:00 UTC 1970`.
    public static func dateToString(milliseconds: Int64) -> String {
        let f = fields(milliseconds: milliseconds)
        let weekday = weekdayNames[max(0, min(6, f.weekday))]
        let month = monthNames[max(0, min(11, f.month))]
        return "\(weekday) \(month) \(pad2(f.day)) \(pad2(f.hour)):\(pad2(f.minute)):\(pad2(f.second)) \(f.zone) \(f.year)"
    }

    /// `DateFormat.getDateTimeInstance(SHORT, LONG)` in en_US: `12/2/26, 1:00:51 AM UTC`.
    public static func shortDateLongTime(milliseconds: Int64) -> String {
        let f = fields(milliseconds: milliseconds)
        let hour12 = f.hour % 12 == 0 ? 12 : f.hour % 12
        let marker = f.hour < 12 ? "AM" : "PM"
        let year = ((f.year % 100) + 100) % 100
        return "\(f.month + 1)/\(f.day)/\(pad2(year)), \(hour12):\(pad2(f.minute)):\(pad2(f.second)) \(marker) \(f.zone)"
    }

    static func pad2(_ value: Int) -> String { value < 10 && value >= 0 ? "0\(value)" : String(value) }
}
