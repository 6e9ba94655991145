internal import CSQLite

/// One compiled SQL statement (`sqlite3_stmt *`), owned: it is finalized in `deinit`.
///
/// Parameters are numbered from 1 and columns from 0, as in the C API. Text and blob values are bound with
/// `SQLITE_TRANSIENT` (SQLite copies them), so the Swift buffers need not outlive the call.
/// Empty blobs are bound as zero-length blobs, never as NULL, so `[]` and `nil` stay different.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String

    init(_ handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    private var db: OpaquePointer? { sqlite3_db_handle(handle) }

    @inline(__always)
    private func check(_ rc: Int32) throws(CatalogError) {
        if rc == SQLITE_OK { return }
        try CatalogError.check(rc, db: db, sql: sql)
    }

    // MARK: - Running

    /// Advances to the next row: true when a row is available, false when the statement is done.
    /// On failure the statement is reset, so it can be reused.
    /// The corresponding C function is `sqlite3_step`.
    func step() throws(CatalogError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        do throws(CatalogError) {
            try check(rc)
        } catch {
            sqlite3_reset(handle)
            throw error
        }
        return false
    }

    /// Steps to completion, discarding rows, then resets the statement and clears its bindings.
    func run() throws(CatalogError) {
        defer { reset() }
        while try step() {}
    }

    /// Rewinds the statement and clears its bindings. The result code of `sqlite3_reset` repeats the last step's
    /// error, which ``step()`` already reported, so it is ignored here.
    /// The corresponding C functions are `sqlite3_reset` and `sqlite3_clear_bindings`.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: - Binding

    /// The corresponding C function is `sqlite3_bind_int64`.
    func bind(_ value: Int64, at index: Int32) throws(CatalogError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ value: Int64?, at index: Int32) throws(CatalogError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// The corresponding C function is `sqlite3_bind_null`.
    func bindNull(at index: Int32) throws(CatalogError) {
        try check(sqlite3_bind_null(handle, index))
    }

    /// Binds UTF-8 text (NUL characters included). The corresponding C function is `sqlite3_bind_text`.
    func bind(_ value: String?, at index: Int32) throws(CatalogError) {
        guard var value else { return try bindNull(at: index) }
        let rc = value.withUTF8 { utf8 in
            bindText(UnsafeRawBufferPointer(utf8), at: index)
        }
        try check(rc)
    }

    /// Binds bytes that are already UTF-8 text (e.g. encoded JSON).
    func bind(textBytes value: [UInt8], at index: Int32) throws(CatalogError) {
        let rc = value.withUnsafeBytes { bindText($0, at: index) }
        try check(rc)
    }

    private func bindText(_ bytes: UnsafeRawBufferPointer, at index: Int32) -> Int32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
        }
        return sqlite3_bind_text(
            handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), csqlite_transient())
    }

    /// Binds a blob; nil binds NULL, `[]` a zero-length blob.
    /// The corresponding C functions are `sqlite3_bind_blob` and `sqlite3_bind_zeroblob`.
    func bind(blob value: [UInt8]?, at index: Int32) throws(CatalogError) {
        guard let value else { return try bindNull(at: index) }
        let rc = value.withUnsafeBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            return sqlite3_bind_blob(handle, index, base, Int32(bytes.count), csqlite_transient())
        }
        try check(rc)
    }

    // MARK: - Columns

    /// True when the column of the current row is NULL. The corresponding C function is `sqlite3_column_type`.
    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    /// The corresponding C function is `sqlite3_column_int64`.
    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    /// The corresponding C function is `sqlite3_column_double`.
    func double(_ column: Int32) -> Double {
        sqlite3_column_double(handle, column)
    }

    /// The column as UTF-8 text (invalid sequences repaired); NULL reads as "".
    /// The corresponding C functions are `sqlite3_column_text` and `sqlite3_column_bytes`.
    func text(_ column: Int32) -> String {
        withTextBytes(column) { String(decoding: $0, as: UTF8.self) }
    }

    func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    /// Calls `body` with the column's UTF-8 bytes, valid only inside the call.
    func withTextBytes<T, E: Error>(
        _ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T
    ) throws(E) -> T {
        let pointer = sqlite3_column_text(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeBufferPointer(start: count > 0 ? pointer : nil, count: pointer == nil ? 0 : count))
    }

    /// The column as bytes; NULL reads as nil, a zero-length blob as `[]`.
    /// The corresponding C functions are `sqlite3_column_blob` and `sqlite3_column_bytes`.
    func blob(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        let pointer = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

// A statement belongs to one connection, which one thread at a time may use.
@available(*, unavailable)
extension SQLiteStatement: Sendable {}
