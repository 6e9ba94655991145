#if canImport(Glibc)
    import Glibc
#endif

/// The one place that turns C's "-1 and errno" into Swift errors and retries interrupted calls.
package enum SystemCall {
    /// Runs `body` until it does not fail with EINTR. Calls that report failure as -1 (or any negative value)
    /// with `errno` set: the result on success, the `Errno` otherwise.
    @inline(__always)
    package static func retrying<R: BinaryInteger>(_ body: () -> R) throws(Errno) -> R {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Errno.current
            if code != .interrupted { throw code }
        }
    }

    /// Runs `body` once: for calls that must not be repeated after EINTR (`close` on Linux has already closed
    /// the descriptor) or that cannot be interrupted.
    @inline(__always)
    package static func once<R: BinaryInteger>(_ body: () -> R) throws(Errno) -> R {
        let result = body()
        if result >= 0 { return result }
        throw Errno.current
    }

    /// For the pthread-style calls that return the error number instead of setting `errno`.
    @inline(__always)
    package static func returningCode(_ code: Int32) throws(Errno) {
        if code != 0 { throw Errno(code) }
    }

    /// Calls `body` with a NUL-terminated copy of a path held as raw bytes (paths are bytes, not Strings, so
    /// names that are not UTF-8 survive). No heap allocation for ordinary path lengths.
    package static func withCPath<R, E: Error>(
        _ path: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) throws(E) -> R
    ) throws(E) -> R {
        let count = path.count
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer throws(E) -> R in
            var index = 0
            for byte in path {
                buffer[index] = CChar(bitPattern: byte)
                index += 1
            }
            buffer[count] = 0
            return try body(buffer.baseAddress!)
        }
    }
}
