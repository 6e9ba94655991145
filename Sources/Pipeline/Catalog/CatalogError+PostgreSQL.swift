internal import CPQ

// MARK: - The one conversion from libpq results and connection failures

extension CatalogError {
    /// Throws unless `result` is a successful result (`PGRES_COMMAND_OK`, `PGRES_TUPLES_OK`, `PGRES_COPY_IN`,
    /// `PGRES_EMPTY_QUERY`).
    ///
    /// Every `PGresult` of the catalog goes through this function. A nil result (out of memory, or the connection
    /// is gone) takes its message from the connection (`PQerrorMessage`). `withDetail` appends the server's detail
    /// line (`Key (job_id, file_index)=(1, 5) already exists.`): for a COPY, whose error names no row otherwise.
    static func check(
        pq result: OpaquePointer?, connection: OpaquePointer?, sql: String? = nil, withDetail: Bool = false
    ) throws(CatalogError) {
        guard let result else {
            throw CatalogError(pqConnection: connection, sql: sql, context: nil)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY:
            return
        default:
            var error = CatalogError(pqResult: result, connection: connection, sql: sql)
            if withDetail, let detail = PQresultErrorField(result, cpq_diag_message_detail()) {
                error.message += " (" + String(cString: detail).trimmingNewlines() + ")"
            }
            throw error
        }
    }

    /// The error of a failed result: SQLSTATE and primary message from the result's fields.
    private init(pqResult result: OpaquePointer, connection: OpaquePointer?, sql: String?) {
        let state = PQresultErrorField(result, cpq_diag_sqlstate()).map { String(cString: $0) }
        var message = PQresultErrorField(result, cpq_diag_message_primary()).map { String(cString: $0) }
            ?? String(cString: PQresultErrorMessage(result)).trimmingNewlines()
        // No SQLSTATE: libpq itself failed (most often the server closed the connection).
        if state == nil, let connection, PQstatus(connection) == CONNECTION_BAD {
            self.init(pqConnection: connection, sql: sql, context: nil)
            return
        }
        if message.isEmpty { message = "PostgreSQL error" }
        let (code, extended) = Self.resultCode(sqlState: state)
        self.init(code: code, extendedCode: extended, message: message, sql: sql)
        self.sqlState = state
    }

    /// A connection that could not be made or was lost: `SQLITE_CANTOPEN` before it was ever up, else
    /// `SQLITE_IOERR` (the job that used it fails; nothing retries a half-sent transaction).
    init(pqConnection connection: OpaquePointer?, sql: String?, context: String?) {
        var message = connection.map { String(cString: PQerrorMessage($0)).trimmingNewlines() } ?? ""
        if message.isEmpty { message = "out of memory or no connection to the PostgreSQL server" }
        self.init(code: .ioError, message: message, sql: sql, context: context)
        // 08006 connection_failure: what a server-side observer would report for it, and what callers match on.
        self.sqlState = "08006"
    }

    /// The result code nearest to a SQLSTATE, so callers match both drivers with the same `catch ResultCode.x`.
    private static func resultCode(sqlState: String?) -> (ResultCode, ResultCode) {
        guard let state = sqlState else { return (.error, .error) }
        switch state {
        case "23505": return (.constraint, .constraintUnique)
        case "23503": return (.constraint, .constraintForeignKey)
        case "40001", "40P01", "55P03": return (.busy, .busy)
        case "53100": return (.full, .full)
        case "57014": return (.interrupt, .interrupt)
        default: break
        }
        switch state.prefix(2) {
        case "23": return (.constraint, .constraint)
        case "08", "57": return (.ioError, .ioError)
        case "22": return (.mismatch, .mismatch)
        case "42": return (.error, .error)
        case "53": return (.full, .full)
        default: return (.error, .error)
        }
    }
}

extension String {
    /// libpq messages end with a newline (and may have a second line of detail).
    fileprivate func trimmingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return text.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.trimmingPrefix { $0 == "\t" || $0 == " " } }.joined(separator: "; ")
    }
}
