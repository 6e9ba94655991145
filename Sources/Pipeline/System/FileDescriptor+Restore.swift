internal import CLinux
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// The directory calls restore makes: every name is relative to a directory descriptor (`*at`), never a path
/// from the root, so what the descriptor was opened on bounds where the call can land.
extension FileDescriptor {
    /// An unnamed regular file in this directory (`O_TMPFILE`), open for writing: it gets a name only through
    /// ``link(as:in:)``, and vanishes by itself when closed without one (also when the process is killed).
    /// Throws `EOPNOTSUPP` (or `EISDIR` on kernels without `O_TMPFILE`) where the file system cannot do it.
    func createUnnamedFile(mode: mode_t) throws(Errno) -> FileDescriptor {
        try FileDescriptor.open([UInt8(ascii: ".")], clinux_O_TMPFILE | O_WRONLY, mode: mode, in: self)
    }

    /// Gives this open file (made by ``createUnnamedFile(mode:)``) the name `name` in `directory`. Like every
    /// `linkat`, it never replaces: an existing `name` makes it throw `EEXIST`.
    ///
    /// `AT_EMPTY_PATH` names the descriptor itself. Older kernels allow that only with `CAP_DAC_READ_SEARCH`
    /// and answer `ENOENT` otherwise (this machine's 6.18 allows it without, checked with the capability
    /// dropped); after one such answer every call goes through `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW`, whose
    /// path lookup was a fifth of each link's cost. The corresponding C function is `linkat`.
    func link(as name: [UInt8], in directory: FileDescriptor) throws(Errno) {
        if FileDescriptor.emptyPathLinks.load(ordering: .relaxed) {
            do throws(Errno) {
                try SystemCall.withCPath(name) { (to) throws(Errno) in
                    _ = try SystemCall.retrying { linkat(rawValue, "", directory.rawValue, to, clinux_AT_EMPTY_PATH) }
                }
                return
            } catch .notFound {
                FileDescriptor.emptyPathLinks.store(false, ordering: .relaxed)
            }
        }
        var procPath = FileDescriptor.procPrefix
        procPath.append(contentsOf: String(rawValue).utf8)
        try SystemCall.withCPath(procPath) { (from) throws(Errno) in
            try SystemCall.withCPath(name) { (to) throws(Errno) in
                _ = try SystemCall.retrying { linkat(AT_FDCWD, from, directory.rawValue, to, AT_SYMLINK_FOLLOW) }
            }
        }
    }

    /// Whether `linkat(AT_EMPTY_PATH)` is still worth trying (false once the kernel refused it; tests clear it
    /// to take the `/proc` path).
    package static let emptyPathLinks = Atomic<Bool>(true)

    private static let procPrefix = Array("/proc/self/fd/".utf8)

    /// `fstatat(self, name, AT_SYMLINK_NOFOLLOW)`: the entry itself, never what a symlink points to.
    func status(of name: [UInt8]) throws(Errno) -> stat {
        var info = stat()
        _ = try SystemCall.withCPath(name) { (path) throws(Errno) -> Int32 in
            try SystemCall.retrying { fstatat(rawValue, path, &info, AT_SYMLINK_NOFOLLOW) }
        }
        return info
    }

    /// `linkat(self, name, directory, newName, 0)`: a second name for an entry; never replaces.
    func link(_ name: [UInt8], to newName: [UInt8], in directory: FileDescriptor) throws(Errno) {
        try SystemCall.withCPath(name) { (from) throws(Errno) in
            try SystemCall.withCPath(newName) { (to) throws(Errno) in
                _ = try SystemCall.retrying { linkat(rawValue, from, directory.rawValue, to, 0) }
            }
        }
    }

    /// `renameat(self, name, self, newName)`: replaces `newName` in one step.
    func rename(_ name: [UInt8], to newName: [UInt8]) throws(Errno) {
        try SystemCall.withCPath(name) { (from) throws(Errno) in
            try SystemCall.withCPath(newName) { (to) throws(Errno) in
                _ = try SystemCall.retrying { renameat(rawValue, from, rawValue, to) }
            }
        }
    }

    /// `unlinkat(self, name, 0)`.
    func unlink(_ name: [UInt8]) throws(Errno) {
        try SystemCall.withCPath(name) { (path) throws(Errno) in
            _ = try SystemCall.retrying { unlinkat(rawValue, path, 0) }
        }
    }

    /// `mkdirat(self, name, mode)`.
    func makeDirectory(_ name: [UInt8], mode: mode_t) throws(Errno) {
        try SystemCall.withCPath(name) { (path) throws(Errno) in
            _ = try SystemCall.retrying { mkdirat(rawValue, path, mode) }
        }
    }

    /// `ftruncate`: sets the file's size (a sparse file's end after its last data segment).
    func truncate(to size: UInt64) throws(Errno) {
        _ = try SystemCall.retrying { ftruncate(rawValue, off_t(size)) }
    }
}

extension FileDescriptor {
    /// The names in this directory that start with `prefix`, read through a descriptor of its own (`openat(".")`),
    /// so this one's position is untouched. The corresponding C functions are `fdopendir` and `readdir`.
    func names(startingWith prefix: [UInt8]) throws(Errno) -> [[UInt8]] {
        let own = try FileDescriptor.open([UInt8(ascii: ".")], O_RDONLY | O_DIRECTORY, in: self)
        guard let stream = fdopendir(own.rawValue) else {
            let error = Errno.current
            _ = try? own.close()
            throw error
        }
        defer { closedir(stream) }  // closes `own` too
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var found: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: UInt8.self)
            let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
            guard length >= prefix.count, memcmp(name, prefix, prefix.count) == 0 else { continue }
            found.append(Array(UnsafeBufferPointer(start: name, count: length)))
        }
        return found
    }
}

extension SystemCall {
    /// Whether a process with this id exists (`kill(pid, 0)`: `EPERM` means it exists under another user).
    static func processExists(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}
