import Pipeline

/// The options of an `index` stage string: `index:max_size=64m:max_text=1m:store_text_of_encrypted=yes`.
///
/// Sizes use the Bareos size grammar (`k` = 1024, `kb` = 1000, `m`, `mb`, ...). Every problem is thrown at stage
/// creation (what `check` and `backup` call), naming the option.
struct IndexOptions: Sendable, Equatable {
    /// Files larger than this are indexed by their metadata only (no text is extracted).
    var maxSize: UInt64 = 64 << 20
    /// At most this many bytes of a file are read for its text; a longer text is cut (and marked truncated).
    var maxText: Int = 1 << 20
    /// Store the text of files the same chain encrypts (off by default: the index would hold their plaintext).
    var storeTextOfEncrypted = false
    /// Seconds `pdftotext` may run for one file before it is killed.
    var pdfTimeout: Double = 30

    struct Problem: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    init() {}

    init(string: String) throws(Problem) {
        for (key, value) in PluginString.options(string) {
            switch key {
            case "max_size":
                maxSize = try Self.size(value, option: key)
            case "max_text":
                let size = try Self.size(value, option: key)
                guard size > 0, size <= 1 << 30 else {
                    throw Problem(description: "index: max_text=\(value) must be between 1 and 1g")
                }
                maxText = Int(size)
            case "store_text_of_encrypted":
                storeTextOfEncrypted = try Self.flag(value, option: key)
            case "pdf_timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 3600 else {
                    throw Problem(description: "index: pdf_timeout=\(value) is not a number of seconds (0 < t <= 3600)")
                }
                pdfTimeout = seconds
            default:
                throw Problem(
                    description: "index: unknown option \"\(key)\" (known: max_size, max_text, "
                        + "store_text_of_encrypted, pdf_timeout)")
            }
        }
    }

    private static func size(_ value: String, option: String) throws(Problem) -> UInt64 {
        guard let size = ConfigValues.size(value) else {
            throw Problem(description: "index: \(option)=\(value) is not a size (e.g. 64m, 500kb, 1048576)")
        }
        return size
    }

    private static func flag(_ value: String, option: String) throws(Problem) -> Bool {
        switch value.lowercased() {
        case "yes", "true", "1", "": return true
        case "no", "false", "0": return false
        default: throw Problem(description: "index: \(option)=\(value) must be yes or no")
        }
    }
}
