#if canImport(Glibc)
    import Glibc
#endif

/// One directory on the walk's stack: its names (read in full when it is opened), its descriptor (which may be
/// closed while deeper levels hold the descriptor budget), and what its own entry needs once its children are done.
final class DirectoryLevel {
    /// The directory's descriptor, or -1 while closed.
    private(set) var fd: Int32 = -1
    /// The `DIR*` that owns `fd` when it was opened for reading; nil after a reopen (names are already read).
    private var stream: OpaquePointer?
    /// Entry names, each followed by a NUL, in `readdir` order (without `.` and `..`).
    private var names: [UInt8] = []
    /// `d_type` of each name (a hint only; every entry is `lstat`-ed).
    private var types: [UInt8] = []
    private var cursor = 0
    private var next = 0

    /// Length of the directory's path in the path buffer; children are `path[0..<pathLength] + "/" + name`.
    var pathLength = 0
    /// The top-level directory `/`: its path in the buffer is empty and its entry is named `/`.
    var isRoot = false
    var isTopLevel = false
    var blockIndex: Int?
    var stat: FileStat?
    /// False when the directory is unchanged since the previous backup: walked, but its own entry not saved.
    var changed = true

    var hasMoreEntries: Bool { next < types.count }

    private static let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// Reads every entry of the directory open on `fd`, keeping `fd` open. Returns 0, or the errno of a failure
    /// (the entries read before a `readdir` failure are kept; when `fdopendir` fails `fd` is closed).
    func load(fd: Int32) -> Int32 {
        names.removeAll(keepingCapacity: true)
        types.removeAll(keepingCapacity: true)
        cursor = 0
        next = 0
        guard let directory = fdopendir(fd) else {
            let error = errno
            close(fd)
            return error
        }
        stream = directory
        self.fd = fd
        while true {
            errno = 0
            guard let entry = readdir(directory) else { break }
            let name = (UnsafeRawPointer(entry) + Self.nameOffset).assumingMemoryBound(to: UInt8.self)
            let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
            if name[0] == UInt8(ascii: "."), length == 1 || (length == 2 && name[1] == UInt8(ascii: ".")) {
                continue
            }
            names.append(contentsOf: UnsafeBufferPointer(start: name, count: length))
            names.append(0)
            types.append(entry.pointee.d_type)
        }
        return errno
    }

    /// Adopts a descriptor reopened for an already loaded level.
    func adopt(fd: Int32) {
        precondition(self.fd < 0)
        self.fd = fd
    }

    /// Puts the next child's path into `path`; returns where its name starts and its `d_type`.
    func appendNextName(to path: PathBuffer) -> (nameStart: Int, type: UInt8) {
        path.truncate(to: pathLength)
        path.append(byte: UInt8(ascii: "/"))
        let nameStart = path.count
        names.withUnsafeBufferPointer { buffer in
            let name = buffer.baseAddress! + cursor
            let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
            path.append(name, count: length)
            cursor += length + 1
        }
        let type = types[next]
        next += 1
        return (nameStart, type)
    }

    /// Drops the remaining children (the directory cannot be read any further).
    func abandonRemainingEntries() {
        next = types.count
    }

    func closeDescriptor() {
        if let stream {
            closedir(stream)
            self.stream = nil
        } else if fd >= 0 {
            close(fd)
        }
        fd = -1
    }
}

@available(*, unavailable)
extension DirectoryLevel: Sendable {}
