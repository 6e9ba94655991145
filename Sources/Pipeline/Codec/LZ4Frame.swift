internal import CLZ4

/// Shared liblz4 frame-API plumbing for ``LZ4Compressor`` and ``LZ4Decompressor``.
enum LZ4Frame {
    /// `LZ4HC_CLEVEL_DEFAULT` from `<lz4hc.h>`, which the CLZ4 module does not include.
    static let highCompressionLevel: Int32 = 9

    /// The one place that turns a liblz4 frame-API result into a ``CodecError``: returns `result` when it is not
    /// an error code, otherwise throws with `LZ4F_getErrorName`'s text.
    @discardableResult
    static func check(_ result: Int, _ operation: String) throws(CodecError) -> Int {
        guard LZ4F_isError(result) != 0 else { return result }
        throw CodecError(message: "lz4: \(operation): \(String(cString: LZ4F_getErrorName(result)))")
    }
}
