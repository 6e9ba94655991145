#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a catalog file or an archive directory for the duration of a job, so two jobs never write
/// the same catalog or archive at once.
///
/// The lock is `flock(LOCK_EX | LOCK_NB)` on a lock file beside what it protects: `<catalog>.lock` for a catalog,
/// `<directory>/.optionhost.lock` for an archive directory. The holder writes its pid, job name and start time into
/// the lock file, so a second job fails at once with a message naming them:
///
/// ```
/// catalog /var/lib/optionhost/catalog.db is in use by job "nightly" (pid 1234) since 2025-06-01 02:00:00 +0000
/// ```
///
/// The kernel drops the lock when the holder calls ``release()``, is deinitialized, or its process exits in any
/// way, so a crashed job never leaves a stale lock; the lock file itself stays (removing it would let two
/// processes lock two different files of the same name). Locks belong to an open file description: a second
/// ``acquire(path:holder:)`` in the same process conflicts too. The descriptor is close-on-exec, so child processes
/// (gpg, plugins) do not inherit the lock.
public final class JobLock {
    /// The catalog file or archive directory.
    public let path: String
    /// The lock file.
    let lockFile: String
    public let resource: LockError.Resource
    private var descriptor: Int32

    private init(path: String, lockFile: String, resource: LockError.Resource, descriptor: Int32) {
        self.path = path
        self.lockFile = lockFile
        self.resource = resource
        self.descriptor = descriptor
    }

    deinit {
        release()
    }

    /// Takes the lock for `path`: an archive directory when `path` is a directory, else a catalog file (which need
    /// not exist yet).
    ///
    /// - Parameters:
    ///   - path: The catalog file or archive directory.
    ///   - holder: The job name written into the lock file for other jobs' error messages.
    /// - Throws: ``LockError`` naming the holder when another job (in this or another process) has the lock, or
    ///   with the system's reason when the lock file cannot be opened.
    public static func acquire(path: String, holder: String) throws(LockError) -> JobLock {
        let resource: LockError.Resource = isDirectory(path) ? .archive : .catalog
        let lockFile: String
        switch resource {
        case .archive: lockFile = (path.hasSuffix("/") ? path : path + "/") + ".optionhost.lock"
        case .catalog: lockFile = path + ".lock"
        }
        func failure(_ code: Errno) -> LockError {
            LockError(resource: resource, path: path, lockFile: lockFile, systemError: code.description)
        }

        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(lockFile, O_RDWR | O_CREAT, mode: 0o644)
        } catch {
            throw failure(error)
        }
        let fd = file.rawValue
        do {
            _ = try SystemCall.retrying { flock(fd, LOCK_EX | LOCK_NB) }
        } catch let code {
            var error = failure(code)
            if code == .wouldBlock {
                error.systemError = nil
                let fields = Self.readFields(file)
                error.holderJob = fields["job"]
                error.holderPID = fields["pid"].flatMap { Int32($0) }
                error.holderSince = fields["since"]
            }
            try? file.close()
            throw error
        }
        // Failing to record the holder does not weaken the lock; other jobs then say "another job".
        let name = String(holder.map { $0.isNewline ? " " : $0 })
        let content = "pid=\(getpid())\njob=\(name)\nsince=\(Self.now())\n"
        _ = ftruncate(fd, 0)
        _ = content.utf8CString.withUnsafeBufferPointer { buffer in
            pwrite(fd, buffer.baseAddress, buffer.count - 1, 0)
        }
        return JobLock(path: path, lockFile: lockFile, resource: resource, descriptor: fd)
    }

    /// Releases the lock (the lock file is emptied, not removed). Releasing twice does nothing.
    public func release() {
        guard descriptor >= 0 else { return }
        _ = ftruncate(descriptor, 0)
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    /// True while this object holds the lock.
    var isHeld: Bool { descriptor >= 0 }

    // MARK: - Helpers

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (UInt32(info.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFDIR)
    }

    /// `key=value` lines of the lock file (at most 4 KiB).
    private static func readFields(_ file: FileDescriptor) -> [String: String] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in (try? file.read(at: 0, into: raw)) ?? 0 }
        guard count > 0 else { return [:] }
        var fields: [String: String] = [:]
        for line in buffer[..<count].split(separator: UInt8(ascii: "\n")) {
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: line[..<equals], as: UTF8.self)
            fields[key] = String(decoding: line[(equals + 1)...], as: UTF8.self)
        }
        return fields
    }

    /// The local time as `YYYY-MM-DD HH:MM:SS +ZZZZ`.
    private static func now() -> String {
        var seconds = time(nil)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return String(seconds) }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %z", &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// A lock is owned by the job that took it; it is released from that job's context.
@available(*, unavailable)
extension JobLock: Sendable {}
