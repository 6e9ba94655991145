import CLinux
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// One plugin process as the host sees it: `optionhost plugin-process` started with `posix_spawn` (a fork
/// immediately followed by exec, so no thread of the host is ever duplicated), a stream socket to it at its
/// descriptor 3, and a page of shared memory at its descriptor 4 where it keeps the crash note (the plugin, the
/// entry point and the file of the call running), which the host reads when the process dies.
final class PluginProcess: @unchecked Sendable {
    // @unchecked Sendable: used only by `IsolatedPythonStage` while it holds its session lock; `pid`, `channel`
    // and `note` never change after `init`.
    let pid: pid_t
    let channel: PluginChannel
    private let note: UnsafeMutableRawPointer
    private var reaped: Int32?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init() throws(Failure) {
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
            throw Failure(description: "cannot create the socket to the plugin process: \(String(cString: strerror(errno)))")
        }
        let memory = memfd_create("optionhost-plugin-note", clinux_MFD_CLOEXEC)
        guard memory >= 0, ftruncate(memory, off_t(PluginProcessServer.noteSize)) == 0,
            let region = mmap(nil, PluginProcessServer.noteSize, PROT_READ | PROT_WRITE, MAP_SHARED, memory, 0),
            region != MAP_FAILED
        else {
            let problem = String(cString: strerror(errno))
            if memory >= 0 { close(memory) }
            close(sockets[0])
            close(sockets[1])
            throw Failure(description: "cannot create the plugin process's crash note: \(problem)")
        }
        // Above the descriptors the child is given (3 and 4), so no dup2 below overwrites another's source.
        let childSocket = fcntl(sockets[1], F_DUPFD_CLOEXEC, 10)
        let childMemory = fcntl(memory, F_DUPFD_CLOEXEC, 10)
        close(sockets[1])
        close(memory)
        defer {
            close(childSocket)
            close(childMemory)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // A C extension writing to its standard output must not end up in the host's (`--json` goes there).
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        posix_spawn_file_actions_adddup2(&actions, childSocket, PluginProcessServer.socketDescriptor)
        posix_spawn_file_actions_adddup2(&actions, childMemory, PluginProcessServer.noteDescriptor)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGINT)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        // Its own process group: Ctrl-C reaches the host, which cancels the job and ends the process itself.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let executable = PluginProcess.executable()
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(executable), strdup("plugin-process"), nil]
        defer { for pointer in arguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = arguments.withUnsafeBufferPointer { argv in
            posix_spawn(&pid, executable, &actions, &attributes, argv.baseAddress!, environ)
        }
        guard spawned == 0 else {
            munmap(region, PluginProcessServer.noteSize)
            close(sockets[0])
            throw Failure(description: "cannot start the plugin process \(executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        self.channel = PluginChannel(descriptor: sockets[0])
        self.note = region
    }

    deinit {
        if reaped == nil {
            kill(pid, SIGKILL)
            _ = wait(deadline: 5)
        }
        munmap(note, PluginProcessServer.noteSize)
    }

    /// This binary (`optionhost`): the plugin process is the same program.
    private static func executable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The call the process was in when it last set its crash note (`PLUGIN: handle_backup_file of PATH`), or nil
    /// when it was between calls. Read after the process has died.
    var lastCall: String? {
        let length = Int(note.load(as: UInt32.self))
        guard length > 0, length <= PluginProcessServer.noteSize - 4 else { return nil }
        let bytes = UnsafeRawBufferPointer(start: note + 4, count: length)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits for the process to end (SIGKILL after `deadline` seconds) and says how it ended:
    /// `exited with status 1`, `was killed by signal 9 (SIGKILL)`.
    func end(deadline: Double) -> String {
        let status = reaped ?? wait(deadline: deadline)
        let signal = status & 0x7f
        if signal != 0 {
            let name = PluginProcess.signalNames[signal].map { " (\($0))" } ?? ""
            return "was killed by signal \(signal)\(name)"
        }
        return "exited with status \((status >> 8) & 0xff)"
    }

    private func wait(deadline: Double) -> Int32 {
        var status: Int32 = 0
        let start = Clock.monotonic()
        var killed = false
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR {
                status = 0
                break
            }
            if !killed && Clock.monotonic() - start > deadline {
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(2_000)
        }
        reaped = status
        return status
    }

    static let signalNames: [Int32: String] = [
        SIGSEGV: "SIGSEGV", SIGKILL: "SIGKILL", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
        SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGPIPE: "SIGPIPE",
    ]
}
