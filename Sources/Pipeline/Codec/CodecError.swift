/// A compression or decompression failure: invalid, corrupt or truncated input, a C library error, or misuse
/// (using a transform after ``ByteTransform/finish(into:)`` or after an earlier failure).
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, starting with the codec's name (`gzip: …`, `lz4: …`).
    public var message: String

    /// Creates an error with `message`.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
