internal import CSQLite

/// An error from the catalog: a SQLite or PostgreSQL failure, or a catalog rule that the database does not know
/// (a schema newer than this build, a file that is not an optionhost catalog, a stored value that cannot be decoded).
///
/// SQLite result codes become a `CatalogError` in exactly one place, ``check(_:db:sql:context:)``; libpq results and
/// connection failures in one other, `CatalogError+PostgreSQL.swift`, which maps SQLSTATE classes onto the nearest
/// result code (so `catch ResultCode.constraint` works on both drivers) and keeps the SQLSTATE in ``sqlState``.
/// Match on codes with `catch ResultCode.busy` (see ``ResultCode``).
///
/// Related SQLite documentation: <https://www.sqlite.org/rescode.html>
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_NOTADB`, …).
    public var code: ResultCode
    /// The extended result code (equal to ``code`` when SQLite gave none).
    var extendedCode: ResultCode
    /// SQLite's message (`sqlite3_errmsg`), or the catalog's own.
    public var message: String
    /// The SQL statement that failed, if any.
    public var sql: String?
    /// What the catalog was doing, e.g. `cannot open catalog /var/lib/op/cat.db`.
    public var context: String?
    /// PostgreSQL's five-character SQLSTATE (`23505`), for errors from a PostgreSQL catalog.
    public var sqlState: String?

    public init(
        code: ResultCode, extendedCode: ResultCode? = nil, message: String, sql: String? = nil,
        context: String? = nil
    ) {
        self.code = code.primary
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
        self.context = context
    }

    public var description: String {
        var text = context.map { "\($0): " } ?? ""
        text += message
        if let sqlState {
            text += " (SQLSTATE \(sqlState))"
        } else if code != .error || extendedCode != code {
            text += " (\(extendedCode))"
        }
        if let sql {
            let short = sql.count > 200 ? String(sql.prefix(200)) + "…" : sql
            text += " — SQL: \(short)"
        }
        return text
    }

    /// This error with a context added (an existing context is kept as the more specific one).
    func adding(context: String) -> CatalogError {
        var copy = self
        copy.context = self.context.map { "\(context): \($0)" } ?? context
        return copy
    }
}

// MARK: - The one conversion from SQLite result codes

extension CatalogError {
    /// Throws unless `resultCode` is `SQLITE_OK`, `SQLITE_ROW` or `SQLITE_DONE`.
    ///
    /// Every `sqlite3_*` result in the catalog goes through this function. The message comes from the connection
    /// (`sqlite3_errmsg`, `sqlite3_extended_errcode`) when there is one, else from `sqlite3_errstr`.
    static func check(
        _ resultCode: Int32, db: OpaquePointer?, sql: String? = nil, context: String? = nil
    ) throws(CatalogError) {
        switch resultCode {
        case SQLITE_OK, SQLITE_ROW, SQLITE_DONE:
            return
        default:
            throw CatalogError(resultCode: resultCode, db: db, sql: sql, context: context)
        }
    }

    private init(resultCode: Int32, db: OpaquePointer?, sql: String?, context: String?) {
        var extended = resultCode
        var message: String
        if let db, sqlite3_errcode(db) & 0xFF == resultCode & 0xFF {
            extended = sqlite3_extended_errcode(db)
            message = String(cString: sqlite3_errmsg(db))
        } else {
            message = String(cString: sqlite3_errstr(resultCode))
        }
        if message.isEmpty { message = "SQLite error \(resultCode)" }
        self.init(
            code: ResultCode(rawValue: resultCode).primary, extendedCode: ResultCode(rawValue: extended),
            message: message, sql: sql, context: context)
    }
}

// MARK: - Catalog rules

extension CatalogError {
    static func schemaTooNew(found: Int, known: Int) -> CatalogError {
        CatalogError(
            code: .error,
            message: "its schema version is \(found), but this build of optionhost knows versions up to \(known); "
                + "open it with a newer optionhost")
    }

    static func notACatalog(_ reason: String) -> CatalogError {
        CatalogError(code: .notADatabase, message: "not an optionhost catalog (\(reason))")
    }

    static func notFound(_ what: String) -> CatalogError {
        CatalogError(code: .notFound, message: "\(what) is not in the catalog")
    }

    static func invalidValue(_ what: String, _ value: String) -> CatalogError {
        CatalogError(code: .mismatch, message: "invalid \(what) in the catalog: \(value)")
    }

    static func misuse(_ message: String) -> CatalogError {
        CatalogError(code: .misuse, message: message)
    }
}
