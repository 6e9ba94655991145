/// Turns the bytes of a text-like file into the text the index stores: decoded (UTF-8, falling back to ISO-8859-1;
/// UTF-16 with a byte order mark), and for HTML and XML without tags, comments, scripts and styles, with
/// character references decoded.
enum TextExtractor {
    /// The decoded text and the encoding actually used (a file whose first bytes were UTF-8 but whose later bytes
    /// are not is read as ISO-8859-1 as a whole).
    static func decode(_ bytes: UnsafeRawBufferPointer, encoding: String, cut: Bool) -> (String, String) {
        switch encoding {
        case "utf-16le", "utf-16be":
            return (decodeUTF16(bytes, bigEndian: encoding == "utf-16be"), encoding)
        case "iso-8859-1":
            return (latin1(bytes), encoding)
        default:
            let end = cut ? bytes.count - MIMESniffer.incompleteTail(bytes) : bytes.count
            let body = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
            if let text = String(validating: body, as: UTF8.self) { return (text, encoding) }
            return (latin1(bytes), "iso-8859-1")
        }
    }

    /// ISO-8859-1: every byte is the code point of the same value.
    static func latin1(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    private static func decodeUTF16(_ bytes: UnsafeRawBufferPointer, bigEndian: Bool) -> String {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var index = 2  // after the byte order mark
        while index + 1 < bytes.count {
            let (first, second) = (UInt16(bytes[index]), UInt16(bytes[index + 1]))
            units.append(bigEndian ? first << 8 | second : second << 8 | first)
            index += 2
        }
        return String(decoding: units, as: UTF16.self)
    }

    // MARK: - Markup

    /// The text of HTML or XML: tags, comments, `<script>` and `<style>` contents and processing instructions
    /// removed; block-level tags become line breaks; character references (`&amp;`, `&#233;`, `&#xE9;`) decoded;
    /// runs of blanks collapsed.
    static func stripMarkup(_ markup: String) -> String {
        var output = ""
        output.reserveCapacity(markup.utf8.count / 2)
        var scalars = Array(markup.unicodeScalars)
        scalars.append("\0")  // a sentinel keeps the look-ahead in bounds
        var index = 0
        var pendingSpace = false
        func emit(_ scalar: Unicode.Scalar) {
            if isBlank(scalar) {
                pendingSpace = true
                return
            }
            if pendingSpace && !output.isEmpty { output.unicodeScalars.append(" ") }
            pendingSpace = false
            output.unicodeScalars.append(scalar)
        }
        let end = scalars.count - 1
        while index < end {
            let scalar = scalars[index]
            if scalar == "<" {
                if starts(scalars, at: index, with: "<!--") {
                    index = find(scalars, "-->", from: index + 4).map { $0 + 3 } ?? end
                } else if starts(scalars, at: index, with: "<![CDATA[") {
                    let close = find(scalars, "]]>", from: index + 9) ?? end
                    for inner in scalars[(index + 9)..<close] { emit(inner) }
                    index = min(close + 3, end)
                } else {
                    let close = find(scalars, ">", from: index + 1) ?? end
                    let name = tagName(scalars, from: index + 1, to: close)
                    let closing = scalars[index + 1] == "/"
                    index = min(close + 1, end)
                    if !closing && (name == "script" || name == "style") {
                        index = find(scalars, "</" + name, from: index, caseInsensitive: true) ?? end
                        continue
                    }
                    if blockTags.contains(name) { pendingSpace = true }
                }
            } else if scalar == "&", let (decoded, length) = characterReference(scalars, at: index) {
                for part in decoded.unicodeScalars { emit(part) }
                index += length
            } else {
                emit(scalar)
                index += 1
            }
        }
        return output
    }

    /// Whitespace, with a fast path for ASCII (Unicode property lookups cost more than the rest of the loop).
    @inline(__always)
    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar == " " || (scalar.value >= 0x09 && scalar.value <= 0x0D) }
        return scalar.properties.isWhitespace
    }

    /// A letter or digit of an element name (ASCII fast path).
    @inline(__always)
    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value | 0x20
            return (value >= 0x61 && value <= 0x7A) || (scalar.value >= 0x30 && scalar.value <= 0x39)
        }
        return scalar.properties.isAlphabetic
    }

    private static let blockTags: Set<String> = [
        "p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "title", "section",
        "article", "header", "footer", "table", "ul", "ol", "pre", "blockquote", "hr",
    ]

    private static func starts(_ scalars: [Unicode.Scalar], at index: Int, with text: String) -> Bool {
        var position = index
        for scalar in text.unicodeScalars {
            guard position < scalars.count, scalars[position] == scalar else { return false }
            position += 1
        }
        return true
    }

    private static func find(
        _ scalars: [Unicode.Scalar], _ text: String, from start: Int, caseInsensitive: Bool = false
    ) -> Int? {
        let needle = Array(text.unicodeScalars)
        guard let first = needle.first, start < scalars.count else { return nil }
        var index = start
        while index + needle.count <= scalars.count {
            if scalars[index] == first {
                var matched = true
                for offset in 1..<needle.count {
                    var candidate = scalars[index + offset]
                    if caseInsensitive, candidate.isASCII, candidate.properties.isUppercase {
                        candidate = Unicode.Scalar(candidate.value + 32)!
                    }
                    if candidate != needle[offset] {
                        matched = false
                        break
                    }
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    /// The lower-cased element name of the tag between `start` and `end` (`p` for `<p class=x>` and `</p>`).
    private static func tagName(_ scalars: [Unicode.Scalar], from start: Int, to end: Int) -> String {
        var name = ""
        var index = start
        if index < end && scalars[index] == "/" { index += 1 }
        while index < end {
            let scalar = scalars[index]
            guard isNameCharacter(scalar) else { break }
            name.unicodeScalars.append(scalar)
            index += 1
        }
        return name.lowercased()
    }

    /// The text of the character reference at `index` (`&...;`) and its length, or nil when it is not one.
    private static func characterReference(_ scalars: [Unicode.Scalar], at index: Int) -> (String, Int)? {
        var end = index + 1
        while end < scalars.count && end - index <= 32 && scalars[end] != ";" {
            let scalar = scalars[end]
            guard scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "#"
            else { return nil }
            end += 1
        }
        guard end < scalars.count, scalars[end] == ";", end > index + 1 else { return nil }
        let body = String(String.UnicodeScalarView(scalars[(index + 1)..<end]))
        let length = end - index + 1
        if body.hasPrefix("#") {
            let digits = body.dropFirst()
            let value: UInt32?
            if digits.first == "x" || digits.first == "X" {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits)
            }
            guard let value, let scalar = Unicode.Scalar(value) else { return nil }
            return (String(Character(scalar)), length)
        }
        guard let named = entities[body] else { return nil }
        return (named, length)
    }

    /// The named character references of HTML that occur in ordinary text (the full list has over 2,000).
    private static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“",
        "rdquo": "”", "laquo": "«", "raquo": "»", "bull": "•", "middot": "·", "deg": "°", "plusmn": "±",
        "times": "×", "divide": "÷", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "sect": "§", "para": "¶",
        "shy": "\u{AD}", "szlig": "ß", "auml": "ä", "ouml": "ö", "uuml": "ü", "Auml": "Ä", "Ouml": "Ö",
        "Uuml": "Ü", "eacute": "é", "egrave": "è", "ecirc": "ê", "euml": "ë", "aacute": "á", "agrave": "à",
        "acirc": "â", "atilde": "ã", "aring": "å", "aelig": "æ", "ccedil": "ç", "iacute": "í", "igrave": "ì",
        "icirc": "î", "iuml": "ï", "ntilde": "ñ", "oacute": "ó", "ograve": "ò", "ocirc": "ô", "otilde": "õ",
        "oslash": "ø", "uacute": "ú", "ugrave": "ù", "ucirc": "û", "yacute": "ý", "yuml": "ÿ", "Eacute": "É",
        "Egrave": "È", "Aacute": "Á", "Agrave": "À", "Ccedil": "Ç", "Ntilde": "Ñ", "Oslash": "Ø", "thinsp": "\u{2009}",
        "ensp": "\u{2002}", "emsp": "\u{2003}", "zwnj": "\u{200C}", "zwj": "\u{200D}", "larr": "←", "rarr": "→",
        "uarr": "↑", "darr": "↓", "harr": "↔", "le": "≤", "ge": "≥", "ne": "≠", "infin": "∞", "micro": "µ",
        "frac12": "½", "frac14": "¼", "frac34": "¾", "sup2": "²", "sup3": "³", "iexcl": "¡", "iquest": "¿",
    ]
}
