/// A failure of the native OpenPGP code: a key or message we cannot parse, an algorithm we do not support yet,
/// a message that fails its integrity check, a wrong session key, an OpenSSL failure, or misuse of a streaming
/// object (used after ``OpenPGPEncryptor/finish(into:)`` or after an earlier error).
public struct OpenPGPError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is, for callers that react differently (e.g. restore reports
    /// ``Kind/integrity`` as tampering).
    public enum Kind: Sendable, Equatable {
        /// The bytes are not a well-formed OpenPGP key or message (truncated, bad lengths, bad versions).
        case malformed
        /// Well-formed, but uses an algorithm or packet version this code does not implement yet.
        case unsupported
        /// The message was changed: the MDC does not match, or its end is missing. Discard all output.
        case integrity
        /// The quick check after the random prefix failed: the session key does not belong to this message.
        case wrongKey
        /// OpenSSL refused an operation (the message carries its error queue).
        case crypto
        /// A programming error: the object was used after `finish` or after an earlier error.
        case misuse
    }

    public var kind: Kind
    /// What went wrong, starting with `OpenPGP:`.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "OpenPGP: \(message)" }

    static func malformed(_ message: String) -> OpenPGPError { OpenPGPError(.malformed, message) }
    static func unsupported(_ message: String) -> OpenPGPError { OpenPGPError(.unsupported, message) }
}
