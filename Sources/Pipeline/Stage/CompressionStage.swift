/// The implicit data stage for Options `Compression`: placed just before the first encrypting stage of a chain,
/// or at its end. Members it produced are standard gzip or LZ4 frames (`gunzip`, `lz4 -d` read them).
public enum CompressionStage {
    /// The name recorded for the stage, e.g. `compression:GZIP6`.
    public static func name(_ compression: OptionsBlock.Compression) -> String {
        "compression:\(compression)"
    }

    /// The suffix `tar -xf` users see on a compressed member (`.gz`, `.lz4`).
    public static func memberSuffix(_ compression: OptionsBlock.Compression) -> String {
        switch compression {
        case .gzip: return ".gz"
        case .lz4, .lz4hc, .lzo, .lzfast: return ".lz4"
        }
    }

    /// The compression a catalog or volume record names (`GZIP6`, `LZ4`, ...), nil when unknown.
    public static func parse(_ text: String) -> OptionsBlock.Compression? {
        switch text.uppercased() {
        case "LZ4": return .lz4
        case "LZ4HC": return .lz4hc
        case "LZO": return .lzo
        case "LZFAST": return .lzfast
        default:
            let upper = text.uppercased()
            if upper.hasPrefix("GZIP"), let level = Int(upper.dropFirst(4)), (1...9).contains(level) {
                return .gzip(level: level)
            }
            return nil
        }
    }

    /// LZO and LZFAST are Bareos codecs with no standard frame tool; this host writes LZ4 frames for them
    /// (documented difference).
    static func compressor(_ compression: OptionsBlock.Compression) throws -> any ByteTransform {
        switch compression {
        case .gzip(let level): return try GzipCompressor(level: level)
        case .lz4, .lzo, .lzfast: return try LZ4Compressor(highCompression: false)
        case .lz4hc: return try LZ4Compressor(highCompression: true)
        }
    }

    static func decompressor(_ compression: OptionsBlock.Compression) throws -> any ByteTransform {
        switch compression {
        case .gzip: return try GzipDecompressor()
        case .lz4, .lz4hc, .lzo, .lzfast: return try LZ4Decompressor()
        }
    }
}
