import Pipeline

/// The catalogs of one test, with the driver under test: SQLite files in the test's directory, or PostgreSQL
/// databases on the test server (``PostgreSQLTestServer``), one fresh database per catalog name. Test classes
/// that run on both drivers open their catalogs through this.
public final class TestCatalogs {
    public enum Driver: Sendable {
        case sqlite
        case postgreSQL
    }

    public let driver: Driver
    private let directory: String
    private var databases: [String: String] = [:]

    public init(driver: Driver, directory: String) {
        self.driver = driver
        self.directory = directory
    }

    /// Opens the catalog `name`: the file `directory/name`, or the database made for `name` in this test.
    public func open(_ name: String = "catalog.db", create: Bool = true) throws -> sending DatabaseCatalog {
        switch driver {
        case .sqlite:
            return try DatabaseCatalog.open(path: directory + "/" + name, create: create)
        case .postgreSQL:
            let server = try PostgreSQLTestServer.shared()
            let database: String
            if let known = databases[name] {
                database = known
            } else {
                database = try server.createDatabase()
                databases[name] = database
            }
            return try DatabaseCatalog.open(postgreSQL: server.settings(database: database), create: create)
        }
    }
}
