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
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
    }

    /// Reads a whole (small) file; nil if it cannot be opened or read (errno is kept).
    static func readWholeFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAll(fd: fd)
    }

    /// Reads from `fd` until end of file; nil on a read error (errno is kept).
    static func readAll(fd: Int32) -> [UInt8]? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return data
            } else if errno != EINTR {
                return nil
            }
        }
    }
}
