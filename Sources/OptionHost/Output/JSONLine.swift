/// One JSON object of a JSON Lines stream (decision D5), built field by field without Foundation.
struct JSONLine {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONLine.appendString(name.utf8, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func add(_ name: String, _ value: String) {
        key(name)
        JSONLine.appendString(value.utf8, to: &bytes)
    }

    mutating func add(_ name: String, _ value: some BinaryInteger) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func add(_ name: String, _ value: Double) {
        key(name)
        bytes.append(contentsOf: (value.isFinite ? String(value) : "null").utf8)
    }

    mutating func add(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func addNull(_ name: String) {
        key(name)
        bytes.append(contentsOf: "null".utf8)
    }

    mutating func add(_ name: String, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONLine.appendString(value.utf8, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An object of integer counts, in the order given (e.g. `skipped_by_stage`).
    mutating func addObject(_ name: String, _ counts: [(String, Int)]) {
        key(name)
        var inner = JSONLine()
        for (key, value) in counts { inner.add(key, value) }
        bytes.append(contentsOf: inner.bytes + [UInt8(ascii: "}")])
    }

    /// A nested object (e.g. the backup summary's `stats`).
    mutating func add(_ name: String, object: JSONLine) {
        key(name)
        bytes.append(contentsOf: object.bytes + [UInt8(ascii: "}")])
    }

    /// An array of objects, in the order given.
    mutating func add(_ name: String, objects: [JSONLine]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, object) in objects.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: object.bytes + [UInt8(ascii: "}")])
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A number, or `null` when there is none (a rate of a stage that took no measurable time).
    mutating func add(_ name: String, _ value: Double?) {
        if let value { add(name, value) } else { addNull(name) }
    }

    /// A file name: `path` when it is valid UTF-8, otherwise `path_b64` with the raw bytes (D7).
    mutating func addPath(_ path: [UInt8], key name: String = "path") {
        if let text = String(validating: path, as: UTF8.self) {
            add(name, text)
        } else {
            add(name + "_b64", Base64.encode(path))
        }
    }

    /// The finished object followed by a newline.
    var line: [UInt8] { bytes + [UInt8(ascii: "}"), UInt8(ascii: "\n")] }

    private static let hex = Array("0123456789abcdef".utf8)

    static func appendString(_ string: some Collection<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// Standard base64 (RFC 4648) for `path_b64`.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(value >> UInt32(shift) & 0x3F)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            var value = UInt32(bytes[index]) << 16
            if rest == 2 { value |= UInt32(bytes[index + 1]) << 8 }
            out.append(alphabet[Int(value >> 18 & 0x3F)])
            out.append(alphabet[Int(value >> 12 & 0x3F)])
            out.append(rest == 2 ? alphabet[Int(value >> 6 & 0x3F)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
