internal import CLZ4

/// Compresses a byte stream into one LZ4 frame (the format `lz4` writes and `lz4 -d` reads), with a content
/// checksum (xxHash-32 of the uncompressed data) at the end of the frame.
///
/// Blocks are 64 KiB and linked (each may refer to the previous 64 KiB), liblz4's defaults; the content size is
/// not recorded because a stream's length is not known in advance.
final class LZ4Compressor: ByteTransform {
    private let context: OpaquePointer
    private var preferences = LZ4F_preferences_t()
    private var state = TransformState.open
    private var headerWritten = false

    /// Creates a compressor.
    ///
    /// - Parameter highCompression: use the LZ4HC encoder at its default level 9 (slower, smaller; same decoder)
    ///   instead of the fast encoder.
    /// - Throws: ``CodecError`` when liblz4 cannot allocate its context.
    public init(highCompression: Bool = false) throws {
        var context: OpaquePointer?
        try LZ4Frame.check(LZ4F_createCompressionContext(&context, UInt32(LZ4F_VERSION)), "create context")
        guard let context else {
            throw CodecError(message: "lz4: create context: no context returned")
        }
        self.context = context
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        preferences.compressionLevel = highCompression ? LZ4Frame.highCompressionLevel : 0
    }

    deinit {
        LZ4F_freeCompressionContext(context)
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try state.checkOpen("lz4")
        guard let base = input.baseAddress, input.count > 0 else { return }
        try writeHeaderIfNeeded(into: &output)
        // The bound covers one LZ4F_compressUpdate call, including blocks buffered by earlier calls.
        try write(room: LZ4F_compressBound(input.count, &preferences), "compress", into: &output) {
            LZ4F_compressUpdate(context, $0, $1, base, input.count, nil)
        }
    }

    public func finish(into output: inout [UInt8]) throws {
        try state.checkOpen("lz4")
        try writeHeaderIfNeeded(into: &output)
        try write(room: LZ4F_compressBound(0, &preferences), "end frame", into: &output) {
            LZ4F_compressEnd(context, $0, $1, nil)
        }
        state = .finished
    }

    private func writeHeaderIfNeeded(into output: inout [UInt8]) throws {
        guard !headerWritten else { return }
        try write(room: Int(LZ4F_HEADER_SIZE_MAX), "begin frame", into: &output) {
            LZ4F_compressBegin(context, $0, $1, &preferences)
        }
        headerWritten = true
    }

    /// Gives `body` room for `room` bytes at the end of `output` (pointer, capacity) and keeps the bytes it
    /// reports; a liblz4 error code fails the compressor.
    private func write(
        room: Int, _ operation: String, into output: inout [UInt8], _ body: (UnsafeMutableRawPointer, Int) -> Int
    ) throws {
        var result = 0
        _ = OutputSpace.append(to: &output, room: room) { pointer, capacity in
            result = body(pointer, capacity)
            return LZ4F_isError(result) != 0 ? 0 : result
        }
        do {
            try LZ4Frame.check(result, operation)
        } catch {
            state = .failed
            throw error
        }
    }
}
