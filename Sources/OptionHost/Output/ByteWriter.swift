import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Buffered output of raw bytes to a file descriptor (names are bytes, so output never goes through `String`).
/// Commands write from their main thread; the buffer is behind a mutex all the same, so a line written from a job's
/// thread can never tear another.
final class ByteWriter: Sendable {
    static let standardOutput = ByteWriter(fd: 1)
    static let standardError = ByteWriter(fd: 2)

    private let fd: Int32
    private let buffer: Locked<[UInt8]>

    init(fd: Int32) {
        self.fd = fd
        var storage: [UInt8] = []
        storage.reserveCapacity(1 << 16)
        buffer = Locked(storage)
    }

    deinit { flush() }

    var isTerminal: Bool { isatty(fd) == 1 }

    func write(_ bytes: some Sequence<UInt8>) {
        let full = buffer.withLock {
            $0.append(contentsOf: bytes)
            return $0.count >= 1 << 16
        }
        if full { flush() }
    }

    func write(_ string: String) {
        write(string.utf8)
    }

    func line(_ string: String) {
        let full = buffer.withLock {
            $0.append(contentsOf: string.utf8)
            $0.append(UInt8(ascii: "\n"))
            return $0.count >= 1 << 16
        }
        if full { flush() }
    }

    /// Writes out what is buffered (retrying interrupted writes; output that cannot be written is dropped).
    func flush() {
        buffer.withLock { buffer in
            let descriptor = fd
            var offset = 0
            while offset < buffer.count {
                let written = try? buffer.withUnsafeBytes { bytes throws(Errno) in
                    try SystemCall.retrying { Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset) }
                }
                guard let written else { break }
                offset += written
            }
            buffer.removeAll(keepingCapacity: true)
        }
    }
}
