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
}
