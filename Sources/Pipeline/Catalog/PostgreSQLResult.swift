internal import CPQ

/// One result of a PostgreSQL command (`PGresult *`), owned: cleared in `deinit`.
///
/// Rows and columns are numbered from 0. Values come in libpq's text format: integers as decimal text, `bytea`
/// as `\x` followed by hex digits (decoded here), text as UTF-8.
final class PostgreSQLResult {
    private let handle: OpaquePointer
    /// Rows of a query (0 for a command).
    let rowCount: Int32
    /// Rows a command changed (`PQcmdTuples`), 0 for a query.
    let changes: Int64

    /// Takes ownership of a result that ``CatalogError/check(pq:connection:sql:)`` accepted.
    init(_ handle: OpaquePointer) {
        self.handle = handle
        rowCount = PQntuples(handle)
        changes = PQcmdTuples(handle).flatMap { Int64(String(cString: $0)) } ?? 0
    }

    deinit {
        PQclear(handle)
    }

    /// The corresponding C function is `PQgetisnull`.
    func isNull(_ row: Int32, _ column: Int32) -> Bool {
        PQgetisnull(handle, row, column) != 0
    }

    /// Calls `body` with the value's bytes in text format, valid only inside the call (empty for NULL).
    /// The corresponding C functions are `PQgetvalue` and `PQgetlength`.
    func withBytes<T, E: Error>(
        _ row: Int32, _ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T
    ) throws(E) -> T {
        let count = Int(PQgetlength(handle, row, column))
        guard count > 0, let pointer = PQgetvalue(handle, row, column) else {
            return try body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return try pointer.withMemoryRebound(to: UInt8.self, capacity: count) { (bytes) throws(E) in
            try body(UnsafeBufferPointer(start: bytes, count: count))
        }
    }

    /// An integer column (any integer type, or a boolean as 0/1); NULL and non-numbers read as 0.
    func int64(_ row: Int32, _ column: Int32) -> Int64 {
        withBytes(row, column) { bytes -> Int64 in
            guard let first = bytes.first else { return 0 }
            if first == UInt8(ascii: "t") { return 1 }
            if first == UInt8(ascii: "f") { return 0 }
            var value: Int64 = 0
            var negative = false
            for (offset, byte) in bytes.enumerated() {
                if offset == 0 && byte == UInt8(ascii: "-") {
                    negative = true
                    continue
                }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
                // Wrapping: Int64.min has no positive counterpart; the text came from an int8 column.
                value = value &* 10 &+ Int64(byte - UInt8(ascii: "0"))
            }
            return negative ? 0 &- value : value
        }
    }

    func double(_ row: Int32, _ column: Int32) -> Double {
        withBytes(row, column) { Double(String(decoding: $0, as: UTF8.self)) ?? 0 }
    }

    func text(_ row: Int32, _ column: Int32) -> String {
        withBytes(row, column) { String(decoding: $0, as: UTF8.self) }
    }

    /// A `bytea` column: nil for NULL, `[]` for a zero-length value. Decodes the hex output format
    /// (`bytea_output = hex`, PostgreSQL's default since 9.0, which ``PostgreSQLConnection`` sets).
    func blob(_ row: Int32, _ column: Int32) -> [UInt8]? {
        if isNull(row, column) { return nil }
        return withBytes(row, column) { bytes -> [UInt8] in
            guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") else {
                return Array(bytes)
            }
            var result: [UInt8] = []
            result.reserveCapacity((bytes.count - 2) / 2)
            var index = 2
            while index + 1 < bytes.count {
                result.append(Self.nibble(bytes[index]) << 4 | Self.nibble(bytes[index + 1]))
                index += 2
            }
            return result
        }
    }

    @inline(__always)
    private static func nibble(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return 0
        }
    }
}

// Owned by the statement that ran it, which one thread at a time uses.
@available(*, unavailable)
extension PostgreSQLResult: Sendable {}
