#if canImport(Glibc)
import Glibc
#endif

/// Runs a backup's RunScripts at one moment (Before or After the job) the Bareos way: each command with the
/// Director's `%` codes replaced, through `/bin/sh -c`, its output lines kept as job messages.
///
/// | code | replaced by |
/// | --- | --- |
/// | `%c` | the client: the Job's `Client`, else this host's name |
/// | `%e` | the job's exit status: `OK`, `OK -- with warnings`, `Fatal Error`, `Canceled`; `Running` before it |
/// | `%i` | the JobId |
/// | `%j` | the unique job name, `NAME.2026-12-06_06.41.55_07` (start time in UTC, JobId modulo 100) |
/// | `%l` | the level: `Full`, `Incremental`, `Differential` |
/// | `%n` | the Job name |
/// | `%s` | the since time, `2026-12-06 06:41:55` UTC (empty for a Full) |
/// | `%t` | the job type: `Backup` |
/// | `%b`, `%F` | bytes read and files stored (0 before the job) |
/// | `%P` | the pid of `optionhost` |
/// | `%v` | the job's volume files, separated by blanks |
/// | `%%` | `%` |
///
/// Any other `%x` stays as written, as in Bareos. Values are not quoted: quote them in the command
/// (`"%n"`) when they may hold blanks.
struct RunScriptRunner {
    var jobID: Int64
    var jobName: String
    var client: String
    var level: String
    var start: FileStat.Timestamp
    var since: FileStat.Timestamp?
    var timeoutSeconds: UInt64
    /// Ctrl-C: a script running when the job is cancelled is killed (one that starts after, on a cancelled job's
    /// After scripts, runs to its end).
    var cancellation: CancellationFlag

    /// The messages of the scripts that run at `moment` and, when one with `FailJobOnError` failed, why (the job
    /// then fails before anything else runs; later scripts of the moment are not run).
    func run(
        _ scripts: [RunScript], at moment: RunScript.When, summary: JobSummary?
    ) -> (messages: [JobMessage], failure: String?) {
        let label = moment == .before ? "BeforeJob" : "AfterJob"
        let succeeded = summary.map { $0.status == .ok || $0.status == .warnings } ?? true
        var messages: [JobMessage] = []
        func add(_ severity: String, _ text: String) {
            messages.append(
                JobMessage(jobID: JobID(rawValue: jobID), time: Clock.realtime(), severity: severity, text: text))
        }
        for script in scripts where script.runs(at: moment, succeeded: succeeded) {
            for template in script.commands {
                let command = substitute(template, summary: summary)
                add("info", "\(label): run command \"\(command)\"")
                let watch = !cancellation.isCancelled
                let run = ScriptRun.run(command, timeoutSeconds: timeoutSeconds) { watch && cancellation.isCancelled }
                for line in String(decoding: run.output, as: UTF8.self).split(separator: "\n") {
                    add("info", "\(label): \(line)")
                }
                guard !run.succeeded else { continue }
                let problem = "\(label): command \"\(command)\" \(run.endingText)"
                add(script.failJobOnError ? "error" : "warning", problem)
                if script.failJobOnError { return (messages, problem) }
            }
        }
        return (messages, nil)
    }

    func substitute(_ template: String, summary: JobSummary?) -> String {
        var out = ""
        var iterator = template.makeIterator()
        while let char = iterator.next() {
            guard char == "%" else {
                out.append(char)
                continue
            }
            guard let code = iterator.next() else {
                out.append(char)
                break
            }
            switch code {
            case "%": out.append("%")
            case "c": out += client
            case "e": out += summary.map { Self.exitStatus($0.status) } ?? "Running"
            case "i": out += String(jobID)
            case "j": out += Self.uniqueJobName(jobName, start: start, jobID: jobID)
            case "l": out += level
            case "n": out += jobName
            case "s": out += since.map { Self.utc($0, dateSeparator: " ", timeSeparator: ":") } ?? ""
            case "t": out += "Backup"
            case "b": out += String(summary?.bytesRead ?? 0)
            case "F": out += String(summary?.filesStored ?? 0)
            case "P": out += String(getpid())
            case "v": out += (summary?.volumes ?? []).joined(separator: " ")
            default:
                out.append("%")
                out.append(code)
            }
        }
        return out
    }

    /// The unique job name of `%j` (and of Director plugins' bDirVarJobName): `NAME.2026-12-06_06.41.55_07`, the
    /// start time in UTC and the JobId modulo 100.
    static func uniqueJobName(_ name: String, start: FileStat.Timestamp, jobID: Int64) -> String {
        "\(name).\(utc(start, dateSeparator: "_", timeSeparator: "."))_\(two(Int32(jobID % 100)))"
    }

    /// Bareos' words for a job's end (`job_status_to_str`).
    static func exitStatus(_ status: JobStatus) -> String {
        switch status {
        case .ok: return "OK"
        case .warnings: return "OK -- with warnings"
        case .failed: return "Fatal Error"
        case .cancelled: return "Canceled"
        case .running: return "Running"
        }
    }

    /// `2026-12-06_06.41.55` or `2026-12-06 06:41:55`, UTC.
    private static func utc(_ time: FileStat.Timestamp, dateSeparator: String, timeSeparator: String) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))\(dateSeparator)"
            + "\(two(parts.tm_hour))\(timeSeparator)\(two(parts.tm_min))\(timeSeparator)\(two(parts.tm_sec))"
    }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// This host's name, the client of a Job without `Client` (decision D4).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
