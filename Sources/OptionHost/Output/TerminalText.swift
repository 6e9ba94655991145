/// Makes names and messages safe to print on a terminal: every human-readable output (listings, error and warning
/// lines, the progress line, summaries) passes names and free text through here, so a file named
/// `esc<ESC>]0;PWNED<BEL>` cannot retitle the terminal, move the cursor or fake a line of output.
///
/// - C0 controls and DEL become C escapes (`\a \b \t \n \v \f \r \e`) or `\xNN`; an escape sequence is harmless once
///   its ESC is `\e`.
/// - C1 controls (U+0080–U+009F, two bytes in UTF-8, `\xc2\x9b` is CSI) become `\xNN` per byte.
/// - Bytes that are not valid UTF-8 stay as they are (a Latin-1 name shows as `ls` shows it on a Latin-1 terminal),
///   except 0x80–0x9F, which become `\xNN`: a terminal in an 8-bit mode reads a lone 0x9B as CSI.
/// - Everything else, printable UTF-8 included, is kept as is. A backslash is not doubled, so a name that holds the
///   four characters `\x41` prints like one that holds 0x41 (JSON output, `--json`, is exact: `path`/`path_b64`).
///
/// JSON output does not go through here: JSON strings are escaped by `JSONLine`.
enum TerminalText {
    /// `bytes` with every control byte and invalid UTF-8 escaped (a newline too: one name, one line).
    static func escape(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        guard needsEscape(input, keepingNewlines: false) else { return input }
        return escape(input, keepingNewlines: false)
    }

    /// `text` escaped as ``escape(_:)-swift.type.method``.
    static func escape(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard needsEscape(bytes, keepingNewlines: false) else { return text }
        return String(decoding: escape(bytes, keepingNewlines: false), as: UTF8.self)
    }

    /// A message that may span lines (a traceback, a configuration error with its line and caret): newlines stay,
    /// every other control byte is escaped.
    static func escapeKeepingNewlines(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard needsEscape(bytes, keepingNewlines: true) else { return text }
        return String(decoding: escape(bytes, keepingNewlines: true), as: UTF8.self)
    }

    /// Whether anything in `bytes` may need escaping (most text is plain ASCII: no copy for it).
    private static func needsEscape(_ bytes: [UInt8], keepingNewlines: Bool) -> Bool {
        bytes.contains { ($0 < 0x20 && !(keepingNewlines && $0 == 0x0A)) || $0 >= 0x7F }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func escape(_ input: [UInt8], keepingNewlines: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        func hex(_ byte: UInt8) {
            out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
        }
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte < 0x20 || byte == 0x7F {
                if byte == UInt8(ascii: "\n") && keepingNewlines {
                    out.append(byte)
                } else if let letter = cEscape(byte) {
                    out += [UInt8(ascii: "\\"), letter]
                } else {
                    hex(byte)
                }
                index += 1
                continue
            }
            if byte < 0x80 {
                out.append(byte)
                index += 1
                continue
            }
            let length = validSequenceLength(input, at: index)
            if length == 0 {
                if byte <= 0x9F { hex(byte) } else { out.append(byte) }
                index += 1
            } else if byte == 0xC2 && input[index + 1] <= 0x9F {
                // U+0080...U+009F: the C1 controls.
                hex(byte)
                hex(input[index + 1])
                index += 2
            } else {
                out += input[index..<(index + length)]
                index += length
            }
        }
        return out
    }

    private static func cEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x07: return UInt8(ascii: "a")
        case 0x08: return UInt8(ascii: "b")
        case 0x09: return UInt8(ascii: "t")
        case 0x0A: return UInt8(ascii: "n")
        case 0x0B: return UInt8(ascii: "v")
        case 0x0C: return UInt8(ascii: "f")
        case 0x0D: return UInt8(ascii: "r")
        case 0x1B: return UInt8(ascii: "e")
        default: return nil
        }
    }

    /// The length of the well-formed UTF-8 sequence (Unicode table 3-7) that starts at `index`, or 0.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { return 0 }
        for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 { return 0 }
        return length
    }
}
