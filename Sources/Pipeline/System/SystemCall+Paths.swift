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
    /// Reads until end of file or until `maximum` bytes are in (a caller that must refuse bigger files asks for one
    /// byte more than it accepts).
    package func read(upTo maximum: Int) throws(Errno) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: min(65536, max(1, maximum)))
        while data.count < maximum {
            let want = min(buffer.count, maximum - data.count)
            let count = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) -> Int in try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want])) }
            }.get()
            if count == 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return data
    }
}
