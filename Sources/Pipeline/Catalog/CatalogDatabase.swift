/// The SQL dialect of a catalog connection, for the few statements the two drivers cannot share.
enum CatalogDialect: Sendable {
    case sqlite
    case postgreSQL
}

/// One connection of a catalog driver: ``SQLiteConnection`` or ``PostgreSQLConnection``. ``DatabaseCatalog`` runs
/// the same schema steps and queries on either; a connection is used by one thread at a time.
protocol CatalogDatabase: AnyObject {
    associatedtype Statement: CatalogStatement

    var dialect: CatalogDialect { get }

    /// A statement that runs once.
    func prepare(_ sql: String) throws(CatalogError) -> Statement
    /// A statement that runs once and may return more rows than should be in memory at once: read in pieces where
    /// the driver would otherwise hold the whole result (PostgreSQL); SQLite steps through rows anyway.
    func prepareStream(_ sql: String) throws(CatalogError) -> Statement
    /// A statement compiled once per connection and reused (reset, bindings cleared).
    func cachedStatement(_ sql: String) throws(CatalogError) -> Statement
    /// Runs statements separated by semicolons, without parameters, discarding rows.
    func execute(_ sql: String) throws(CatalogError)
    func scalar(_ sql: String) throws(CatalogError) -> Int64
    func scalarText(_ sql: String) throws(CatalogError) -> String
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws. Called inside
    /// another `inTransaction` (a scan into an existing catalog wraps a whole job's writes in one), `body` runs in
    /// a savepoint (``inSavepoint(_:)``): its changes become part of the outer transaction, or are undone alone.
    func inTransaction<T>(_ body: () throws(CatalogError) -> T) throws(CatalogError) -> T
    /// The transactions and savepoints `inTransaction` has open now (0: none).
    var transactionDepth: Int { get set }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int64 { get }
    func close() throws(CatalogError)
}

extension CatalogDatabase {
    /// Runs `body` in a savepoint of the open transaction: released into it when `body` returns, rolled back to
    /// (the outer transaction goes on) when it throws. Both drivers spell savepoints the same way.
    func inSavepoint<T>(_ body: () throws(CatalogError) -> T) throws(CatalogError) -> T {
        let name = "op_savepoint_\(transactionDepth)"
        try execute("SAVEPOINT \(name)")
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        do throws(CatalogError) {
            let result = try body()
            try execute("RELEASE SAVEPOINT \(name)")
            return result
        } catch {
            // After a lost connection these fail too; the outer transaction is gone with the session anyway.
            try? execute("ROLLBACK TO SAVEPOINT \(name)")
            try? execute("RELEASE SAVEPOINT \(name)")
            throw error
        }
    }
}

extension SQLiteConnection: CatalogDatabase {
    var dialect: CatalogDialect { .sqlite }

    /// SQLite reads rows one by one from its pages: a statement streams as it is.
    func prepareStream(_ sql: String) throws(CatalogError) -> SQLiteStatement {
        try prepare(sql)
    }
}

extension PostgreSQLConnection: CatalogDatabase {
    var dialect: CatalogDialect { .postgreSQL }
}

extension CatalogDialect {
    /// The `id` value of an INSERT into `table` that takes the bound `parameter` when it is not NULL (rebuilding a
    /// catalog keeps the ids of the volumes), else the next id. SQLite assigns one for NULL in an `INTEGER PRIMARY
    /// KEY`; PostgreSQL takes it from the table's sequence (`<table>_id_seq`), as a NULL would violate NOT NULL.
    func newID(_ table: String, _ parameter: String) -> String {
        switch self {
        case .sqlite: parameter
        case .postgreSQL: "coalesce(\(parameter), nextval('\(table)_id_seq'))"
        }
    }
}

extension DatabaseCatalog {
    /// After an INSERT with an explicit id: PostgreSQL's sequence moves past it, so the next new id is not taken.
    /// It never moves back: an id below the sequence (a scan adding a pruned job back) must not hand out the ids
    /// after it again, and `setval` stays even when the insert is rolled back. (SQLite's AUTOINCREMENT already
    /// keeps the largest id ever used.)
    func catchUpSequence(of table: String) throws(CatalogError) {
        guard dialect == .postgreSQL else { return }
        _ = try connection.scalar(
            "SELECT setval('\(table)_id_seq', greatest((SELECT max(id) FROM \(table)), "
                + "(SELECT last_value FROM \(table)_id_seq), 1))")
    }
}
