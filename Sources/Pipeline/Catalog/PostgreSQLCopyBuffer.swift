/// Rows in PostgreSQL's binary `COPY` format (`COPY … FROM STDIN (FORMAT binary)`), built in memory and handed to
/// ``PostgreSQLConnection/copyIn(_:fill:)`` in pieces.
///
/// Binary rather than text: no escaping of tabs, newlines and backslashes in paths, `bytea` as raw bytes instead of
/// hex (half the size), integers as 8 bytes instead of decimal text the server parses again. Each row is a 16-bit
/// field count, then per field a 32-bit length (-1 for NULL) and the bytes; all integers big-endian. The values
/// must match the column types of the COPY's column list (`int8`, `text`, `bytea`): the server checks lengths, not
/// types.
struct PostgreSQLCopyBuffer {
    private(set) var bytes: [UInt8] = []

    /// The signature, flags and header extension length every binary COPY starts with.
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The field count -1 that ends the data.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Starts a row of `fields` values.
    mutating func beginRow(fields: Int) {
        append16(UInt16(truncatingIfNeeded: fields))
    }

    mutating func append(_ value: Int64) {
        append32(8)
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> shift)) }
    }

    mutating func append(_ value: Int64?) {
        if let value { append(value) } else { appendNull() }
    }

    /// UTF-8 text. As for a bound parameter, a NUL character is an error (PostgreSQL text cannot hold one).
    mutating func append(_ value: String?) throws(CatalogError) {
        guard let value else { return appendNull() }
        try append(textBytes: Array(value.utf8))
    }

    mutating func append(textBytes value: [UInt8]) throws(CatalogError) {
        if value.contains(0) {
            throw CatalogError(
                code: .mismatch, message: "a value holds a NUL character, which PostgreSQL text cannot store")
        }
        appendRaw(value)
    }

    /// Bytes of a `bytea` column; nil is NULL.
    mutating func append(blob value: [UInt8]?) {
        guard let value else { return appendNull() }
        appendRaw(value)
    }

    mutating func appendNull() {
        append32(UInt32(bitPattern: -1))
    }

    /// Forgets the bytes (after they were sent), keeping the capacity.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    private mutating func appendRaw(_ value: [UInt8]) {
        append32(UInt32(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }

    private mutating func append16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private mutating func append32(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
}
