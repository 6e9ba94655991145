#if canImport(Glibc)
import Glibc
import Pipeline
#endif

/// The text of PDF files through poppler's `pdftotext` (Debian package `poppler-utils`), run as
/// `pdftotext -q -enc UTF-8 - -` with the PDF on standard input and the text on standard output, in a child
/// process that is killed after a timeout.
struct PDFTextExtractor: Sendable {
    /// The `pdftotext` executable, nil when it is not installed.
    let executable: String?
    /// A child still running after this many seconds is killed and the file keeps only its metadata.
    let timeout: Double

    /// Looks for `pdftotext` in `PATH` (then `/usr/bin`), unless `executable` names the program (tests).
    init(timeout: Double, executable: String?? = nil) {
        self.timeout = timeout
        self.executable = executable ?? PDFTextExtractor.find("pdftotext")
    }

    static func find(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// The text of the PDF in `pdf` (at most `limit` bytes of it are kept).
    func text(of pdf: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> (bytes: [UInt8], cut: Bool) {
        guard let executable else { throw Failure(description: "pdftotext is not installed") }
        return try ChildProcess.run(
            executable, arguments: ["pdftotext", "-q", "-enc", "UTF-8", "-", "-"], input: pdf, outputLimit: limit,
            timeout: timeout)
    }
}

/// A child process fed on standard input and read on standard output through one `poll` loop (so neither side
/// can block the other), with a deadline. Standard input is a socket pair rather than a pipe so that writing after
/// the child has gone fails with `EPIPE` (`MSG_NOSIGNAL`) instead of raising SIGPIPE in the host.
enum ChildProcess {
    static func run(
        _ executable: String, arguments: [String], input: UnsafeRawBufferPointer, outputLimit: Int, timeout: Double
    ) throws(PDFTextExtractor.Failure) -> (bytes: [UInt8], cut: Bool) {
        var inputPipe: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &inputPipe) == 0 else {
            throw failure("socketpair", errno)
        }
        guard pipe(&outputPipe) == 0 else {
            close(inputPipe[0])
            close(inputPipe[1])
            throw failure("pipe", errno)
        }
        _ = fcntl(outputPipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(outputPipe[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawnError = cArguments.withUnsafeBufferPointer { argv in
            posix_spawn(&pid, executable, &actions, nil, argv.baseAddress!, environ)
        }
        close(inputPipe[0])
        close(outputPipe[1])
        var writeFD = inputPipe[1]
        let readFD = outputPipe[0]
        defer {
            if writeFD >= 0 { close(writeFD) }
            close(readFD)
        }
        guard spawnError == 0 else { throw failure("cannot start \(executable)", spawnError) }
        _ = fcntl(writeFD, F_SETFL, fcntl(writeFD, F_GETFL) | O_NONBLOCK)

        var output: [UInt8] = []
        var cut = false
        var written = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = monotonicSeconds() + timeout
        var timedOut = false
        loop: while true {
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 {
                timedOut = true
                break
            }
            var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
            if writeFD >= 0 { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            let interval = Int32(min(remaining * 1000, 1000)) + 1
            // An interrupted poll is retried with the same interval: at most a second past the deadline.
            guard (try? SystemCall.retrying({ poll(&fds, nfds_t(fds.count), interval) })) != nil else { break }
            if writeFD >= 0 && fds.count > 1 && fds[1].revents != 0 {
                let count = input.count - written
                let sent = count == 0 ? 0 : send(writeFD, input.baseAddress! + written, count, Int32(MSG_NOSIGNAL))
                if sent > 0 { written += sent }
                if count == 0 || written == input.count || (sent < 0 && errno != EAGAIN && errno != EINTR) {
                    close(writeFD)  // end of input (or the child stopped reading)
                    writeFD = -1
                }
            }
            if fds[0].revents != 0 {
                let count: Int
                do {
                    count = try buffer.withUnsafeMutableBytes { raw in
                        Result { () throws(Errno) in try FileDescriptor(rawValue: readFD).read(into: raw) }
                    }.get()
                } catch .wouldBlock {
                    continue
                } catch {
                    break loop
                }
                if count == 0 { break loop }
                let room = outputLimit - output.count
                if count > room {
                    output += buffer[0..<max(room, 0)]
                    cut = true
                    break loop
                }
                output += buffer[0..<count]
            }
        }
        if timedOut || cut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        _ = try? SystemCall.retrying { waitpid(pid, &status, 0) }
        if timedOut { throw PDFTextExtractor.Failure(description: "pdftotext did not finish within \(timeout) s") }
        if !cut && status != 0 {
            let signal = status & 0x7f
            throw PDFTextExtractor.Failure(
                description: signal != 0
                    ? "pdftotext was killed by signal \(signal)" : "pdftotext exited with status \((status >> 8) & 0xff)")
        }
        return (output, cut)
    }

    private static func failure(_ what: String, _ code: Int32) -> PDFTextExtractor.Failure {
        PDFTextExtractor.Failure(description: Errno(code).message(what))
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
