#if canImport(Glibc)
import Glibc
#endif

/// Buffered output of raw bytes to a file descriptor (names are bytes, so output never goes through `String`).
/// Used from the main thread only: the command line tool is single-threaded.
final class ByteWriter: @unchecked Sendable {
    static let standardOutput = ByteWriter(fd: 1)
    static let standardError = ByteWriter(fd: 2)

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    deinit { flush() }

    var isTerminal: Bool { isatty(fd) == 1 }

    func write(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(_ string: String) {
        write(string.utf8)
    }

    func line(_ string: String) {
        write(string.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
