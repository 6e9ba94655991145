internal import CZlib

/// Shared zlib plumbing for ``GzipCompressor`` and ``GzipDecompressor``.
enum Zlib {
    /// `windowBits` for a 32 KiB window with the gzip wrapper (RFC 1952) instead of the zlib one.
    static let gzipWindowBits: Int32 = 15 + 16
    /// The largest slice handed to zlib at once (`avail_in`/`avail_out` are 32-bit).
    static let maximumSlice = 1 << 30

    /// A zeroed `z_stream` on the heap: zlib keeps a pointer back to the stream, so it must never move.
    static func allocateStream() -> UnsafeMutablePointer<z_stream> {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        return stream
    }

    static func deallocateStream(_ stream: UnsafeMutablePointer<z_stream>) {
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// The one place that turns a zlib result code into a ``CodecError``: the stream's `msg` when zlib set one,
    /// otherwise zlib's text for the code.
    static func error(_ code: Int32, _ operation: String, _ stream: UnsafeMutablePointer<z_stream>?) -> CodecError {
        let detail: String
        if let message = stream?.pointee.msg {
            detail = String(cString: message)
        } else {
            detail = String(cString: zError(code))
        }
        return CodecError(message: "gzip: \(operation): \(detail) (zlib \(code))")
    }
}
