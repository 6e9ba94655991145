#if canImport(Glibc)
    import Glibc
#endif

/// Small byte-level helpers around system calls, shared by the selection engine.
enum SelectIO {
    /// Calls `body` with a NUL-terminated copy of `bytes`.
    static func withCString<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) -> R) -> R {
        var copy = Array(bytes)
        copy.append(0)
        return copy.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// A path for messages: decoded as UTF-8, invalid bytes replaced (the raw bytes travel separately).
    static func display(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: Array(bytes), as: UTF8.self)
    }

    /// `strerror` text for an errno value.
    static func errorText(_ code: Int32) -> String { Errno(code).description }

    /// Reads a whole (small) file; nil if it cannot be opened or read (errno is kept).
    static func readWholeFile(_ path: String) -> [UInt8]? {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY) else { return nil }
        return fd.closeAfter { try? fd.readAll() }
    }

    /// Reads from `fd` until end of file; nil on a read error (errno is kept).
    static func readAll(fd: Int32) -> [UInt8]? {
        try? FileDescriptor(rawValue: fd).readAll()
    }
}
