/// Where a PostgreSQL catalog is and who connects to it: the Bareos `Catalog` directives `DB Name`, `DB Address`,
/// `DB Port`, `DB User` and `DB Password`, as libpq connection parameters.
///
/// `DB Address` is libpq's `host`: a host name, an IP address, or (starting with `/`) the directory of the
/// server's unix socket. Without `DB Password` libpq looks in the password file (`PGPASSFILE`, else `~/.pgpass`),
/// so the password need not be in the configuration. The password is never part of a description or an error.
public struct PostgreSQLSettings: Sendable, Equatable, CustomStringConvertible {
    public var databaseName: String
    public var address: String?
    public var port: Int?
    public var user: String?
    /// Kept out of ``description``, error messages and logs.
    public var password: String?

    public init(
        databaseName: String, address: String? = nil, port: Int? = nil, user: String? = nil, password: String? = nil
    ) {
        self.databaseName = databaseName
        self.address = address
        self.port = port
        self.user = user
        self.password = password
    }

    /// `database "NAME" on HOST:PORT as USER`, with the parts that are set; never the password.
    public var description: String {
        var text = "database \"\(databaseName)\""
        if let address {
            text += " on \(address)" + (port.map { ":\($0)" } ?? "")
        } else if let port {
            text += " on port \(port)"
        }
        if let user { text += " as \(user)" }
        return text
    }

    /// The libpq keyword/value pairs (`PQconnectdbParams`). `client_encoding` is fixed to UTF8: paths are bytes
    /// (bytea), every text column is UTF-8. `connect_timeout` keeps an unreachable server from hanging a job.
    /// `cursor_tuple_fraction=1`: the catalog reads every row of its cursors
    /// (``PostgreSQLConnection/prepareStream(_:)``), and with the default 0.1 the planner picked plans for the first
    /// rows (`EXPLAIN DECLARE`: the restore's state query as a nested loop over the `files_path` index, one lookup a
    /// row, instead of a hash anti-join and a sort).
    var connectionParameters: [(String, String)] {
        var pairs: [(String, String)] = [("dbname", databaseName)]
        if let address { pairs.append(("host", address)) }
        if let port { pairs.append(("port", String(port))) }
        if let user { pairs.append(("user", user)) }
        if let password { pairs.append(("password", password)) }
        pairs += [
            ("client_encoding", "UTF8"), ("application_name", "optionhost"), ("connect_timeout", "10"),
            ("options", "-c cursor_tuple_fraction=1"),
        ]
        return pairs
    }
}
