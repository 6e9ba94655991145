/// A Bareos `Catalog` resource (decision D4): `DB Driver = sqlite3` and `DB Name = PATH` are what this host uses;
/// `DB Driver = postgresql` with `DB Name`, `DB Address`, `DB Port`, `DB User` and `DB Password` is read into
/// ``postgreSQL`` (one catalog for several hosts; `scan` still writes SQLite catalogs only, and `check` says so).
public struct CatalogResource: Sendable {
    public var name: String
    var driver: String?
    public var databaseName: String?
    public var location: SourceLocation
    /// Where the server is and who connects, for `DB Driver = postgresql` (nil for other drivers).
    public var postgreSQL: PostgreSQLSettings?

    public init(name: String, driver: String?, databaseName: String?, location: SourceLocation) {
        self.name = name
        self.driver = driver
        self.databaseName = databaseName
        self.location = location
    }

    /// True for a SQLite catalog (every command can use it).
    public var isSupported: Bool { driver?.lowercased() == "sqlite3" }

    /// True for `DB Driver = postgresql`.
    public var isPostgreSQL: Bool { driver?.lowercased() == "postgresql" }
}
