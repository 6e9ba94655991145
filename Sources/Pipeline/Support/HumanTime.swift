

#if canImport(Glibc)
import Glibc
#endif

/// Times and durations as an operator reads them: local wall-clock time in text (`2026-12-06 06:03:51`), ISO 8601
/// (UTC, `2026-12-06T06:03:51.911Z`) in JSON, and durations in their two largest units (`3d 4h`, `2m 5s`).
public enum HumanTime {
    /// Local time of `seconds` since the epoch, to the second (the zone is the host's, as `date` prints it).
    public static func local(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    public static func local(_ time: FileStat.Timestamp) -> String { local(time.seconds) }

    /// ISO 8601 in UTC with milliseconds, e.g. `2026-12-06T06:03:51.911Z`.
    public static func iso8601(_ time: FileStat.Timestamp) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(time.nanoseconds) / 1_000_000
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }

    public static func iso8601(seconds: Double) -> String {
        let whole = seconds.rounded(.down)
        return iso8601(FileStat.Timestamp(seconds: Int64(whole), nanoseconds: Int32((seconds - whole) * 1e9)))
    }

    /// A duration in its two largest units: `45s`, `2m 5s`, `3h 4m`, `3d 4h` (seconds rounded).
    public static func duration(_ seconds: Double) -> String {
        let total = max(0, Int(seconds.rounded()))
        let days = total / 86_400, hours = total / 3600 % 24, minutes = total / 60 % 60, rest = total % 60
        if days > 0 { return hours > 0 ? "\(days)d \(hours)h" : "\(days)d" }
        if hours > 0 { return minutes > 0 ? "\(hours)h \(minutes)m" : "\(hours)h" }
        if minutes > 0 { return rest > 0 ? "\(minutes)m \(rest)s" : "\(minutes)m" }
        return "\(rest)s"
    }

    /// How long a job took: `4.2s` under a minute (short jobs are compared by tenths), else ``duration(_:)``.
    public static func elapsed(_ seconds: Double) -> String {
        guard seconds < 59.95 else { return duration(seconds) }
        let tenths = Int((max(0, seconds) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)s"
    }

    /// `3d 4h ago`, from now (a time in the future says `in ...`).
    public static func ago(_ time: FileStat.Timestamp) -> String {
        let now = Clock.realtime()
        let seconds = Double(now.seconds - time.seconds) + Double(now.nanoseconds - time.nanoseconds) / 1e9
        return seconds >= 0 ? duration(seconds) + " ago" : "in " + duration(-seconds)
    }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
