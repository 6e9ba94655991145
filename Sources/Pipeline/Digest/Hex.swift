/// Hexadecimal text for digests.
public enum Hex {
    /// Lower-case hexadecimal digits of `bytes`, two per byte, most significant nibble first.
    public static func encode(_ bytes: [UInt8]) -> String {
        guard !bytes.isEmpty else { return "" }
        return String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            let digits: (UInt8) -> UInt8 = { $0 < 10 ? 0x30 + $0 : 0x57 + $0 }   // "0"... / "a"...
            var index = 0
            for byte in bytes {
                text[index] = digits(byte >> 4)
                text[index + 1] = digits(byte & 0x0F)
                index += 2
            }
            return index
        }
    }

    /// The bytes of hexadecimal text (either case); nil when the text is not an even number of hex digits.
    public static func decode(_ text: String) -> [UInt8]? { decode(text.utf8) }

    /// The bytes of hexadecimal digits held as UTF-8 bytes (either case); nil when they are not an even number of
    /// hex digits.
    static func decode(_ digits: some Collection<UInt8>) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 0x30...0x39: return digit - 0x30
            case 0x61...0x66: return digit - 0x57
            case 0x41...0x46: return digit - 0x37
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index != digits.endIndex {
            let next = digits.index(after: index)
            guard let high = value(digits[index]), let low = value(digits[next]) else { return nil }
            bytes.append(high << 4 | low)
            index = digits.index(after: next)
        }
        return bytes
    }
}
