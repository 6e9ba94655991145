/// One SQL statement for a PostgreSQL catalog, with the same calls as ``SQLiteStatement``: parameters numbered
/// from 1 (written `?1`, `?2`… in the SQL, as for SQLite; they become `$1`, `$2`…), columns from 0, ``step()`` to
/// the next row.
///
/// The statement runs at its first ``step()`` and its rows are read from the ``PostgreSQLResult``: the whole result
/// at once, or for a statement from ``PostgreSQLConnection/prepareStream(_:)`` in pieces of ``rowsPerFetch`` rows
/// through a server-side cursor (see there). Parameters travel in libpq's text format except
/// blobs, which go as raw bytes (binary format), so every byte value survives. A cached statement
/// (``PostgreSQLConnection/cachedStatement(_:)``) is prepared once on the server and reused.
final class PostgreSQLStatement {
    /// The SQL as the catalog wrote it (`?N` placeholders), for error messages.
    let sql: String
    /// The SQL sent to the server (`$N` placeholders).
    let serverSQL: String
    /// The server-side name of a prepared statement, nil for one that runs once.
    let preparedName: String?
    // Unowned: the connection's cache holds its prepared statements (a strong reference back would be a cycle).
    // A statement used after its connection was released is a programming error and traps.
    private unowned let connection: PostgreSQLConnection
    private(set) var values: [[UInt8]?]
    private(set) var formats: [Int32]
    /// The type of each parameter (`int8`, `text`, `bytea`; 0 lets the server infer it), also for NULL values: in
    /// `?2 IS NULL OR job_id = ?2` nothing else tells the server what `?2` is.
    private(set) var types: [UInt32]
    /// Whether the server has the prepared statement (prepared at the first run, with the types of that run).
    var isPrepared = false
    private var result: PostgreSQLResult?
    private var row: Int32 = -1
    /// Read through a cursor in pieces (``PostgreSQLConnection/prepareStream(_:)``).
    let streamed: Bool
    /// The open cursor's name while a streamed statement has rows left on the server.
    private var cursor: String?

    /// Rows per `FETCH` of a streamed statement: ~0.5 MB of `files` rows of the small corpus in libpq's text form,
    /// against ~100 MB for a 200,000-row job read in one result.
    static let rowsPerFetch: Int32 = 1000

    init(connection: PostgreSQLConnection, sql: String, preparedName: String?, streamed: Bool = false) {
        self.connection = connection
        self.streamed = streamed
        self.sql = sql
        let (translated, count) = Self.translatePlaceholders(sql)
        serverSQL = translated
        self.preparedName = preparedName
        values = Array(repeating: nil, count: count)
        formats = Array(repeating: 0, count: count)
        types = Array(repeating: 0, count: count)
    }

    /// The OIDs of the types this statement binds (`pg_type`).
    private static let int8 = UInt32(20)
    private static let text = UInt32(25)
    private static let bytea = UInt32(17)

    // MARK: - Running

    /// Runs the statement at the first call, then advances to the next row: true when a row is available.
    func step() throws(CatalogError) -> Bool {
        if result == nil {
            result = streamed ? try openCursor() : try connection.run(self)
        }
        guard let current = result else { return false }
        if row < current.rowCount { row += 1 }
        if row < current.rowCount { return true }
        guard let cursor else { return false }
        // A short piece is the last one: no FETCH to learn that nothing follows.
        if current.rowCount < Self.rowsPerFetch {
            try closeCursor()
            return false
        }
        let next: PostgreSQLResult
        do throws(CatalogError) {
            next = try connection.fetch(Self.rowsPerFetch, from: cursor, sql: sql)
        } catch {
            self.cursor = nil
            connection.endCursor(cursor, failed: true)
            throw error
        }
        // The previous piece is released here: one piece in memory at a time.
        result = next
        row = 0
        if next.rowCount == 0 {
            try closeCursor()
            return false
        }
        return true
    }

    /// Declares the cursor (in the connection's transaction, or one begun for it) and fetches the first piece.
    private func openCursor() throws(CatalogError) -> PostgreSQLResult {
        let name = try connection.beginCursor()
        do throws(CatalogError) {
            _ = try connection.run(self, as: "DECLARE \(name) NO SCROLL CURSOR FOR \(serverSQL)")
            cursor = name
            return try connection.fetch(Self.rowsPerFetch, from: name, sql: sql)
        } catch {
            cursor = nil
            connection.endCursor(name, failed: true)
            throw error
        }
    }

    private func closeCursor() throws(CatalogError) {
        guard let name = cursor else { return }
        cursor = nil
        try connection.closeCursor(name)
    }

    deinit {
        // A streamed read left before its last row (its loop threw or stopped early): the cursor and the
        // transaction begun for it end here. Nothing to report to: the rows read so far were used.
        if let cursor { connection.endCursor(cursor, failed: false) }
    }

    /// Runs the statement, discarding rows, then resets it (the rows it changed are the connection's `changes`).
    func run() throws(CatalogError) {
        defer { reset() }
        result = try connection.run(self)
    }

    /// Forgets the result (closing a streamed statement's cursor) and clears the bindings.
    func reset() {
        if let cursor {
            self.cursor = nil
            connection.endCursor(cursor, failed: false)
        }
        result = nil
        row = -1
        for index in values.indices {
            values[index] = nil
            formats[index] = 0
            types[index] = 0
        }
    }

    // MARK: - Binding

    private func slot(_ index: Int32) throws(CatalogError) -> Int {
        let slot = Int(index) - 1
        guard values.indices.contains(slot) else {
            throw CatalogError(code: .range, message: "no parameter ?\(index) in the statement", sql: sql)
        }
        return slot
    }

    func bind(_ value: Int64, at index: Int32) throws(CatalogError) {
        let slot = try slot(index)
        values[slot] = Array(String(value).utf8)
        types[slot] = Self.int8
    }

    func bind(_ value: Int64?, at index: Int32) throws(CatalogError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index, type: Self.int8) }
    }

    func bindNull(at index: Int32) throws(CatalogError) {
        try bindNull(at: index, type: 0)
    }

    private func bindNull(at index: Int32, type: UInt32) throws(CatalogError) {
        let slot = try slot(index)
        values[slot] = nil
        formats[slot] = 0
        types[slot] = type
    }

    /// Binds UTF-8 text. PostgreSQL text cannot hold a NUL character: such a value is an error, not cut short.
    func bind(_ value: String?, at index: Int32) throws(CatalogError) {
        guard let value else { return try bindNull(at: index, type: Self.text) }
        try bind(textBytes: Array(value.utf8), at: index)
    }

    func bind(textBytes value: [UInt8], at index: Int32) throws(CatalogError) {
        if value.contains(0) {
            throw CatalogError(
                code: .mismatch,
                message: "parameter ?\(index) holds a NUL character, which PostgreSQL text cannot store",
                sql: sql)
        }
        let slot = try slot(index)
        values[slot] = value
        formats[slot] = 0
        types[slot] = Self.text
    }

    /// Binds bytes (binary format); nil binds NULL.
    func bind(blob value: [UInt8]?, at index: Int32) throws(CatalogError) {
        let slot = try slot(index)
        values[slot] = value
        formats[slot] = value == nil ? 0 : 1
        types[slot] = Self.bytea
    }

    // MARK: - Columns of the current row

    private var current: (PostgreSQLResult, Int32)? {
        guard let result, row >= 0, row < result.rowCount else { return nil }
        return (result, row)
    }

    func isNull(_ column: Int32) -> Bool {
        guard let (result, row) = current else { return true }
        return result.isNull(row, column)
    }

    func int64(_ column: Int32) -> Int64 {
        guard let (result, row) = current else { return 0 }
        return result.int64(row, column)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    func double(_ column: Int32) -> Double {
        guard let (result, row) = current else { return 0 }
        return result.double(row, column)
    }

    func text(_ column: Int32) -> String {
        guard let (result, row) = current else { return "" }
        return result.text(row, column)
    }

    func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    func withTextBytes<T, E: Error>(
        _ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T
    ) throws(E) -> T {
        guard let (result, row) = current else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try result.withBytes(row, column, body)
    }

    func blob(_ column: Int32) -> [UInt8]? {
        guard let (result, row) = current else { return nil }
        return result.blob(row, column)
    }

    // MARK: - Placeholders

    /// `?N` becomes `$N` outside quoted text and identifiers; returns the SQL and the highest N.
    static func translatePlaceholders(_ sql: String) -> (String, Int) {
        var output: [UInt8] = []
        output.reserveCapacity(sql.utf8.count)
        var highest = 0
        var quote: UInt8?
        let bytes = Array(sql.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if let open = quote {
                if byte == open { quote = nil }
                output.append(byte)
                index += 1
                continue
            }
            if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
            } else if byte == UInt8(ascii: "?"), index + 1 < bytes.count, (48...57).contains(bytes[index + 1]) {
                var end = index + 1
                var number = 0
                while end < bytes.count, (48...57).contains(bytes[end]) {
                    number = number * 10 + Int(bytes[end] - 48)
                    end += 1
                }
                highest = max(highest, number)
                output.append(UInt8(ascii: "$"))
                output.append(contentsOf: bytes[(index + 1)..<end])
                index = end
                continue
            }
            output.append(byte)
            index += 1
        }
        return (String(decoding: output, as: UTF8.self), highest)
    }
}

// A statement belongs to one connection, which one thread at a time may use.
@available(*, unavailable)
extension PostgreSQLStatement: Sendable {}
