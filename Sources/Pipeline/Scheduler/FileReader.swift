internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Reading files for a backup: whole small files, streamed large ones, sparse maps, extended attributes and
/// ACLs. Every function reports failures as `FileProblem` with the system's words.
enum FileReader {
    struct FileProblem: Error, CustomStringConvertible {
        var message: String
        /// The file changed while it was read (a small file is then read once more).
        var changedWhileRead = false
        var description: String { message }

        static func changed(_ what: String) -> FileProblem {
            FileProblem(message: "changed while being read (\(what))", changedWhileRead: true)
        }

        static func errno(_ what: String, _ code: Int32 = Glibc.errno) -> FileProblem {
            FileProblem(message: Errno(code).message(what))
        }
    }

    /// Calls `body` with a NUL-terminated copy of `path`.
    static func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: path.count + 1) { buffer in
            for index in path.indices { buffer[index] = CChar(bitPattern: path[index]) }
            buffer[path.count] = 0
            return try body(buffer.baseAddress!)
        }
    }

    /// Opens a regular file for reading (refusing anything else, without blocking on FIFOs).
    static func open(_ path: [UInt8], noAtime: Bool) throws(FileProblem) -> Int32 {
        try openStamped(path, noAtime: noAtime).fd
    }

    /// ``open(_:noAtime:)``, with the file's ``ReadStamp`` at the open.
    static func openStamped(_ path: [UInt8], noAtime: Bool) throws(FileProblem) -> (fd: Int32, stamp: ReadStamp) {
        var flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
        if noAtime { flags |= clinux_O_NOATIME }
        var fd = withCPath(path) { Glibc.open($0, flags) }
        if fd < 0 && errno == EPERM && noAtime {
            // O_NOATIME needs ownership; fall back to a plain open.
            fd = withCPath(path) { Glibc.open($0, flags & ~clinux_O_NOATIME) }
        }
        if fd < 0 && errno == ENAMETOOLONG {
            fd = openLong(path, flags: flags)
        }
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw FileProblem(message: "vanished before it could be read") }
            throw FileProblem.errno("cannot open", code)
        }
        // Opened without blocking and checked: a FIFO or device put in the file's place after the walk's lstat
        // must not block the job or be read forever.
        var st = stat()
        if fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw FileProblem(message: "changed while being read (no longer a regular file)")
        }
        return (fd, ReadStamp(st))
    }

    /// Opens a path longer than PATH_MAX one directory at a time (the walker reaches such trees with openat too).
    private static func openLong(_ path: [UInt8], flags: Int32) -> Int32 {
        let components = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard let last = components.last else { return -1 }
        var directory = Glibc.open(path.first == UInt8(ascii: "/") ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        for component in components.dropLast() {
            guard directory >= 0 else { return -1 }
            let next = withCPath(Array(component)) {
                openat(directory, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let saved = errno
            close(directory)
            errno = saved
            directory = next
        }
        guard directory >= 0 else { return -1 }
        let fd = withCPath(Array(last)) { openat(directory, $0, flags) }
        let saved = errno
        close(directory)
        errno = saved
        return fd
    }

    /// Reads a whole small file into `buffer` (replacing its contents). Detects a change while reading: a size other
    /// than the walk's, or a size, mtime or ctime that moved between the open and the end of the read (see
    /// ``ReadStamp``); such a problem has `changedWhileRead` set. Returns the stamp the file kept during the read.
    ///
    /// With `sizeLimit` (the second read of a file that changed), the size expected is the one at this open, not
    /// the walk's: a file that grew or shrank and then holds still during this read is a version that existed,
    /// and is stored as it is now, as long as it is still no larger than `sizeLimit` (the small-file limit).
    @discardableResult
    static func readWhole(
        _ path: [UInt8], expectedSize: UInt64, noAtime: Bool, into buffer: inout [UInt8], attempt: Int = 1,
        sizeLimit: UInt64? = nil, hook: BackupSettings.ReadHook? = nil
    ) throws(FileProblem) -> ReadStamp {
        let (fd, stamp) = try openStamped(path, noAtime: noAtime)
        defer { close(fd) }
        var expectedSize = expectedSize
        if let sizeLimit {
            guard stamp.size >= 0, UInt64(stamp.size) <= sizeLimit else {
                throw FileProblem.changed("size \(expectedSize) at the walk, \(stamp.size) when read again, above the small-file limit")
            }
            expectedSize = UInt64(stamp.size)
        }
        let capacity = Int(expectedSize) + 1
        buffer.removeAll(keepingCapacity: true)
        if buffer.capacity < capacity { buffer.reserveCapacity(capacity) }
        var total = 0
        var failure: Int32 = 0
        buffer = [UInt8](unsafeUninitializedCapacity: capacity) { raw, initialized in
            while total < capacity {
                let count: Int
                do throws(Errno) {
                    count = try SystemCall.retrying { read(fd, raw.baseAddress! + total, capacity - total) }
                } catch {
                    failure = error.rawValue
                    break
                }
                if count == 0 { break }
                total += count
            }
            initialized = total
        }
        if failure != 0 { throw FileProblem.errno("read error", failure) }
        hook?(path, attempt)
        if UInt64(total) != expectedSize {
            throw FileProblem.changed("size \(expectedSize) at the walk, \(total)+ read")
        }
        if let change = stamp.change(of: fd) { throw FileProblem.changed(change) }
        return stamp
    }

    /// Data segments of a sparse file (SEEK_DATA/SEEK_HOLE); nil when the file has no holes.
    static func sparseSegments(fd: Int32, size: UInt64) -> [(offset: UInt64, length: UInt64)]? {
        var segments: [(UInt64, UInt64)] = []
        var position: off_t = 0
        let end = off_t(size)
        while position < end {
            let data = lseek(fd, position, clinux_SEEK_DATA)
            if data < 0 || data >= end { break }  // ENXIO: only a hole remains (or data past the walked size)
            var hole = lseek(fd, data, clinux_SEEK_HOLE)
            if hole < 0 { hole = end }
            segments.append((UInt64(data), UInt64(min(hole, end) - data)))
            position = hole
        }
        lseek(fd, 0, SEEK_SET)
        let stored = segments.reduce(UInt64(0)) { $0 + $1.1 }
        return stored < size ? segments : nil
    }

    /// Extended attributes of `path` (not following symlinks), except the POSIX ACL ones, plus whether the file
    /// has access/default ACLs.
    static func extendedAttributes(_ path: [UInt8]) -> (xattrs: [(name: [UInt8], value: [UInt8])], acl: Bool) {
        withCPath(path) { cPath in
            var size = llistxattr(cPath, nil, 0)
            guard size > 0 else { return ([], false) }
            var names = [CChar](repeating: 0, count: size)
            size = llistxattr(cPath, &names, size)
            guard size > 0 else { return ([], false) }
            var result: [(name: [UInt8], value: [UInt8])] = []
            var hasACL = false
            var start = 0
            for index in 0..<size where names[index] == 0 {
                let name = names[start..<index].map { UInt8(bitPattern: $0) }
                let nameStart = start
                start = index + 1
                if name.starts(with: Array("system.posix_acl_".utf8)) {
                    hasACL = true
                    continue
                }
                let valueSize = names.withUnsafeBufferPointer { buffer in
                    lgetxattr(cPath, buffer.baseAddress! + nameStart, nil, 0)
                }
                guard valueSize >= 0 else { continue }
                var value = [UInt8](repeating: 0, count: valueSize)
                let got = names.withUnsafeBufferPointer { buffer in
                    lgetxattr(cPath, buffer.baseAddress! + nameStart, &value, valueSize)
                }
                guard got >= 0 else { continue }
                result.append((name, Array(value.prefix(got))))
            }
            return (result, hasACL)
        }
    }
}
