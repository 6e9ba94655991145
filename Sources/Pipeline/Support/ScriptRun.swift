#if canImport(Glibc)
import Glibc
#endif

/// One run of a RunScript command: `/bin/sh -c COMMAND` with standard output and error together, ended (with its
/// whole process group, so a `sleep` it started goes too) when it outlives its timeout.
public struct ScriptRun: Sendable, Equatable {
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case killed(signal: Int32)
        case timedOut(seconds: UInt64)
        /// `stop` said so (the job was cancelled): the process group was killed.
        case stopped
        case notStarted(String)
    }

    public var output: [UInt8]
    public var ending: Ending

    public var succeeded: Bool { ending == .exited(0) }

    /// How it ended, to follow the command in a message: "exited with status 2", ...
    public var endingText: String {
        switch ending {
        case .exited(let status): return "exited with status \(status)"
        case .killed(let signal): return "was killed by signal \(signal)"
        case .timedOut(let seconds): return "did not finish within \(seconds) s and was killed"
        case .stopped: return "was killed: the job was cancelled"
        case .notStarted(let reason): return "could not be started: \(reason)"
        }
    }

    /// Runs `command`; `stop` is asked about once a second (and whenever output arrives) and ends it early.
    public static func run(_ command: String, timeoutSeconds: UInt64, stop: () -> Bool = { false }) -> ScriptRun {
        let pid: pid_t
        let fd: Int32
        do {
            (pid, fd) = try CommandRunner.spawn(Array(command.utf8), errorsToo: true)
        } catch {
            return ScriptRun(output: [], ending: .notStarted(error.message))
        }
        defer { close(fd) }
        let deadline = Clock.monotonic() + Double(timeoutSeconds)
        var output: [UInt8] = []
        var timedOut = false
        var stopped = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // Read until every writer is gone; past the deadline the process group is killed, which ends them.
        while true {
            let remaining = deadline - Clock.monotonic()
            if !timedOut && !stopped && (remaining <= 0 || stop()) {
                kill(-pid, SIGKILL)
                if remaining <= 0 { timedOut = true } else { stopped = true }
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = timedOut || stopped ? Int32(-1) : Int32(min(remaining, 1) * 1000) + 1
            let ready = poll(&poller, 1, wait)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { return ScriptRun(output: output, ending: .timedOut(seconds: timeoutSeconds)) }
        if stopped { return ScriptRun(output: output, ending: .stopped) }
        let signal = status & 0x7f
        if signal != 0 { return ScriptRun(output: output, ending: .killed(signal: signal)) }
        return ScriptRun(output: output, ending: .exited((status >> 8) & 0xff))
    }
}
