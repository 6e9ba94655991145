#if canImport(Glibc)
import Glibc
#endif

/// Runs a shell command and captures its standard output: the one place that spawns processes (`@|command`
/// includes, `|command` file lists, the demo's `gpg` and `tar` steps).
public enum CommandRunner {
    /// Why a command gave no usable output; `message` reads after the command's name
    /// ("exited with status 3", "was killed by signal 9", "could not be started: ...").
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        public init(message: String) {
            self.message = message
        }
    }

    public static func run(_ command: String) throws(Failure) -> [UInt8] {
        try run(Array(command.utf8))
    }

    /// Runs `/bin/sh -c COMMAND` with standard input from /dev/null and default signal dispositions.
    static func run(_ command: some Collection<UInt8>) throws(Failure) -> [UInt8] {
        let (pid, readFD) = try spawn(command, errorsToo: false)
        defer { close(readFD) }
        let output = SelectIO.readAll(fd: readFD)
        let readError = errno
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw Failure(message: "could not be waited for: \(SelectIO.errorText(errno))")
            }
        }
        let signal = status & 0x7f
        if signal != 0 { throw Failure(message: "was killed by signal \(signal)") }
        let exitStatus = (status >> 8) & 0xff
        if exitStatus != 0 { throw Failure(message: "exited with status \(exitStatus)") }
        guard let output else {
            throw Failure(message: "output could not be read: \(SelectIO.errorText(readError))")
        }
        return output
    }

    /// Starts `/bin/sh -c COMMAND` with standard input from /dev/null, default signal dispositions and its
    /// standard output (and with `errorsToo` its standard error, and then in a process group of its own, so a
    /// timeout can end whatever it started) on a pipe; returns the pid and the pipe's read end.
    static func spawn(_ command: some Collection<UInt8>, errorsToo: Bool) throws(Failure) -> (pid_t, Int32) {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw Failure(message: "could not be started: \(SelectIO.errorText(errno))")
        }
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        if errorsToo { posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGPIPE)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if errorsToo {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let arguments: [[UInt8]] = [Array("/bin/sh".utf8), Array("-c".utf8), Array(command)]
        let cArguments: [UnsafeMutablePointer<CChar>?] =
            arguments.map { bytes in
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                bytes.withUnsafeBufferPointer { source in
                    source.withMemoryRebound(to: CChar.self) { copy.update(from: $0.baseAddress!, count: bytes.count) }
                }
                copy[bytes.count] = 0
                return copy
            } + [nil]
        defer { for pointer in cArguments { pointer?.deallocate() } }

        var pid: pid_t = 0
        let spawnError = cArguments.withUnsafeBufferPointer { argv in
            posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv.baseAddress!, environ)
        }
        close(pipeFDs[1])
        guard spawnError == 0 else {
            close(pipeFDs[0])
            throw Failure(message: "could not be started: \(SelectIO.errorText(spawnError))")
        }
        return (pid, pipeFDs[0])
    }
}
