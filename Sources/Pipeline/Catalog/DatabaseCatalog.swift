/// The catalog in a SQLite file (the embedded default) or a PostgreSQL database (one catalog for several hosts):
/// one schema, one set of queries, two drivers (``CatalogDatabase``).
///
/// A SQLite file is in WAL mode with `synchronous = NORMAL` (a committed batch survives a process crash; a power
/// loss may lose the last batches, never corrupt the file), `busy_timeout = 5000` ms and foreign keys enforced.
/// One connection writes at a time (``JobLock`` keeps a second job out); other connections may read meanwhile
/// and see committed batches.
///
/// ```swift
/// let catalog = try SQLiteCatalog.open(path: "/var/lib/optionhost/catalog.db", create: true)
/// var job = JobRecord(name: "nightly", level: .full, fileSetName: "root", fileSetDigest: md5, startTime: now)
/// job.id = try catalog.beginJob(job)
/// try catalog.insert(files: batch, messages: [])      // ≥ 1,000 rows per call
/// job.status = .ok
/// try catalog.finishJob(job)
/// try catalog.close()
/// ```
///
/// The schema is documented in `docs/catalog.md`.
public final class DatabaseCatalog: CatalogStore {
    /// The schema version this build creates and migrates to (`PRAGMA user_version`).
    static let schemaVersion: Int = CatalogSchema.version

    /// The catalog file, or for PostgreSQL the database and server (`database "NAME" on HOST`, no password).
    public let path: String
    let connection: any CatalogDatabase

    /// The SQL dialect of the connection.
    var dialect: CatalogDialect { connection.dialect }

    /// PostgreSQL: the running jobs this connection recorded and holds the JobId lock of (``beginJob(_:)``, until
    /// ``finishJob(_:)``). The server grants a session a lock it already holds, so a liveness check on this
    /// connection skips these instead of taking their locks.
    var heldJobLocks: Set<JobID> = []

    init(connection: any CatalogDatabase, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens the catalog at `path`: creates the schema in a new (or empty) file, or migrates an older catalog
    /// forward.
    ///
    /// - Parameters:
    ///   - path: The catalog file.
    ///   - create: Create the file and schema if the file does not exist or is empty.
    /// - Throws: ``CatalogError``: the file cannot be opened, is not a SQLite database (`SQLITE_NOTADB`), is a
    ///   SQLite database of another program, has a schema newer than ``schemaVersion``, or cannot be migrated.
    public static func open(path: String, create: Bool) throws(CatalogError) -> DatabaseCatalog {
        try open(path: path, create: create, migrations: CatalogSchema.migrations)
    }

    /// ``open(path:create:)`` with a given migration list (tests use a longer one).
    static func open(
        path: String, create: Bool, migrations: [CatalogMigration]
    ) throws(CatalogError)
        -> DatabaseCatalog
    {
        let connection = try SQLiteConnection(path: path, create: create)
        do throws(CatalogError) {
            try configure(connection, create: create, migrations: migrations)
        } catch {
            try? connection.close()
            var error = error.adding(context: "cannot open catalog \(path)")
            // Not a database: the file is at fault, not the statement that noticed.
            if error.code == .notADatabase { error.sql = nil }
            throw error
        }
        return DatabaseCatalog(connection: connection, path: connection.path)
    }

    /// Closes the connection. A second call does nothing.
    public func close() throws(CatalogError) {
        try connection.close()
    }

    // MARK: - Opening

    private static func configure(
        _ connection: SQLiteConnection, create: Bool, migrations: [CatalogMigration]
    ) throws(CatalogError) {
        try connection.setBusyTimeout(milliseconds: 5000)
        let known = migrations.last?.version ?? 0
        // The first statements that read the file: a file that is not a database fails here with SQLITE_NOTADB.
        let version = Int(try connection.scalar("PRAGMA user_version"))
        if version > known {
            throw CatalogError.schemaTooNew(found: version, known: known)
        }
        if version > 0 {
            let applicationID = try connection.scalar("PRAGMA application_id")
            if applicationID != Int64(CatalogSchema.applicationID) {
                throw CatalogError.notACatalog("its application_id is \(applicationID)")
            }
        } else {
            if try connection.scalar("SELECT count(*) FROM sqlite_schema") > 0 {
                throw CatalogError.notACatalog("it is a SQLite database with other tables")
            }
            if !create {
                throw CatalogError.notACatalog("it is empty; open it with create to make a new catalog")
            }
        }

        let mode = try connection.scalarText("PRAGMA journal_mode = WAL")
        guard mode.lowercased() == "wal" else {
            throw CatalogError(
                code: .cantOpen, message: "cannot use WAL journal mode (SQLite answered \"\(mode)\")")
        }
        try connection.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")

        for migration in migrations where migration.version > version {
            try migrate(connection, to: migration)
        }
        let final = Int(try connection.scalar("PRAGMA user_version"))
        if final > known {
            throw CatalogError.schemaTooNew(found: final, known: known)
        }
    }

    /// Applies one migration step and its `user_version` in one transaction, unless another process applied it
    /// while this one waited for the write lock.
    private static func migrate(_ connection: SQLiteConnection, to migration: CatalogMigration) throws(CatalogError) {
        do throws(CatalogError) {
            try connection.inTransaction { () throws(CatalogError) in
                let current = Int(try connection.scalar("PRAGMA user_version"))
                guard current < migration.version else { return }
                guard current == migration.version - 1 else {
                    throw CatalogError.misuse("schema version \(current) has no step to \(migration.version)")
                }
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        } catch {
            throw error.adding(context: "cannot migrate to schema version \(migration.version)")
        }
    }
}

/// The name the catalog had when SQLite was its only driver; ``DatabaseCatalog/open(path:create:)`` opens a SQLite
/// file under either name.
public typealias SQLiteCatalog = DatabaseCatalog

// One connection, used by one thread at a time: move the catalog to its writer thread, or open one per reader.
@available(*, unavailable)
extension DatabaseCatalog: Sendable {}
