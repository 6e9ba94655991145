/// The data stage for Options `Compression`. The chain builder places it just before the first encrypting stage
/// of a chain, or at its end (`StageChainBuilder.chain(for:compression:)`); it never appears in a `Plugin =`
/// string. Members it produced are standard gzip or LZ4 frames (`gunzip`, `lz4 -d` read them).
public final class CompressionStage: Stage {
    public let compression: OptionsBlock.Compression
    public let name: String

    public init(_ compression: OptionsBlock.Compression) {
        self.compression = compression
        self.name = CompressionStage.name(compression)
    }

    /// Compressing has no side effect, and nothing to decide.
    public var hasSideEffects: Bool { false }
    /// Restore makes one decompressor per file, sharing nothing.
    public var restoresConcurrently: Bool { true }

    public var memberSuffix: String? { CompressionStage.memberSuffix(compression) }

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? {
        try CompressionStage.compressor(compression)
    }

    public func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)? {
        try CompressionStage.decompressor(compression)
    }

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
