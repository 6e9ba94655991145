/// The built-in MIME sniffer of the `index` stage: signatures of common binary formats and a text test on the
/// first bytes of a file, with the file name's extension for the kind of text. It answers in about a microsecond;
/// what it cannot tell (a binary file with no signature it knows) goes to libmagic (``MagicPool``), which costs
/// about 1.4 ms per file with its default database.
enum MIMESniffer {
    /// How many leading bytes the sniffer looks at.
    static let prefixLength = 8192

    /// What the sniffer found.
    enum Verdict: Equatable {
        /// Text: its MIME type and encoding (`utf-8`, `us-ascii`, `iso-8859-1`, `utf-16le`, `utf-16be`).
        case text(mime: String, encoding: String)
        /// A binary format it knows.
        case binary(mime: String)
        /// Binary, no known signature: ask libmagic.
        case unknown
    }

    /// Sniffs `prefix` (the first bytes of the file, at most ``prefixLength``) of the file named `path`.
    static func sniff(_ prefix: UnsafeRawBufferPointer, path: [UInt8], fileSize: UInt64) -> Verdict {
        if fileSize == 0 || prefix.isEmpty { return .binary(mime: "application/x-empty") }
        if let mime = signature(prefix, path: path) { return .binary(mime: mime) }
        if prefix.count >= 2 {
            if prefix[0] == 0xFF && prefix[1] == 0xFE { return .text(mime: textType(prefix, path: path), encoding: "utf-16le") }
            if prefix[0] == 0xFE && prefix[1] == 0xFF { return .text(mime: textType(prefix, path: path), encoding: "utf-16be") }
        }
        guard let encoding = textEncoding(prefix, complete: UInt64(prefix.count) >= fileSize) else {
            if let mime = binaryByExtension(path) { return .binary(mime: mime) }
            return .unknown
        }
        return .text(mime: textType(prefix, path: path), encoding: encoding)
    }

    // MARK: - Binary signatures

    /// (offset, bytes, MIME type), checked in order.
    private static let signatures: [(Int, [UInt8], String)] = [
        (0, Array("%PDF-".utf8), "application/pdf"),
        (0, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "image/png"),
        (0, [0xFF, 0xD8, 0xFF], "image/jpeg"),
        (0, Array("GIF87a".utf8), "image/gif"),
        (0, Array("GIF89a".utf8), "image/gif"),
        (0, [0x1F, 0x8B], "application/gzip"),
        (0, Array("BZh".utf8), "application/x-bzip2"),
        (0, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "application/x-xz"),
        (0, [0x28, 0xB5, 0x2F, 0xFD], "application/zstd"),
        (0, [0x04, 0x22, 0x4D, 0x18], "application/x-lz4"),
        (0, [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], "application/x-7z-compressed"),
        (0, Array("SQLite format 3\0".utf8), "application/vnd.sqlite3"),
        (0, Array("OggS".utf8), "audio/ogg"),
        (0, Array("fLaC".utf8), "audio/flac"),
        (0, Array("ID3".utf8), "audio/mpeg"),
        (0, [0xCA, 0xFE, 0xBA, 0xBE], "application/x-java-applet"),
        (0, [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], "application/x-ole-storage"),
        (0, [0xDE, 0x12, 0x04, 0x95], "application/x-gettext-translation"),
        (0, [0x95, 0x04, 0x12, 0xDE], "application/x-gettext-translation"),
        (0, Array("{\\rtf".utf8), "text/rtf"),
        (0, Array("%!PS".utf8), "application/postscript"),
        (0, Array("MZ".utf8), "application/x-dosexec"),
        (257, Array("ustar".utf8), "application/x-tar"),
    ]

    private static func has(_ bytes: [UInt8], at offset: Int, in prefix: UnsafeRawBufferPointer) -> Bool {
        guard prefix.count >= offset + bytes.count else { return false }
        for index in bytes.indices where prefix[offset + index] != bytes[index] { return false }
        return true
    }

    private static func signature(_ prefix: UnsafeRawBufferPointer, path: [UInt8]) -> String? {
        if has([0x7F, 0x45, 0x4C, 0x46], at: 0, in: prefix) {
            // e_type (little-endian on the platforms we run on): 2 executable, 3 shared object or PIE, 1 object.
            let type = prefix.count > 16 ? prefix[16] : 0
            return type == 2 ? "application/x-executable" : type == 3 ? "application/x-sharedlib" : "application/x-object"
        }
        if has(Array("PK".utf8) + [0x03, 0x04], at: 0, in: prefix) {
            return zipType(extension: fileExtension(path))
        }
        if has(Array("!<arch>\n".utf8), at: 0, in: prefix) {
            return has(Array("debian-binary".utf8), at: 8, in: prefix)
                ? "application/vnd.debian.binary-package" : "application/x-archive"
        }
        if has(Array("RIFF".utf8), at: 0, in: prefix) {
            if has(Array("WEBP".utf8), at: 8, in: prefix) { return "image/webp" }
            if has(Array("WAVE".utf8), at: 8, in: prefix) { return "audio/x-wav" }
            if has(Array("AVI ".utf8), at: 8, in: prefix) { return "video/x-msvideo" }
        }
        if has(Array("ftyp".utf8), at: 4, in: prefix) { return "video/mp4" }
        for (offset, bytes, mime) in signatures where has(bytes, at: offset, in: prefix) { return mime }
        return nil
    }

    private static func zipType(extension ext: String) -> String {
        switch ext {
        case "docx": return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case "xlsx": return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "pptx": return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        case "odt": return "application/vnd.oasis.opendocument.text"
        case "ods": return "application/vnd.oasis.opendocument.spreadsheet"
        case "jar": return "application/java-archive"
        case "epub": return "application/epub+zip"
        default: return "application/zip"
        }
    }

    /// Binary formats without a reliable signature, known by their extension.
    private static func binaryByExtension(_ path: [UInt8]) -> String? {
        switch fileExtension(path) {
        case "pyc", "pyo": return "application/x-bytecode.python"
        default: return nil
        }
    }

    // MARK: - Text

    /// The encoding of `prefix` when it looks like text, else nil. Text has no NUL and few control characters;
    /// it is UTF-8 when every byte sequence is (`us-ascii` when all bytes are below 0x80), else ISO-8859-1.
    /// `complete`: the prefix is the whole file (otherwise a UTF-8 sequence cut at the end is allowed).
    static func textEncoding(_ prefix: UnsafeRawBufferPointer, complete: Bool) -> String? {
        var controls = 0
        var high = 0
        for byte in prefix {
            if byte < 0x20 {
                switch byte {
                case 0: return nil
                case 0x09, 0x0A, 0x0C, 0x0D, 0x1B, 0x08: break
                default: controls += 1
                }
            } else if byte >= 0x80 {
                high += 1
            }
        }
        // A few stray control characters occur in real text (form feeds of old sources, escape sequences).
        if controls * 100 > prefix.count { return nil }
        if high == 0 { return "us-ascii" }
        if isUTF8(prefix, allowCutEnd: !complete) { return "utf-8" }
        // Latin-1 text has letters among its high bytes, not mostly bytes of binary data.
        return high * 10 > prefix.count * 3 ? nil : "iso-8859-1"
    }

    /// True when `bytes` is valid UTF-8; with `allowCutEnd`, a sequence cut short by the end of the buffer is fine.
    static func isUTF8(_ bytes: UnsafeRawBufferPointer, allowCutEnd: Bool) -> Bool {
        let end = allowCutEnd ? bytes.count - incompleteTail(bytes) : bytes.count
        return String(validating: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self) != nil
    }

    /// The number of bytes at the end of `bytes` that start a UTF-8 sequence without finishing it (0...3).
    static func incompleteTail(_ bytes: UnsafeRawBufferPointer) -> Int {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0 && continuation < 3 && bytes[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return 0 }
        let lead = bytes[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > continuation + 1 ? continuation + 1 : 0
    }

    /// The MIME type of a text file: by its extension, else by its first bytes (markup, a `#!` line).
    static func textType(_ prefix: UnsafeRawBufferPointer, path: [UInt8]) -> String {
        if let mime = textTypes[fileExtension(path)] { return mime }
        let head = String(decoding: UnsafeRawBufferPointer(rebasing: prefix.prefix(512)), as: UTF8.self)
        let trimmed = head.drop { $0.isWhitespace || $0 == "\u{FEFF}" }.lowercased()
        if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") { return "text/html" }
        if trimmed.hasPrefix("<?xml") { return trimmed.contains("<svg") ? "image/svg+xml" : "text/xml" }
        if trimmed.hasPrefix("#!") {
            let line = trimmed.prefix { $0 != "\n" }
            if line.contains("python") { return "text/x-python" }
            if line.contains("perl") { return "text/x-perl" }
            if line.contains("ruby") { return "text/x-ruby" }
            if line.contains("sh") { return "text/x-shellscript" }
            return "text/x-script"
        }
        if trimmed.hasPrefix(".th ") || trimmed.hasPrefix(".\\\"") || trimmed.hasPrefix("'\\\"") { return "text/troff" }
        return "text/plain"
    }

    private static let textTypes: [String: String] = [
        "txt": "text/plain", "text": "text/plain", "log": "text/plain", "md": "text/markdown",
        "markdown": "text/markdown", "csv": "text/csv", "tsv": "text/tab-separated-values",
        "json": "application/json", "xml": "text/xml", "xsd": "text/xml", "xsl": "text/xml", "svg": "image/svg+xml",
        "html": "text/html", "htm": "text/html", "xhtml": "text/html", "css": "text/css", "js": "text/javascript",
        "mjs": "text/javascript", "py": "text/x-python", "c": "text/x-c", "h": "text/x-c", "cc": "text/x-c++",
        "cpp": "text/x-c++", "hpp": "text/x-c++", "hh": "text/x-c++", "swift": "text/x-swift",
        "sh": "text/x-shellscript", "bash": "text/x-shellscript", "rs": "text/x-rust", "go": "text/x-go",
        "java": "text/x-java", "rb": "text/x-ruby", "pl": "text/x-perl", "pm": "text/x-perl",
        "yaml": "application/yaml", "yml": "application/yaml", "toml": "application/toml", "sql": "application/sql",
        "tex": "text/x-tex", "rst": "text/x-rst", "ini": "text/plain", "conf": "text/plain", "cfg": "text/plain",
        "1": "text/troff", "2": "text/troff", "3": "text/troff", "4": "text/troff", "5": "text/troff",
        "6": "text/troff", "7": "text/troff", "8": "text/troff",
    ]

    /// The lower-cased extension of the last path component ("" when it has none).
    static func fileExtension(_ path: [UInt8]) -> String {
        var index = path.count - 1
        while index >= 0 {
            let byte = path[index]
            if byte == UInt8(ascii: "/") { return "" }
            if byte == UInt8(ascii: ".") {
                guard index + 1 < path.count, path.count - index <= 9 else { return "" }
                return String(decoding: path[(index + 1)...], as: UTF8.self).lowercased()
            }
            index -= 1
        }
        return ""
    }

    /// How the text of a MIME type is extracted.
    enum TextKind {
        case plain, markup, pdf, none
    }

    static func textKind(of mime: String) -> TextKind {
        switch mime {
        case "text/html", "text/xml", "application/xml", "image/svg+xml": return .markup
        case "application/pdf": return .pdf
        case "text/rtf": return .none
        case "application/json", "application/yaml", "application/toml", "application/sql", "text/javascript":
            return .plain
        default: return mime.hasPrefix("text/") ? .plain : .none
        }
    }
}
