#if canImport(Glibc)
    import Glibc
#endif

/// A system error number as a value. The caller says what failed ("cannot open /x"); this says why, in the
/// system's words, so no file formats `strerror` itself.
package struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    package var rawValue: Int32

    package init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`, read once: read it straight after the failing call, before anything else
    /// (a Swift allocation or a log line) can change it.
    package static var current: Errno { Errno(Glibc.errno) }

    /// The system's text, e.g. "No such file or directory".
    package var description: String {
        var buffer = [CChar](repeating: 0, count: 256)
        // The XSI strerror_r (what Swift imports): 0, or EINVAL with "Unknown error N" for a number it does not know.
        _ = buffer.withUnsafeMutableBufferPointer { strerror_r(rawValue, $0.baseAddress!, $0.count) }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "error \(rawValue)" : text
    }

    /// "what: reason", the form every message built on an errno uses.
    package func message(_ what: String) -> String { "\(what): \(description)" }

    package static let interrupted = Errno(EINTR)
    package static let wouldBlock = Errno(EAGAIN)
    package static let exists = Errno(EEXIST)
    package static let notFound = Errno(ENOENT)
    package static let notDirectory = Errno(ENOTDIR)
    package static let isDirectory = Errno(EISDIR)
    package static let tooManyLinks = Errno(ELOOP)
    package static let permissionDenied = Errno(EACCES)
    package static let notPermitted = Errno(EPERM)
    package static let notSupported = Errno(EOPNOTSUPP)
    package static let invalid = Errno(EINVAL)
    package static let noSpace = Errno(ENOSPC)
    package static let crossDevice = Errno(EXDEV)
}
