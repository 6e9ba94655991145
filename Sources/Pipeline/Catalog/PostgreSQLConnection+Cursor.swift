internal import CPQ

// MARK: - Reading large results in pieces

extension PostgreSQLConnection {
    /// A statement whose rows are read in pieces of ``PostgreSQLStatement/rowsPerFetch`` through a server-side
    /// cursor (`DECLARE … NO SCROLL CURSOR FOR`, then `FETCH`), so a result of a million rows never sits in memory
    /// at once (one `PQexecParams` result holds every row).
    ///
    /// A cursor, not libpq's single-row mode: single-row mode forbids any other command on the connection until the
    /// last row is read, and the catalog's readers call the catalog again from inside a row loop (a restore looks up
    /// versions, a `forEachFile` body may read jobs). A cursor lives in a transaction: inside the caller's
    /// transaction if one is open, else in one begun for it (read only in effect: it is committed, by the last of
    /// the cursors open at once, when that cursor ends). While such a transaction is open, ``inTransaction(_:)``
    /// refuses to start: its commit would end the cursors. This differs from SQLite, where a write transaction may
    /// start inside a row loop; no caller does that today (the catalog tests run on both drivers), and a new one
    /// gets a `misuse` error naming the cause rather than a silently deferred commit.
    func prepareStream(_ sql: String) throws(CatalogError) -> PostgreSQLStatement {
        _ = try openHandle()
        return PostgreSQLStatement(connection: self, sql: sql, preparedName: nil, streamed: true)
    }

    /// A name for a new cursor; begins the transaction it needs when none is open.
    func beginCursor() throws(CatalogError) -> String {
        let connection = try openHandle()
        if PQtransactionStatus(connection) == PQTRANS_IDLE {
            try execute("BEGIN")
            cursorTransaction = true
        }
        openCursors += 1
        cursorSerial += 1
        return "op_cursor\(cursorSerial)"
    }

    /// The next `count` rows of cursor `name` (fewer at the end, none after it).
    func fetch(_ count: Int32, from name: String, sql: String) throws(CatalogError) -> PostgreSQLResult {
        let connection = try openHandle()
        let result = PQexec(connection, "FETCH FORWARD \(count) FROM \(name)")
        do throws(CatalogError) {
            try CatalogError.check(pq: result, connection: connection, sql: sql)
        } catch {
            PQclear(result)
            throw error
        }
        guard let result else { throw CatalogError.misuse("libpq returned no result") }
        return PostgreSQLResult(result)
    }

    /// Closes cursor `name` after its last row; the last cursor of a transaction begun for cursors commits it.
    func closeCursor(_ name: String) throws(CatalogError) {
        openCursors -= 1
        do throws(CatalogError) {
            try execute("CLOSE \(name)")
        } catch {
            endCursorTransaction(failed: true)
            throw error
        }
        if openCursors == 0 && cursorTransaction {
            cursorTransaction = false
            try execute("COMMIT")
        }
    }

    /// Ends cursor `name` without reporting errors: after a failure, or when its statement is dropped or reset
    /// before the last row. A failed transaction begun for cursors is rolled back (every cursor in it is gone).
    func endCursor(_ name: String, failed: Bool) {
        openCursors -= 1
        guard let connection = handle, PQstatus(connection) == CONNECTION_OK else {
            cursorTransaction = false
            return
        }
        if !failed && PQtransactionStatus(connection) == PQTRANS_INTRANS {
            try? execute("CLOSE \(name)")
        }
        endCursorTransaction(failed: failed || PQtransactionStatus(connection) == PQTRANS_INERROR)
        if openCursors == 0 && cursorTransaction {
            cursorTransaction = false
            try? execute("COMMIT")
        }
    }

    /// After a failure in a transaction begun for cursors: rolls it back, and the other cursors with it.
    private func endCursorTransaction(failed: Bool) {
        guard failed, cursorTransaction else { return }
        cursorTransaction = false
        try? execute("ROLLBACK")
    }
}
