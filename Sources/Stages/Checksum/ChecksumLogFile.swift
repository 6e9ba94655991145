#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Synchronization

/// A checksum log being written by one job, shared by the job's worker threads.
///
/// Lines are collected in memory and appended in batches of whole lines under `flock(LOCK_EX)`, so lines never
/// interleave, not even with another job writing the same log. A new log is created with mode 0600. At the end of
/// the job (`close`) the log is fsync'd; a `sha256sum` or `hashdeep` log is first compacted under the lock: it is
/// rewritten through a temporary file (fsync, rename, fsync of the directory) so that each name keeps only its
/// newest line, and `sha256sum -c` never reports an older version of a file as FAILED.
///
/// A job that waits for the lock while another compacts holds the replaced file: after taking the lock it checks
/// that its descriptor is still the file at `path`, and reopens it when it is not.
final class ChecksumLogFile: Sendable {
    struct Failure: Error, Sendable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    let path: String
    let format: ChecksumLogFormat
    let algorithm: DigestAlgorithm

    private struct State {
        var descriptor: Int32
        var pending: [UInt8] = []
        var closed = false
        var lines = 0
        /// Bytes this job appended.
        var written: UInt64 = 0
        /// Size of the log after opening (header included) when it held nothing else; nil for a log with lines.
        var freshSize: UInt64?
    }

    private let state: Mutex<State>
    /// Pending bytes that trigger a write.
    static let batchBytes = 64 << 10

    /// Opens (creates) the log and writes the format's header into a new one.
    init(path: String, format: ChecksumLogFormat, algorithm: DigestAlgorithm) throws(Failure) {
        self.path = path
        self.format = format
        self.algorithm = algorithm
        var descriptor = try Self.open(path)
        var freshSize: UInt64?
        do throws(Failure) {
            try Self.lockCurrent(&descriptor, path: path)
            defer { _ = flock(descriptor, LOCK_UN) }
            let header = format.header(algorithm: algorithm)
            if !header.isEmpty {
                let existing = try Self.readAll(descriptor, path: path, limit: header.count)
                if existing.isEmpty {
                    try Self.writeAll(descriptor, header, path: path)
                } else if Array(existing.prefix(header.count)).split(separator: 0x0A).prefix(2)
                    != header.split(separator: 0x0A).prefix(2)
                {
                    throw Failure(
                        message: "checksum log \(path) does not start with the header of a \(format.rawValue) "
                            + "log of \(algorithm.checksumName) digests; use another log= for this stage")
                }
            }
            let size = try Self.size(descriptor, path: path)
            if size <= UInt64(header.count) { freshSize = size }
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
        state = Mutex(State(descriptor: descriptor, freshSize: freshSize))
    }

    deinit {
        state.withLock { state in
            if !state.closed { _ = Glibc.close(state.descriptor) }
        }
    }

    /// Adds one whole line (newline included); written with the next batch.
    func append(_ line: [UInt8]) throws(Failure) {
        try state.withLock { (state) throws(Failure) in
            guard !state.closed else { throw Failure(message: "checksum log \(path) is already closed") }
            state.pending += line
            state.lines += 1
            if state.pending.count >= Self.batchBytes { try flush(&state) }
        }
    }

    /// Writes what is pending, compacts the log when its format does so (`compact`), fsyncs it and closes it.
    /// Returns how many lines this job added.
    @discardableResult
    func close(compact: Bool) throws(Failure) -> Int {
        try state.withLock { (state) throws(Failure) -> Int in
            guard !state.closed else { return state.lines }
            state.closed = true
            defer { _ = Glibc.close(state.descriptor) }
            try Self.lockCurrent(&state.descriptor, path: path)
            if !state.pending.isEmpty {
                try Self.writeAll(state.descriptor, state.pending, path: path)
                state.written += UInt64(state.pending.count)
                state.pending = []
            }
            // A log that held only this job's lines names each file once: nothing to compact.
            var onlyOurs = false
            if let fresh = state.freshSize { onlyOurs = try Self.size(state.descriptor, path: path) == fresh + state.written }
            if compact && format.compacts && !onlyOurs {
                let contents = try Self.readAll(state.descriptor, path: path, limit: nil)
                let compacted = Self.compacted(contents, format: format)
                if compacted.count != contents.count {
                    try replace(with: compacted, original: state.descriptor)
                    return state.lines
                }
            }
            if fsync(state.descriptor) != 0 { throw Self.failure("fsync", path) }
            return state.lines
        }
    }

    private func flush(_ state: inout State) throws(Failure) {
        try Self.lockCurrent(&state.descriptor, path: path)
        defer { _ = flock(state.descriptor, LOCK_UN) }
        try Self.writeAll(state.descriptor, state.pending, path: path)
        state.written += UInt64(state.pending.count)
        state.pending.removeAll(keepingCapacity: true)
    }

    /// Writes `contents` to a temporary file beside the log, makes it durable and renames it over the log.
    private func replace(with contents: [UInt8], original: Int32) throws(Failure) {
        var info = stat()
        guard fstat(original, &info) == 0 else { throw Self.failure("fstat", path) }
        let temporary = path + ".compact-\(getpid())"
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("create", temporary) }
        do throws(Failure) {
            defer { _ = Glibc.close(descriptor) }
            _ = fchmod(descriptor, info.st_mode & 0o7777)
            _ = fchown(descriptor, info.st_uid, info.st_gid)
            try Self.writeAll(descriptor, contents, path: temporary)
            if fsync(descriptor) != 0 { throw Self.failure("fsync", temporary) }
            if rename(temporary, path) != 0 { throw Self.failure("rename to \(path)", temporary) }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        let directory = Self.directory(of: path)
        let directoryDescriptor = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            _ = Glibc.close(directoryDescriptor)
        }
    }

    // MARK: - Compaction

    /// `contents` with each name's older lines removed (the last line of a name wins and keeps its place among
    /// the others); lines that are not about a file (headers, comments) stay as they are.
    static func compacted(_ contents: [UInt8], format: ChecksumLogFormat) -> [UInt8] {
        var lines = contents.split(separator: 0x0A, omittingEmptySubsequences: false)
        let complete = contents.last == 0x0A
        if complete { lines.removeLast() }
        var newest: [ArraySlice<UInt8>: Int] = [:]
        for (index, line) in lines.enumerated() {
            if let key = format.key(ofLine: line) { newest[key] = index }
        }
        var out: [UInt8] = []
        out.reserveCapacity(contents.count)
        for (index, line) in lines.enumerated() {
            if let key = format.key(ofLine: line), newest[key] != index { continue }
            out += line
            if index < lines.count - 1 || complete { out.append(0x0A) }
        }
        return out
    }

    // MARK: - System calls

    private static func open(_ path: String) throws(Failure) -> Int32 {
        let descriptor = Glibc.open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("open", path) }
        return descriptor
    }

    /// Takes the lock on `descriptor`, reopening `path` until the locked file is the one at `path`.
    private static func lockCurrent(_ descriptor: inout Int32, path: String) throws(Failure) {
        while true {
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else { throw failure("flock", path) }
            }
            var locked = stat()
            var current = stat()
            guard fstat(descriptor, &locked) == 0 else { throw failure("fstat", path) }
            if stat(path, &current) == 0 && current.st_dev == locked.st_dev && current.st_ino == locked.st_ino {
                return
            }
            _ = Glibc.close(descriptor)
            descriptor = try open(path)
        }
    }

    private static func size(_ descriptor: Int32, path: String) throws(Failure) -> UInt64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("fstat", path) }
        return UInt64(info.st_size)
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            written += count
        }
    }

    private static func readAll(_ descriptor: Int32, path: String, limit: Int?) throws(Failure) -> [UInt8] {
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while limit.map({ contents.count < $0 }) ?? true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(contents.count)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if count == 0 { break }
            contents += buffer[0..<count]
        }
        return contents
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func failure(_ operation: String, _ path: String) -> Failure {
        Failure(message: "checksum log \(path): \(operation) failed: \(String(cString: strerror(errno)))")
    }
}
