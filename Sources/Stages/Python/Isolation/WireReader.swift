/// Reads a payload `WireWriter` built; a payload that ends early or holds an impossible value throws
/// `WireReader.Malformed` (the other end is not the same protocol, or died mid-frame).
struct WireReader {
    struct Malformed: Error, CustomStringConvertible {
        var description: String { "malformed frame from the plugin process" }
    }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    private mutating func take(_ count: Int) throws(Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else { throw Malformed() }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func u8() throws(Malformed) -> UInt8 { try take(1).first! }

    mutating func bool() throws(Malformed) -> Bool { try u8() != 0 }

    mutating func u32() throws(Malformed) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws(Malformed) -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func i64() throws(Malformed) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func f64() throws(Malformed) -> Double { Double(bitPattern: try u64()) }

    mutating func data() throws(Malformed) -> [UInt8] { Array(try take(Int(try u32()))) }

    mutating func string() throws(Malformed) -> String { String(decoding: try data(), as: UTF8.self) }

    mutating func optionalData() throws(Malformed) -> [UInt8]? { try bool() ? try data() : nil }

    mutating func optionalString() throws(Malformed) -> String? { try bool() ? try string() : nil }

    mutating func strings() throws(Malformed) -> [String] {
        let count = Int(try u32())
        guard count <= bytes.count - offset else { throw Malformed() }
        var values: [String] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try string()) }
        return values
    }
}
