internal import CPQ

// MARK: - COPY … FROM STDIN

extension PostgreSQLConnection {
    /// Runs `sql`, a `COPY … FROM STDIN (FORMAT binary)`, and streams the rows `fill` appends: `fill` is called with
    /// an empty buffer until it returns false, each piece is sent as it is filled (`PQputCopyData`), so the batch is
    /// never in memory twice in binary form and the server works on one piece while the next is encoded.
    ///
    /// All rows or none: a failure in `fill` ends the COPY with an error (`PQputCopyEnd` with a message), which the
    /// server turns into the failure of the statement; a row the server refuses (a constraint) fails the whole
    /// COPY. Either way the error is thrown and, in a transaction, the transaction is in error until rolled back.
    ///
    /// - Returns: The rows the server stored (`COPY n`).
    @discardableResult
    func copyIn(
        _ sql: String, fill: (inout PostgreSQLCopyBuffer) throws(CatalogError) -> Bool
    ) throws(CatalogError) -> Int64 {
        let connection = try openHandle()
        let start = PQexec(connection, sql)
        do throws(CatalogError) {
            try CatalogError.check(pq: start, connection: connection, sql: sql)
        } catch {
            PQclear(start)
            throw error
        }
        let started = start.map { PQresultStatus($0) == PGRES_COPY_IN } ?? false
        PQclear(start)
        guard started else { throw CatalogError.misuse("\(sql) did not start a COPY FROM STDIN") }

        var buffer = PostgreSQLCopyBuffer(capacity: Self.copyPieceBytes)
        var failure: CatalogError?
        do throws(CatalogError) {
            try put(PostgreSQLCopyBuffer.header, connection, sql)
            var more = true
            while more {
                more = try fill(&buffer)
                try put(buffer.bytes, connection, sql)
                buffer.removeAll()
            }
            try put(PostgreSQLCopyBuffer.trailer, connection, sql)
        } catch {
            failure = error
        }
        // Ends the COPY either way; with a message the server aborts it (nothing of it is stored).
        let ended =
            failure == nil ? PQputCopyEnd(connection, nil) : PQputCopyEnd(connection, "the client stopped the COPY")
        if ended < 0 && failure == nil {
            failure = CatalogError(pqConnection: connection, sql: sql, context: nil)
        }
        // Every result up to nil must be read before the connection takes the next command.
        var stored: Int64 = 0
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            do throws(CatalogError) {
                try CatalogError.check(pq: result, connection: connection, sql: sql, withDetail: true)
                stored = PQcmdTuples(result).flatMap { Int64(String(cString: $0)) } ?? stored
            } catch {
                // The client's own failure explains the server's "COPY from stdin failed" better.
                if failure == nil { failure = error }
            }
            // Still COPY_IN after PQputCopyEnd failed (it could not queue the end): libpq would hand this result
            // out again and again, so stop here; the error is already kept.
            if PQstatus(connection) == CONNECTION_BAD || PQresultStatus(result) == PGRES_COPY_IN { break }
        }
        if let failure { throw failure }
        return stored
    }

    /// The capacity reserved for one piece: 256 rows of the small corpus (~480 bytes a row in binary form).
    static let copyPieceBytes = 128 << 10

    private func put(_ bytes: [UInt8], _ connection: OpaquePointer, _ sql: String) throws(CatalogError) {
        guard !bytes.isEmpty else { return }
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(connection, $0, Int32(buffer.count))
            }
        }
        if sent != 1 { throw CatalogError(pqConnection: connection, sql: sql, context: nil) }
    }
}
