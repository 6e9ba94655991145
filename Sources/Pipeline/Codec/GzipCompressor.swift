internal import CZlib

/// Compresses a byte stream into one gzip member (RFC 1952) with zlib's deflate, readable by `gunzip`.
///
/// The header carries no file name and no time stamp, so equal input and level give equal output.
final class GzipCompressor: ByteTransform {
    private let stream: UnsafeMutablePointer<z_stream>
    private var state = TransformState.open

    /// Creates a compressor.
    ///
    /// - Parameter level: deflate level, 1 (fastest) to 9 (smallest); 6 is zlib's default.
    /// - Throws: ``CodecError`` for a level outside 1...9 or when zlib cannot initialise (out of memory).
    public init(level: Int) throws {
        guard (1...9).contains(level) else {
            throw CodecError(message: "gzip: compression level \(level) is not in 1...9")
        }
        let stream = Zlib.allocateStream()
        let code = czlib_deflate_init2(stream, Int32(level), Zlib.gzipWindowBits)
        guard code == Z_OK else {
            let error = Zlib.error(code, "deflateInit2", stream)
            Zlib.deallocateStream(stream)
            throw error
        }
        self.stream = stream
    }

    deinit {
        deflateEnd(stream)
        Zlib.deallocateStream(stream)
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try state.checkOpen("gzip")
        guard let base = input.baseAddress else { return }
        var offset = 0
        while offset < input.count {
            let count = min(input.count - offset, Zlib.maximumSlice)
            // zlib never writes through next_in; the type is mutable only for historical reasons.
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(count)
            try deflateAll(flush: Z_NO_FLUSH, into: &output)
            offset += count
        }
    }

    public func finish(into output: inout [UInt8]) throws {
        try state.checkOpen("gzip")
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try deflateAll(flush: Z_FINISH, into: &output)
        state = .finished
    }

    /// Runs deflate until it has consumed all input and, for `Z_FINISH`, written the trailer.
    private func deflateAll(flush: Int32, into output: inout [UInt8]) throws {
        // deflateBound covers this input; data deflate buffered from earlier calls may need more, hence the loop.
        var room = Int(deflateBound(stream, uLong(stream.pointee.avail_in)))
        if flush == Z_FINISH { room = max(room, 64 << 10) }
        while true {
            var code = Z_OK
            let stream = self.stream
            _ = OutputSpace.append(to: &output, room: room) { pointer, capacity in
                stream.pointee.next_out = pointer
                stream.pointee.avail_out = UInt32(capacity)
                code = deflate(stream, flush)
                return capacity - Int(stream.pointee.avail_out)
            }
            let outputFull = stream.pointee.avail_out == 0
            stream.pointee.next_out = nil
            switch code {
            case Z_STREAM_END:
                return
            case Z_OK, Z_BUF_ERROR:
                if outputFull { break }   // more output is pending: go round with more room
                if flush == Z_NO_FLUSH && stream.pointee.avail_in == 0 { return }
                state = .failed
                throw Zlib.error(code, "deflate made no progress", stream)
            default:
                state = .failed
                throw Zlib.error(code, "deflate", stream)
            }
            room = 64 << 10
        }
    }
}
