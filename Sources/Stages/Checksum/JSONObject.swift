/// One JSON object on one line, built field by field (the jsonl checksum log).
///
/// Strings are written as UTF-8 with `"`, `\` and control characters escaped; a file name that is not UTF-8
/// becomes `path_b64` with its raw bytes in base64 (D7).
struct JSONObject {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    mutating func add(_ name: String, _ value: String) {
        key(name)
        Self.appendString(value.utf8, to: &bytes)
    }

    mutating func add(_ name: String, _ value: some BinaryInteger) {
        key(name)
        bytes += String(value).utf8
    }

    /// `path` when `name` is valid UTF-8, else `path_b64`.
    mutating func addPath(_ name: ArraySlice<UInt8>) {
        if let text = String(validating: name, as: UTF8.self) {
            add("path", text)
        } else {
            add("path_b64", Self.base64(Array(name)))
        }
    }

    /// The object and its newline.
    var line: [UInt8] { bytes + [UInt8(ascii: "}"), 0x0A] }

    private mutating func key(_ name: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        Self.appendString(name.utf8, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func appendString(_ text: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out += [UInt8(ascii: "\\"), byte]
            } else if byte < 0x20 {
                out += "\\u00".utf8
                out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
            } else {
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// RFC 4648 base64 with padding.
    static func base64(_ input: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let count = min(3, input.count - index)
            var group: UInt32 = 0
            for offset in 0..<3 {
                group = group << 8 | UInt32(offset < count ? input[index + offset] : 0)
            }
            for position in 0..<4 {
                out.append(position <= count ? alphabet[Int(group >> UInt32(18 - 6 * position) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
