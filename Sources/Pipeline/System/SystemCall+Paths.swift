#if canImport(Glibc)
    import Glibc
#endif

/// Calls on a path rather than a descriptor.
extension SystemCall {
    /// `stat` (or `lstat` when `followLinks` is false) of `path`.
    package static func status(of path: String, followLinks: Bool = true) throws(Errno) -> stat {
        var info = stat()
        _ = try retrying { followLinks ? stat(path, &info) : lstat(path, &info) }
        return info
    }

    /// `mkdir(path, mode)`.
    package static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(Errno) {
        _ = try retrying { mkdir(path, mode) }
    }

    /// `rename(from, to)`.
    package static func rename(_ from: String, to: String) throws(Errno) {
        _ = try retrying { Glibc.rename(from, to) }
    }
}

extension FileDescriptor {
    /// The whole content of the open file, read until end of file (see `readAll`); closes the descriptor.
    package consuming func readAllAndClose() throws(Errno) -> [UInt8] {
        try closeAfter { () throws(Errno) in try readAll() }
    }
}
