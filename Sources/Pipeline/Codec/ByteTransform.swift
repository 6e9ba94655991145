/// A streaming byte-to-byte transform (a compressor or decompressor) used as a data stage.
///
/// Feed the stream with any number of ``process(_:into:)`` calls, in chunks of any size, then call
/// ``finish(into:)`` once. Produced bytes are appended to the caller's array, so one array can collect a
/// whole stream or be emptied (keeping its capacity) between calls.
public protocol ByteTransform: AnyObject {
    /// Consumes `input` entirely, appends produced bytes to `output`.
    ///
    /// - Throws: ``CodecError`` when the input is invalid, when the transform has failed before, or when
    ///   ``finish(into:)`` has already been called (a programming error).
    func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws

    /// Flushes the end of the stream into `output`; the transform is then finished (calling process again is a
    /// programming error → throw).
    ///
    /// - Throws: ``CodecError`` when the stream cannot be completed, e.g. a decompressor's input ended early.
    func finish(into output: inout [UInt8]) throws
}
