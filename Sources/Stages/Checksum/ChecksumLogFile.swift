#if canImport(Glibc)
import Glibc
#endif
import Pipeline

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

    private let state: Locked<State>
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
        state = Locked(State(descriptor: descriptor, freshSize: freshSize))
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
            try Self.call("fsync", path) { () throws(Errno) in try FileDescriptor(rawValue: state.descriptor).sync() }
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
        let info = try Self.call("fstat", path) { () throws(Errno) in try FileDescriptor(rawValue: original).status() }
        let temporary = path + ".compact-\(getpid())"
        let file = try Self.call("create", temporary) { () throws(Errno) in
            try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        }
        do throws(Failure) {
            defer { try? file.close() }
            _ = fchmod(file.rawValue, info.st_mode & 0o7777)
            _ = fchown(file.rawValue, info.st_uid, info.st_gid)
            try Self.writeAll(file.rawValue, contents, path: temporary)
            try Self.call("fsync", temporary) { () throws(Errno) in try file.sync() }
            try Self.call("rename to \(path)", temporary) { () throws(Errno) in try SystemCall.rename(temporary, to: path) }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        if let directory = try? FileDescriptor.open(Self.directory(of: path), O_RDONLY | O_DIRECTORY) {
            directory.closeAfter { try? directory.sync() }
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

    /// Runs a system call, its error becoming "checksum log PATH: OPERATION failed: reason".
    private static func call<R>(_ operation: String, _ path: String, _ body: () throws(Errno) -> R) throws(Failure) -> R {
        do {
            return try body()
        } catch {
            throw Failure(message: error.message("checksum log \(path): \(operation) failed"))
        }
    }

    private static func open(_ path: String) throws(Failure) -> Int32 {
        try call("open", path) { () throws(Errno) in
            try FileDescriptor.open(path, O_RDWR | O_APPEND | O_CREAT, mode: 0o600).rawValue
        }
    }

    /// Takes the lock on `descriptor`, reopening `path` until the locked file is the one at `path`.
    private static func lockCurrent(_ descriptor: inout Int32, path: String) throws(Failure) {
        while true {
            let file = FileDescriptor(rawValue: descriptor)
            _ = try call("flock", path) { () throws(Errno) in try SystemCall.retrying { flock(file.rawValue, LOCK_EX) } }
            let locked = try call("fstat", path) { () throws(Errno) in try file.status() }
            if let current = try? SystemCall.status(of: path), current.st_dev == locked.st_dev,
                current.st_ino == locked.st_ino
            {
                return
            }
            try? file.close()
            descriptor = try open(path)
        }
    }

    private static func size(_ descriptor: Int32, path: String) throws(Failure) -> UInt64 {
        UInt64(try call("fstat", path) { () throws(Errno) in try FileDescriptor(rawValue: descriptor).status() }.st_size)
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        try call("write", path) { () throws(Errno) in try FileDescriptor(rawValue: descriptor).writeAll(bytes) }
    }

    private static func readAll(_ descriptor: Int32, path: String, limit: Int?) throws(Failure) -> [UInt8] {
        let file = FileDescriptor(rawValue: descriptor)
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while limit.map({ contents.count < $0 }) ?? true {
            let offset = UInt64(contents.count)
            let count = try call("read", path) { () throws(Errno) in
                try buffer.withUnsafeMutableBytes { raw in
                    Result { () throws(Errno) in try file.read(at: offset, into: raw) }
                }.get()
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
}
