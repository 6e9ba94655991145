/// The two JSON shapes the catalog stores in text columns: an array of strings (`files.chain`) and an object whose
/// values are strings (`files.stage_metadata`).
///
/// Output is compact, object keys are sorted (so equal dictionaries give equal text), non-ASCII characters are written
/// as raw UTF-8, and only `"`, `\` and control characters are escaped. Input is strict JSON of those two shapes
/// (any whitespace, any escape including surrogate pairs). SQLite's JSON functions read the same text:
/// `SELECT value FROM json_each(chain)`.
enum CatalogJSON {
    // MARK: - Encoding

    static func encode(_ array: [String]) -> [UInt8] {
        if array.isEmpty { return Array("[]".utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(2 + array.reduce(0) { $0 + $1.utf8.count + 3 })
        out.append(UInt8(ascii: "["))
        for (index, element) in array.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(element, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    static func encode(_ object: [String: String]) -> [UInt8] {
        if object.isEmpty { return Array("{}".utf8) }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(object[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        defer { out.append(UInt8(ascii: "\"")) }
        // The common case (nothing to escape) scans the contiguous UTF-8 once and copies it: the generic
        // `utf8.contains(where:)` was a few percent of a backup whose stages keep metadata per file.
        var text = string
        let plain = text.withUTF8 { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if plain { return }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20, 0x7F:
                out += Array("\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
    }

    // MARK: - Decoding

    /// Decodes `["a","b"]`.
    static func decodeArray(_ bytes: UnsafeBufferPointer<UInt8>, what: @autoclosure () -> String) throws(CatalogError)
        -> [String]
    {
        // Most rows have no chain: no parser, and no description built for an error that cannot happen.
        if bytes.count == 2 && bytes[0] == UInt8(ascii: "[") && bytes[1] == UInt8(ascii: "]") { return [] }
        var parser = Parser(bytes: bytes, what: what())
        var result: [String] = []
        try parser.expect(UInt8(ascii: "["))
        if try !parser.consume(UInt8(ascii: "]")) {
            repeat {
                result.append(try parser.string())
            } while try parser.consume(UInt8(ascii: ","))
            try parser.expect(UInt8(ascii: "]"))
        }
        try parser.expectEnd()
        return result
    }

    /// Decodes `{"k":"v"}`; a repeated key keeps its last value.
    static func decodeObject(_ bytes: UnsafeBufferPointer<UInt8>, what: @autoclosure () -> String)
        throws(CatalogError) -> [String: String]
    {
        if bytes.count == 2 && bytes[0] == UInt8(ascii: "{") && bytes[1] == UInt8(ascii: "}") { return [:] }
        var parser = Parser(bytes: bytes, what: what())
        var result: [String: String] = [:]
        try parser.expect(UInt8(ascii: "{"))
        if try !parser.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try parser.string()
                try parser.expect(UInt8(ascii: ":"))
                result[key] = try parser.string()
            } while try parser.consume(UInt8(ascii: ","))
            try parser.expect(UInt8(ascii: "}"))
        }
        try parser.expectEnd()
        return result
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let what: String
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>, what: String) {
            self.bytes = bytes
            self.what = what
        }

        func failure(_ reason: String) -> CatalogError {
            let text = String(decoding: bytes.prefix(120), as: UTF8.self)
            return CatalogError.invalidValue(what, "\(reason) at byte \(index) of \(text)")
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        /// Skips whitespace and consumes `byte` if it comes next.
        mutating func consume(_ byte: UInt8) throws(CatalogError) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func expect(_ byte: UInt8) throws(CatalogError) {
            guard try consume(byte) else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        }

        mutating func expectEnd() throws(CatalogError) {
            skipSpace()
            guard index == bytes.count else { throw failure("unexpected text after the value") }
        }

        mutating func string() throws(CatalogError) -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    try escape(into: &out)
                case 0x00..<0x20:
                    throw failure("control character in a string")
                default:
                    out.append(byte)
                }
            }
            throw failure("unterminated string")
        }

        private mutating func escape(into out: inout [UInt8]) throws(CatalogError) {
            guard index < bytes.count else { throw failure("unterminated escape") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { throw failure("lone surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("lone surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw failure("lone surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
                UTF8.encode(unicode) { out.append($0) }
            default:
                throw failure("invalid escape")
            }
        }

        private mutating func hex4() throws(CatalogError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
    }
}
