/// A Bareos `Catalog` resource (decision D4): `DB Driver = sqlite3` and `DB Name = PATH` are what this host uses.
public struct CatalogResource: Sendable {
    public var name: String
    var driver: String?
    public var databaseName: String?
    public var location: SourceLocation

    public init(name: String, driver: String?, databaseName: String?, location: SourceLocation) {
        self.name = name
        self.driver = driver
        self.databaseName = databaseName
        self.location = location
    }

    /// True when this host can open the catalog (SQLite).
    public var isSupported: Bool { driver?.lowercased() == "sqlite3" }
}
