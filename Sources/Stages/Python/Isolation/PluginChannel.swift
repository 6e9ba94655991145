#if canImport(Glibc)
import Glibc
#endif

/// One end of the stream socket between the host and a plugin process. A frame is a 4-byte little-endian
/// payload length, a 1-byte type and the payload. Sends use `MSG_NOSIGNAL`, so a peer that has gone is an error
/// (`EPIPE`) and never a SIGPIPE that would end the sender. Used by one thread at a time.
final class PluginChannel {
    /// Why a frame could not be sent or received: the peer closed its end, or a system call failed.
    enum Failure: Error {
        case closed
        case system(String)
    }

    /// A frame larger than this is refused (a corrupt length would otherwise allocate without bound); data
    /// frames are cut well below it.
    static let maximumPayload = 64 << 20

    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { Glibc.close(descriptor) }

    func send(_ type: UInt8, _ payload: [UInt8]) throws(Failure) {
        var header = [UInt8](repeating: 0, count: 5)
        let count = UInt32(payload.count)
        for index in 0..<4 { header[index] = UInt8(truncatingIfNeeded: count >> (8 * UInt32(index))) }
        header[4] = type
        try write(header)
        try write(payload)
    }

    private func write(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .closed }
                throw .system(String(cString: strerror(errno)))
            }
            offset += sent
        }
    }

    /// The next frame, or nil when the peer closed its end before a frame began.
    func receive() throws(Failure) -> (type: UInt8, payload: [UInt8])? {
        var header = [UInt8](repeating: 0, count: 5)
        guard try read(into: &header, allowEnd: true) else { return nil }
        let count = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard count <= PluginChannel.maximumPayload else { throw .system("frame of \(count) bytes refused") }
        var payload = [UInt8](repeating: 0, count: count)
        _ = try read(into: &payload, allowEnd: false)
        return (header[4], payload)
    }

    /// Fills `buffer`; false when the stream ended before its first byte and `allowEnd` is set.
    private func read(into buffer: inout [UInt8], allowEnd: Bool) throws(Failure) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let got = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if got < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .system(String(cString: strerror(errno)))
            }
            if got == 0 {
                if offset == 0 && allowEnd { return false }
                throw .closed
            }
            offset += got
        }
        return true
    }
}
