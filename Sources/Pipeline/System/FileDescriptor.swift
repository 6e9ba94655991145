#if canImport(Glibc)
    import Glibc
#endif

/// An open file descriptor with the calls the engine makes on it; every call retries EINTR and throws `Errno`.
/// A plain value: whoever opens it closes it, usually through `closeAfter`.
package struct FileDescriptor: Hashable, Sendable {
    package let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// `AT_FDCWD`: paths relative to the working directory.
    package static let currentDirectory = FileDescriptor(rawValue: AT_FDCWD)

    /// `openat(directory, path, flags, mode)`. `O_CLOEXEC` is always added: no descriptor leaks into a child
    /// process (plugins and `pdftotext` are started while files are open).
    package static func open(
        _ path: some Collection<UInt8>, _ flags: Int32, mode: mode_t = 0, in directory: FileDescriptor = .currentDirectory
    ) throws(Errno) -> FileDescriptor {
        let fd = try SystemCall.withCPath(path) { (cPath) throws(Errno) -> Int32 in
            try SystemCall.retrying { openat(directory.rawValue, cPath, flags | O_CLOEXEC, mode) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// `open` for a path held as a String.
    package static func open(
        _ path: String, _ flags: Int32, mode: mode_t = 0, in directory: FileDescriptor = .currentDirectory
    ) throws(Errno) -> FileDescriptor {
        try open(Array(path.utf8), flags, mode: mode, in: directory)
    }

    /// Closes the descriptor. Never retried: on Linux the descriptor is gone even when close reports EINTR.
    package func close() throws(Errno) {
        _ = try SystemCall.once { Glibc.close(rawValue) }
    }

    /// Runs `body`, then closes the descriptor whatever happened; a failing close is ignored because the body's
    /// outcome (or error) is what the caller needs. Use `close()` where a close error matters (written data).
    package func closeAfter<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        defer { Glibc.close(rawValue) }
        return try body()
    }

    /// One `read`: the count read, 0 at end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try SystemCall.retrying { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// One `pread` at `offset`.
    package func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try SystemCall.retrying { pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Reads until end of file.
    package func readAll(chunk: Int = 65536) throws(Errno) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let count = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) -> Int in try read(into: raw) }
            }.get()
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// Writes all of `bytes` (short writes continue where they stopped).
    package func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try SystemCall.retrying { Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    /// Writes all of `bytes` at `offset` with `pwrite`.
    package func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try SystemCall.retrying {
                pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
        }
    }

    /// Writes all of `bytes`.
    package func writeAll(_ bytes: [UInt8]) throws(Errno) {
        try bytes.withUnsafeBytes { raw in Result { () throws(Errno) in try writeAll(raw) } }.get()
    }

    /// `fstat`.
    package func status() throws(Errno) -> stat {
        var info = stat()
        _ = try SystemCall.retrying { fstat(rawValue, &info) }
        return info
    }

    /// `fsync`.
    package func sync() throws(Errno) {
        _ = try SystemCall.retrying { fsync(rawValue) }
    }
}
