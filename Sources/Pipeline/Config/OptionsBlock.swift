/// An `Options { }` block inside an Include, with Bareos' accepted values and defaults (section 3).
public struct OptionsBlock: Sendable {
    public enum Signature: String, Sendable, CaseIterable {
        case md5 = "MD5", sha1 = "SHA1", sha256 = "SHA256", sha512 = "SHA512", xxh128 = "XXH128"
    }

    public enum Compression: Sendable, Hashable, CustomStringConvertible {
        case gzip(level: Int)
        case lzo
        case lzfast
        case lz4
        case lz4hc

        public var description: String {
            switch self {
            case .gzip(let level): return "GZIP\(level)"
            case .lzo: return "LZO"
            case .lzfast: return "LZFAST"
            case .lz4: return "LZ4"
            case .lz4hc: return "LZ4HC"
            }
        }
    }

    /// `Size =`: `N` (within 1 %), `<N`, `>N`, `N-M` (inclusive).
    public enum SizeMatch: Sendable, Hashable {
        case approximately(UInt64)
        case smallerThan(UInt64)
        case greaterThan(UInt64)
        case range(UInt64, UInt64)

        /// Bareos' test, applied to regular files only.
        public func matches(_ size: UInt64) -> Bool {
            switch self {
            case .approximately(let n):
                let diff = size > n ? size - n : n - size
                return diff < n / 100
            case .smallerThan(let n): return size < n
            case .greaterThan(let n): return size > n
            case .range(let lo, let hi): return size >= lo && size <= hi
            }
        }
    }

    enum Shadowing: String, Sendable {
        case none, localwarn, localremove, globalwarn, globalremove
    }

    public enum Replace: String, Sendable {
        case always, ifnewer, ifolder, never
    }

    /// Position of the block inside its Include (0-based), as reported in listings (`block`).
    public var index: Int
    public var location: SourceLocation
    /// True for the block synthesised when an Include has no Options block.
    var synthesized: Bool = false

    /// Signatures in the order written (Bareos keeps one bit per algorithm; see `effectiveSignature`).
    public var signatures: [Signature] = []
    public var compression: Compression?
    public var exclude: Bool = false
    var wild: [[UInt8]] = []
    var wildDir: [[UInt8]] = []
    var wildFile: [[UInt8]] = []
    var regex: [[UInt8]] = []
    var regexDir: [[UInt8]] = []
    var regexFile: [[UInt8]] = []
    public var ignoreCase: Bool = false
    public var recurse: Bool = true
    public var oneFS: Bool = true
    var fsTypes: [String] = []
    var driveTypes: [String] = []
    public var sparse: Bool = false
    public var readFifo: Bool = false
    public var portable: Bool = false
    public var mtimeOnly: Bool = false
    public var keepAtime: Bool = false
    public var noAtime: Bool = false
    public var checkFileChanges: Bool = false
    public var hardLinks: Bool = false
    public var aclSupport: Bool = true
    public var xattrSupport: Bool = true
    public var hfsPlusSupport: Bool = false
    public var honorNoDumpFlag: Bool = false
    public var size: SizeMatch?
    public var stripPath: Int?
    var shadowing: Shadowing = .none
    public var autoExclude: Bool = true
    public var forceEncryption: Bool = false
    /// `Accurate =` letters, nil when not set in this block.
    public var accurate: String?
    public var verify: String?
    /// `Plugin =` lines of this block, in order: the block's stage chain before `pipeline:` expansion (D1).
    public var plugins: [PluginEntry] = []
    var meta: [String] = []
    public var replace: Replace?
    var enhancedWild: Bool?

    public init(index: Int, location: SourceLocation) {
        self.index = index
        self.location = location
    }

    /// True when the block has at least one Wild/Regex pattern of any kind.
    var hasPatterns: Bool {
        !(wild.isEmpty && wildDir.isEmpty && wildFile.isEmpty && regex.isEmpty && regexDir.isEmpty
            && regexFile.isEmpty)
    }

    /// The signature the File Daemon uses when several are set: first of MD5 > SHA1 > SHA256 > SHA512 > XXH128.
    public var effectiveSignature: Signature? {
        Signature.allCases.first { signatures.contains($0) }
    }
}
