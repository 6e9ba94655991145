internal import CZlib

/// Decompresses the body of an OpenPGP compressed data packet (RFC 4880 5.6): ZIP is raw DEFLATE (RFC 1951),
/// ZLIB is RFC 1950. BZip2 (3) is not supported yet.
final class OpenPGPInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var ended = false

    /// `algorithm`: 1 ZIP or 2 ZLIB.
    init(algorithm: UInt8) throws {
        let windowBits: Int32
        switch algorithm {
        case 1: windowBits = -15
        case 2: windowBits = 15
        case 3: throw OpenPGPError.unsupported("BZip2-compressed messages are not supported yet")
        default: throw OpenPGPError.unsupported("compression algorithm \(algorithm) is not supported")
        }
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let code = czlib_inflate_init2(stream, windowBits)
        guard code == Z_OK else {
            stream.deallocate()
            throw OpenPGPError(.crypto, "zlib inflateInit2 failed (\(code))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates `input`, handing each produced piece to `body`. Input after the end of the DEFLATE stream is
    /// an error.
    func inflate(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        guard !ended else { throw OpenPGPError.malformed("data after the end of the compressed stream") }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        repeat {
            let (code, produced) = chunk.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_out = buffer.baseAddress
                stream.pointee.avail_out = UInt32(buffer.count)
                let code = zlibInflate(stream, Z_NO_FLUSH)
                return (code, buffer.count - Int(stream.pointee.avail_out))
            }
            if produced > 0 { try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<produced])) } }
            switch code {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                ended = true
                if stream.pointee.avail_in != 0 {
                    throw OpenPGPError.malformed("data after the end of the compressed stream")
                }
                return
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "code \(code)"
                throw OpenPGPError.malformed("compressed data is corrupt: \(detail)")
            }
        } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
    }

    /// Throws unless the DEFLATE stream ended.
    func finish() throws {
        guard ended else { throw OpenPGPError(.integrity, "compressed data ends early (truncated)") }
    }
}

/// zlib's `inflate`, under a name that does not clash with the method.
private func zlibInflate(_ stream: UnsafeMutablePointer<z_stream>, _ flush: Int32) -> Int32 {
    inflate(stream, flush)
}
