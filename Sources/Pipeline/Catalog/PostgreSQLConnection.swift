#if canImport(Glibc)
    import Glibc
#endif
internal import CPQ

/// One open connection to a PostgreSQL server (`PGconn *`), owned.
///
/// Statements are written with SQLite's `?N` placeholders (see ``PostgreSQLStatement``), so the catalog's SQL reads
/// the same for both drivers where the dialects agree. The connection keeps the statements it runs repeatedly
/// prepared on the server (``cachedStatement(_:)``). ``close()`` ends the session; `deinit` of a connection that
/// was not closed does the same.
///
/// libpq calls block: like the SQLite catalog, a connection is used from one dedicated thread at a time (the
/// catalog thread of a backup, or a command's own thread), never from the cooperative pool per item.
final class PostgreSQLConnection {
    /// The raw handle; nil once closed.
    private(set) var handle: OpaquePointer?
    let settings: PostgreSQLSettings
    private var statementCache: [String: PostgreSQLStatement] = [:]
    /// Transactions and savepoints of ``inTransaction(_:)`` open now (see ``CatalogDatabase/inSavepoint(_:)``).
    var transactionDepth = 0
    /// Cursors of streamed statements open now (``prepareStream(_:)``), and how many were ever opened (their names).
    var openCursors = 0
    var cursorSerial = 0
    /// True while a transaction begun only for cursors is open: the last cursor to close commits it.
    var cursorTransaction = false
    /// Rows changed by the last command run through ``run(_:)`` or ``execute(_:)``.
    private(set) var changes: Int64 = 0

    /// Connects. The error names the server and database, never the password.
    /// The corresponding C function is `PQconnectdbParams`.
    init(settings: PostgreSQLSettings) throws(CatalogError) {
        self.settings = settings
        let pairs = settings.connectionParameters
        let connection = Self.connect(pairs)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            var error = CatalogError(
                pqConnection: connection, sql: nil, context: "cannot connect to the PostgreSQL catalog \(settings)")
            error.code = .cantOpen
            error.extendedCode = .cantOpen
            // libpq quotes no password in its messages; this makes sure of it.
            if let password = settings.password, !password.isEmpty {
                error.message = error.message.replacing(password, with: "********")
            }
            PQfinish(connection)
            throw error
        }
        handle = connection
        // Notices ("relation already exists, skipping") are the server talking about the catalog's own SQL; libpq's
        // default writes them to standard error, in the middle of a command's output.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    private static func connect(_ pairs: [(String, String)]) -> OpaquePointer? {
        var keywords = pairs.map { strdup($0.0) }
        var values = pairs.map { strdup($0.1) }
        keywords.append(nil)
        values.append(nil)
        defer {
            for pointer in keywords { free(pointer) }
            for pointer in values { free(pointer) }
        }
        return keywords.withUnsafeBufferPointer { keywordBuffer in
            values.withUnsafeBufferPointer { valueBuffer in
                keywordBuffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: keywords.count) {
                    keywordPointer in
                    valueBuffer.baseAddress!.withMemoryRebound(
                        to: UnsafePointer<CChar>?.self, capacity: values.count
                    ) { valuePointer in
                        PQconnectdbParams(keywordPointer, valuePointer, 0)
                    }
                }
            }
        }
    }

    deinit {
        statementCache.removeAll()
        if let handle { PQfinish(handle) }
    }

    /// Ends the session. Closing twice does nothing. The corresponding C function is `PQfinish`.
    func close() {
        statementCache.removeAll()
        guard let connection = handle else { return }
        PQfinish(connection)
        handle = nil
    }

    func openHandle() throws(CatalogError) -> OpaquePointer {
        guard let handle else { throw CatalogError.misuse("the PostgreSQL catalog \(settings) is closed") }
        return handle
    }

    /// True while the server is reachable as far as libpq knows (it notices a lost connection at the next call).
    var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The server's process id for this session (`pg_backend_pid()`), e.g. for `pg_terminate_backend` in tests.
    var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    // MARK: - Statements

    /// A statement that runs once (`PQexecParams`).
    func prepare(_ sql: String) throws(CatalogError) -> PostgreSQLStatement {
        _ = try openHandle()
        return PostgreSQLStatement(connection: self, sql: sql, preparedName: nil)
    }

    /// A statement prepared once on the server (`PQprepare`) and reused, reset and with cleared bindings.
    func cachedStatement(_ sql: String) throws(CatalogError) -> PostgreSQLStatement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        _ = try openHandle()
        let statement = PostgreSQLStatement(connection: self, sql: sql, preparedName: "op\(statementCache.count + 1)")
        statementCache[sql] = statement
        return statement
    }

    /// Prepares `statement` on the server (`PQprepare`) with the parameter types of its first run.
    private func prepareOnServer(_ statement: PostgreSQLStatement, name: String) throws(CatalogError) {
        let connection = try openHandle()
        var types = statement.types
        let result = PQprepare(connection, name, statement.serverSQL, Int32(types.count), &types)
        defer { PQclear(result) }
        try CatalogError.check(pq: result, connection: connection, sql: statement.sql)
        statement.isPrepared = true
    }

    /// Runs `statement` with its bound values. Called by the statement; `text` replaces its SQL (a cursor's
    /// `DECLARE … FOR` around it) with the same parameters.
    func run(_ statement: PostgreSQLStatement, as text: String? = nil) throws(CatalogError) -> PostgreSQLResult {
        let connection = try openHandle()
        if let name = statement.preparedName, !statement.isPrepared {
            try prepareOnServer(statement, name: name)
        }
        var types = statement.types
        let values = statement.values
        let count = Int32(values.count)
        var lengths = values.map { Int32($0?.count ?? 0) }
        var formats = statement.formats
        // Text-format values are read up to a NUL: each is copied with one appended.
        var storage: [UnsafeMutablePointer<CChar>?] = values.map { value in
            guard let value else { return nil }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: value.count + 1)
            value.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    buffer.initialize(from: base.assumingMemoryBound(to: CChar.self), count: value.count)
                }
            }
            buffer[value.count] = 0
            return buffer
        }
        defer { for pointer in storage { pointer?.deallocate() } }
        let result: OpaquePointer? = storage.withUnsafeMutableBufferPointer { valueBuffer in
            valueBuffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { valuePointers in
                if let name = statement.preparedName {
                    return PQexecPrepared(
                        connection, name, count, valuePointers.baseAddress, &lengths, &formats, 0)
                }
                return PQexecParams(
                    connection, text ?? statement.serverSQL, count, &types, valuePointers.baseAddress, &lengths,
                    &formats, 0)
            }
        }
        do throws(CatalogError) {
            try CatalogError.check(pq: result, connection: connection, sql: statement.sql)
        } catch {
            PQclear(result)
            throw error
        }
        // `check` accepted it, so it is not nil.
        guard let result else { throw CatalogError.misuse("libpq returned no result") }
        let owned = PostgreSQLResult(result)
        changes = owned.changes
        return owned
    }

    /// Runs one or more SQL statements separated by semicolons, without parameters (`PQexec`), discarding rows.
    func execute(_ sql: String) throws(CatalogError) {
        let connection = try openHandle()
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        try CatalogError.check(pq: result, connection: connection, sql: sql)
        changes = result.flatMap { PQcmdTuples($0) }.flatMap { Int64(String(cString: $0)) } ?? 0
    }

    /// The first column of the first row of `sql`, as an integer (0 when there is no row).
    func scalar(_ sql: String) throws(CatalogError) -> Int64 {
        let statement = try prepare(sql)
        return try statement.step() ? statement.int64(0) : 0
    }

    /// The first column of the first row of `sql`, as text ("" when there is no row).
    func scalarText(_ sql: String) throws(CatalogError) -> String {
        let statement = try prepare(sql)
        return try statement.step() ? statement.text(0) : ""
    }

    // MARK: - Transactions

    /// Runs `body` in a transaction: committed when `body` returns, rolled back when it throws.
    /// The corresponding C function for the state is `PQtransactionStatus`.
    /// Inside another `inTransaction`, `body` runs in a savepoint of that transaction.
    func inTransaction<T>(_ body: () throws(CatalogError) -> T) throws(CatalogError) -> T {
        let connection = try openHandle()
        if transactionDepth > 0 { return try inSavepoint(body) }
        guard PQtransactionStatus(connection) == PQTRANS_IDLE else {
            if cursorTransaction {
                throw CatalogError.misuse(
                    "a write on the PostgreSQL catalog \(settings) while a result is read in pieces from it")
            }
            throw CatalogError.misuse("a catalog transaction is already open on the PostgreSQL catalog \(settings)")
        }
        try cachedStatement("BEGIN").run()
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let result: T
        do throws(CatalogError) {
            result = try body()
            try cachedStatement("COMMIT").run()
        } catch {
            // A lost connection has no transaction left to roll back (the server rolled it back).
            let state = PQtransactionStatus(connection)
            if state == PQTRANS_INTRANS || state == PQTRANS_INERROR {
                try? execute("ROLLBACK")
            }
            throw error
        }
        return result
    }
}

// A connection is used by one thread at a time and owns mutable caches.
@available(*, unavailable)
extension PostgreSQLConnection: Sendable {}
