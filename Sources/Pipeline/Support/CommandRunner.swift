#if canImport(Glibc)
import Glibc
#endif

/// Runs a shell command and captures its standard output (for `@|command` includes and `|command` file lists).
enum CommandRunner {
    struct Failure: Error, Sendable {
        var message: String
    }

    /// Runs `command` through `/bin/sh -c`, returns its standard output.
    /// - Throws: `Failure` when the command cannot be started or exits with a non-zero status.
    static func run(_ command: String) throws(Failure) -> [UInt8] {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw Failure(message: "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        close(pipeFDs[1])
        guard spawned == 0 else {
            close(pipeFDs[0])
            throw Failure(message: "cannot run /bin/sh: \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        if exited {
            let code = (status >> 8) & 0xff
            if code != 0 { throw Failure(message: "command exited with status \(code)") }
        } else {
            throw Failure(message: "command was killed by signal \(status & 0x7f)")
        }
        return output
    }
}
