/// One SQL statement of a catalog driver: ``SQLiteStatement`` or ``PostgreSQLStatement``.
///
/// Parameters are written `?1`, `?2`… and numbered from 1, columns from 0. The catalog's queries are written once
/// against this interface; what the dialects do differently is kept in the SQL text (see ``CatalogDialect``).
protocol CatalogStatement: AnyObject {
    /// Advances to the next row: true when a row is available.
    func step() throws(CatalogError) -> Bool
    /// Runs to completion, discarding rows, then resets the statement.
    func run() throws(CatalogError)
    /// Rewinds the statement and clears its bindings.
    func reset()

    func bind(_ value: Int64, at index: Int32) throws(CatalogError)
    func bind(_ value: Int64?, at index: Int32) throws(CatalogError)
    func bindNull(at index: Int32) throws(CatalogError)
    func bind(_ value: String?, at index: Int32) throws(CatalogError)
    func bind(textBytes value: [UInt8], at index: Int32) throws(CatalogError)
    func bind(blob value: [UInt8]?, at index: Int32) throws(CatalogError)

    func isNull(_ column: Int32) -> Bool
    func int64(_ column: Int32) -> Int64
    func optionalInt64(_ column: Int32) -> Int64?
    func double(_ column: Int32) -> Double
    func text(_ column: Int32) -> String
    func optionalText(_ column: Int32) -> String?
    func withTextBytes<T, E: Error>(
        _ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T
    ) throws(E) -> T
    func blob(_ column: Int32) -> [UInt8]?
}

extension SQLiteStatement: CatalogStatement {}
extension PostgreSQLStatement: CatalogStatement {}
