internal import CLZ4

/// Decompresses LZ4 frames (the format `lz4` writes), verifying block and content checksums when present.
///
/// Like `lz4 -d`, it accepts several frames one after another (and skips skippable frames) and outputs the
/// concatenated contents. Corrupt input throws from ``process(_:into:)``; input that ends inside a frame, or no
/// input at all, throws from ``finish(into:)``. The legacy format (`lz4 -l`) is not supported.
final class LZ4Decompressor: ByteTransform {
    private let context: OpaquePointer
    private var state = TransformState.open
    /// True when the input so far ends exactly at the end of a frame.
    private var atFrameEnd = false

    /// Creates a decompressor.
    ///
    /// - Throws: ``CodecError`` when liblz4 cannot allocate its context.
    public init() throws {
        var context: OpaquePointer?
        try LZ4Frame.check(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION)), "create context")
        guard let context else {
            throw CodecError(message: "lz4: create context: no context returned")
        }
        self.context = context
    }

    deinit {
        LZ4F_freeDecompressionContext(context)
    }

    public func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try state.checkOpen("lz4")
        guard var source = input.baseAddress, input.count > 0 else { return }
        var remaining = input.count
        var outputFull = false
        let context = self.context
        repeat {
            // Blocks are at most 4 MiB; text expands about 3-4x. The loop adds room as long as LZ4 fills it.
            let room = min(max(4 * remaining, 64 << 10), 4 << 20)
            var consumed = 0
            var result = 0
            let produced = OutputSpace.append(to: &output, room: room) { pointer, capacity in
                var sourceSize = remaining
                var destinationSize = capacity
                result = LZ4F_decompress(context, pointer, &destinationSize, source, &sourceSize, nil)
                consumed = sourceSize
                return LZ4F_isError(result) != 0 ? 0 : destinationSize
            }
            do {
                try LZ4Frame.check(result, "decompress")
            } catch {
                state = .failed
                throw error
            }
            if result == 0 {
                atFrameEnd = true   // the frame ended here; the context is ready for another one
            } else if consumed > 0 {
                atFrameEnd = false
            }
            if consumed == 0 && produced == 0 {
                // Nothing was pending after a call that filled its room exactly.
                if remaining == 0 { return }
                state = .failed
                throw CodecError(message: "lz4: decompress made no progress")
            }
            source += consumed
            remaining -= consumed
            outputFull = produced == room
        } while remaining > 0 || outputFull
    }

    public func finish(into output: inout [UInt8]) throws {
        try state.checkOpen("lz4")
        guard atFrameEnd else {
            state = .failed
            throw CodecError(message: "lz4: input ends inside an LZ4 frame or holds none (truncated input)")
        }
        state = .finished
    }
}
