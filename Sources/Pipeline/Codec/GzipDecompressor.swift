internal import CZlib

/// Decompresses a gzip stream (RFC 1952) with zlib's inflate.
///
/// Like `gunzip`, it accepts several gzip members one after another and outputs their concatenated contents.
/// Unlike `gunzip`, which warns and ignores them, trailing bytes that do not start a gzip member are an error.
/// Corrupt input (bad header, bad deflate data, CRC-32 or length mismatch) throws from
/// ``process(_:into:)``; input that ends inside a member, or no input at all, throws from ``finish(into:)``.
final class GzipDecompressor: ByteTransform {
    private let stream: UnsafeMutablePointer<z_stream>
    private var state = TransformState.open
    /// True between the end of a member and the first byte of the next one.
    private var atMemberEnd = false
    /// True once a member has been completely decoded.
    private var sawMember = false

    /// Creates a decompressor.
    ///
    /// - Throws: ``CodecError`` when zlib cannot initialise (out of memory).
    public init() throws {
        let stream = Zlib.allocateStream()
        let code = czlib_inflate_init2(stream, Zlib.gzipWindowBits)
        guard code == Z_OK else {
            let error = Zlib.error(code, "inflateInit2", stream)
            Zlib.deallocateStream(stream)
            throw error
        }
        self.stream = stream
    }

    deinit {
        inflateEnd(stream)
        Zlib.deallocateStream(stream)
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try state.checkOpen("gzip")
        guard let base = input.baseAddress else { return }
        var offset = 0
        while offset < input.count {
            if atMemberEnd {
                // More input after a complete member: the next member starts here.
                let code = inflateReset(stream)
                guard code == Z_OK else { throw fail(code, "inflateReset") }
                atMemberEnd = false
            }
            let count = min(input.count - offset, Zlib.maximumSlice)
            // zlib never writes through next_in; the type is mutable only for historical reasons.
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(count)
            try inflateSlice(into: &output)
            offset += count - Int(stream.pointee.avail_in)
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
    }

    public func finish(into output: inout [UInt8]) throws {
        try state.checkOpen("gzip")
        guard atMemberEnd else {
            state = .failed
            let what = sawMember ? "input ends inside a gzip member" : "no gzip data"
            throw CodecError(message: "gzip: \(what) (truncated input)")
        }
        state = .finished
    }

    /// Inflates until the slice is consumed and all output for it is written, or until the member ends.
    private func inflateSlice(into output: inout [UInt8]) throws {
        while true {
            // Text expands about 3-4x; the loop adds room as long as inflate fills it.
            let room = min(max(4 * Int(stream.pointee.avail_in), 64 << 10), 4 << 20)
            var code = Z_OK
            let stream = self.stream
            _ = OutputSpace.append(to: &output, room: room) { pointer, capacity in
                stream.pointee.next_out = pointer
                stream.pointee.avail_out = UInt32(capacity)
                code = inflate(stream, Z_NO_FLUSH)
                return capacity - Int(stream.pointee.avail_out)
            }
            let outputFull = stream.pointee.avail_out == 0
            stream.pointee.next_out = nil
            stream.pointee.avail_out = 0
            switch code {
            case Z_STREAM_END:
                atMemberEnd = true
                sawMember = true
                return
            case Z_OK, Z_BUF_ERROR:
                if outputFull { break }   // more output may be pending: go round with more room
                if stream.pointee.avail_in == 0 { return }
                throw fail(code, "inflate made no progress")
            default:
                throw fail(code, "inflate")
            }
        }
    }

    private func fail(_ code: Int32, _ operation: String) -> CodecError {
        state = .failed
        return Zlib.error(code, operation, stream)
    }
}
