#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The `log=` path with its substitutions, worked out at job start.
///
/// | code | replaced by |
/// | --- | --- |
/// | `%j` | the job name (`Nightly`) |
/// | `%n` | the job name too (Bareos' spelling) |
/// | `%i` | the job id |
/// | `%l` | the level: `Full`, `Incremental`, `Differential` |
/// | `%t` | the job's start time, UTC: `2026-12-06_06.41.55` |
/// | `%%` | `%` |
///
/// Any other `%` sequence is an error at stage creation, so `check` reports it.
enum ChecksumLogName {
    static let codes: Set<Character> = ["j", "n", "i", "l", "t", "%"]

    /// Checks a template without a job (stage creation): nil when it is valid, else the problem.
    static func problem(in template: String) -> String? {
        var iterator = template.makeIterator()
        while let char = iterator.next() {
            guard char == "%" else { continue }
            guard let code = iterator.next() else { return "log=\(template) ends with a lone %" }
            if !codes.contains(code) {
                return "log=\(template): unknown substitution %\(code) (known: %j job name, %n job name, %i job id, "
                    + "%l level, %t start time, %% a percent sign)"
            }
        }
        return nil
    }

    /// `template` with the job's values (the template was checked by `problem(in:)`).
    static func expand(_ template: String, jobName: String, jobID: Int64, level: String, start: FileStat.Timestamp) -> String {
        var out = ""
        var iterator = template.makeIterator()
        while let char = iterator.next() {
            guard char == "%", let code = iterator.next() else {
                out.append(char)
                continue
            }
            switch code {
            case "j", "n": out += jobName
            case "i": out += String(jobID)
            case "l": out += level
            case "t": out += fileTime(start)
            default: out.append(code)
            }
        }
        return out
    }

    /// `2026-12-06_06.41.55` (UTC), the time format of Bareos' unique job names; safe in file names.
    static func fileTime(_ time: FileStat.Timestamp) -> String {
        let parts = utc(time)
        return "\(parts.year)-\(two(parts.month))-\(two(parts.day))_\(two(parts.hour)).\(two(parts.minute)).\(two(parts.second))"
    }

    /// ISO-8601 UTC with seconds: `2026-12-06T06:41:55Z`.
    static func isoTime(_ time: FileStat.Timestamp) -> String {
        let parts = utc(time)
        return "\(parts.year)-\(two(parts.month))-\(two(parts.day))T\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))Z"
    }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func utc(_ time: FileStat.Timestamp)
        -> (year: Int32, month: Int32, day: Int32, hour: Int32, minute: Int32, second: Int32)
    {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
