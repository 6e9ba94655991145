#if canImport(Glibc)
    import Glibc
#endif
internal import CSQLite

/// One open SQLite database handle (`sqlite3 *`), owned.
///
/// The connection keeps a cache of prepared statements for the SQL it runs repeatedly (see ``cachedStatement(_:)``).
/// ``close()`` must be called and can fail (`SQLITE_BUSY` while a statement is still alive elsewhere); `deinit` of a
/// connection that was not closed falls back to `sqlite3_close_v2`, which defers the close until the last statement
/// is finalized and cannot fail.
///
/// The handle is opened with `SQLITE_OPEN_NOMUTEX`: SQLite does not lock it, so one thread at a time may use it.
final class SQLiteConnection {
    /// The raw handle; nil once closed.
    private(set) var handle: OpaquePointer?
    /// The file name given to `open`.
    let path: String
    private var statementCache: [String: SQLiteStatement] = [:]
    /// Transactions and savepoints of ``inTransaction(_:)`` open now (see ``CatalogDatabase/inSavepoint(_:)``).
    var transactionDepth = 0

    /// Opens (and, with `create`, creates) the database file at `path`.
    ///
    /// SQLite opens lazily: a file that is not a database is only detected by the first statement.
    /// The corresponding C function is `sqlite3_open_v2`.
    init(path: String, create: Bool) throws(CatalogError) {
        self.path = path
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create {
            flags |= SQLITE_OPEN_CREATE
            SQLiteConnection.createPrivateFile(path)
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        // "Whether or not an error occurs when it is opened, resources associated with the database connection
        // handle should be released by passing it to sqlite3_close() when it is no longer required."
        do throws(CatalogError) {
            try CatalogError.check(rc, db: db, context: "cannot open catalog \(path)")
        } catch {
            sqlite3_close(db)
            throw error
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    /// Creates a missing catalog file with mode 0600 before SQLite opens it: the catalog names every file, so it is
    /// readable by its owner only, like the volumes, whoever creates it (backup, scan, tests) and whatever the umask.
    /// Created here rather than chmod-ed after the open so that it is never readable by others, not even briefly.
    /// SQLite gives its `-wal` and `-journal` files the mode of the database file. An existing file is left alone
    /// (its owner may have chosen another mode); failures are left for `sqlite3_open_v2` to report.
    private static func createPrivateFile(_ path: String) {
        if path.isEmpty || path == ":memory:" || path.hasPrefix("file:") { return }
        guard let file = try? FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) else { return }
        file.closeAfter { _ = fchmod(file.rawValue, 0o600) }
    }

    deinit {
        if let handle {
            statementCache.removeAll()
            sqlite3_close_v2(handle)
        }
    }

    /// Finalizes the cached statements and closes the handle. Closing twice does nothing.
    ///
    /// - Throws: `SQLITE_BUSY` when a statement prepared on this connection is still alive (it is a programming
    ///   error to keep one); the connection then stays open.
    /// The corresponding C function is `sqlite3_close`.
    func close() throws(CatalogError) {
        guard let db = handle else { return }
        statementCache.removeAll()
        try CatalogError.check(sqlite3_close(db), db: db, context: "cannot close catalog \(path)")
        handle = nil
    }

    /// The open handle, or a misuse error after ``close()``.
    func openHandle() throws(CatalogError) -> OpaquePointer {
        guard let handle else { throw CatalogError.misuse("catalog \(path) is closed") }
        return handle
    }

    // MARK: - Statements

    /// Compiles one SQL statement. The caller owns it; it is finalized when released.
    /// The corresponding C function is `sqlite3_prepare_v3`.
    func prepare(_ sql: String) throws(CatalogError) -> SQLiteStatement {
        try prepare(sql, persistent: false)
    }

    /// Compiles one SQL statement; `persistent` tells SQLite it will be reused many times.
    func prepare(_ sql: String, persistent: Bool) throws(CatalogError) -> SQLiteStatement {
        let db = try openHandle()
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sqlite3_prepare_v3(db, sql, -1, flags, &statement, nil)
        try CatalogError.check(rc, db: db, sql: sql)
        guard let statement else { throw CatalogError.misuse("empty SQL statement: \(sql)") }
        return SQLiteStatement(statement, sql: sql)
    }

    /// A prepared statement for `sql`, compiled once per connection and reused: reset and with cleared bindings.
    func cachedStatement(_ sql: String) throws(CatalogError) -> SQLiteStatement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql, persistent: true)
        statementCache[sql] = statement
        return statement
    }

    /// Runs one or more SQL statements separated by semicolons, discarding rows.
    /// The corresponding C function is `sqlite3_prepare_v2` with its tail pointer, then `sqlite3_step`.
    func execute(_ sql: String) throws(CatalogError) {
        let db = try openHandle()
        try sql.utf8CString.withUnsafeBufferPointer { (buffer) throws(CatalogError) in
            guard var cursor = buffer.baseAddress else { return }
            while cursor.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(db, cursor, -1, &statement, &tail)
                try CatalogError.check(rc, db: db, sql: String(String(cString: cursor).drop { $0.isWhitespace }))
                guard let next = tail, next != cursor else { break }
                if let statement {
                    let bytes = UnsafeRawBufferPointer(start: cursor, count: next - cursor)
                    let text = String(decoding: bytes, as: UTF8.self).drop { $0.isWhitespace }
                    try SQLiteStatement(statement, sql: String(text)).run()
                }
                cursor = next
            }
        }
    }

    /// The first column of the first row of `sql`, as an integer (0 when there is no row).
    func scalar(_ sql: String) throws(CatalogError) -> Int64 {
        let statement = try prepare(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : 0
    }

    /// The first column of the first row of `sql`, as text ("" when there is no row).
    func scalarText(_ sql: String) throws(CatalogError) -> String {
        let statement = try prepare(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.text(0) : ""
    }

    // MARK: - Transactions

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when `body` returns, rolled back when it throws.
    ///
    /// `IMMEDIATE` takes the write lock at once, so a second writer waits (busy timeout) at `BEGIN` instead of
    /// failing with `SQLITE_BUSY_SNAPSHOT` in the middle.
    /// Inside another `inTransaction`, `body` runs in a savepoint of that transaction.
    func inTransaction<T>(_ body: () throws(CatalogError) -> T) throws(CatalogError) -> T {
        let db = try openHandle()
        if transactionDepth > 0 { return try inSavepoint(body) }
        guard sqlite3_get_autocommit(db) != 0 else {
            throw CatalogError.misuse("a catalog transaction is already open on \(path)")
        }
        try cachedStatement("BEGIN IMMEDIATE").run()
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let result: T
        do throws(CatalogError) {
            result = try body()
            try cachedStatement("COMMIT").run()
        } catch {
            // If COMMIT itself failed, SQLite may already have rolled back; ROLLBACK then fails harmlessly.
            if sqlite3_get_autocommit(db) == 0 {
                try? cachedStatement("ROLLBACK").run()
            }
            throw error
        }
        return result
    }

    // MARK: - Facts

    /// The rowid of the last row inserted on this connection. The corresponding C function is
    /// `sqlite3_last_insert_rowid`.
    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Rows changed by the last INSERT, UPDATE or DELETE. The corresponding C function is `sqlite3_changes64`.
    var changes: Int64 { handle.map { sqlite3_changes64($0) } ?? 0 }

    /// Sets the busy timeout in milliseconds. The corresponding C function is `sqlite3_busy_timeout`.
    func setBusyTimeout(milliseconds: Int32) throws(CatalogError) {
        let db = try openHandle()
        try CatalogError.check(sqlite3_busy_timeout(db, milliseconds), db: db)
    }
}

// A connection is used by one thread at a time (it is opened with SQLITE_OPEN_NOMUTEX) and owns mutable caches.
@available(*, unavailable)
extension SQLiteConnection: Sendable {}
