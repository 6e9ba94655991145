// MARK: - Opening a PostgreSQL catalog

extension DatabaseCatalog {
    /// Opens the catalog in a PostgreSQL database: creates the schema in an empty database, or migrates an older
    /// catalog forward (``CatalogSchema/postgreSQLMigrations``).
    ///
    /// - Parameters:
    ///   - settings: Where the server is and who connects (the Catalog resource's `DB` directives).
    ///   - create: Create the schema when the database has no tables.
    /// - Throws: ``CatalogError``: no connection (`SQLITE_CANTOPEN`), a database with other tables or another
    ///   program's, a schema newer than this build knows, or a failed migration. The message names the database and
    ///   server, never the password.
    public static func open(postgreSQL settings: PostgreSQLSettings, create: Bool) throws(CatalogError)
        -> DatabaseCatalog
    {
        try open(postgreSQL: settings, create: create, migrations: CatalogSchema.postgreSQLMigrations)
    }

    static func open(
        postgreSQL settings: PostgreSQLSettings, create: Bool, migrations: [CatalogMigration]
    ) throws(CatalogError) -> DatabaseCatalog {
        let connection = try PostgreSQLConnection(settings: settings)
        do throws(CatalogError) {
            try configure(connection, create: create, migrations: migrations)
        } catch {
            connection.close()
            throw error.adding(context: "cannot open the PostgreSQL catalog \(settings)")
        }
        return DatabaseCatalog(connection: connection, path: settings.description)
    }

    /// The `catalog_meta` key of the schema version (SQLite: `PRAGMA user_version`).
    private static let versionKey = "schema_version"
    /// The advisory lock key that serialises schema changes of several hosts opening one catalog at once ("OPCT").
    static let schemaLockKey = Int64(CatalogSchema.applicationID)

    private static func configure(
        _ connection: PostgreSQLConnection, create: Bool, migrations: [CatalogMigration]
    ) throws(CatalogError) {
        let known = migrations.last?.version ?? 0
        let version = try schemaVersion(connection)
        if version > known {
            throw CatalogError.schemaTooNew(found: version, known: known)
        }
        if version == 0 && !create {
            throw CatalogError.notACatalog("it is empty; open it with create to make a new catalog")
        }
        guard migrations.contains(where: { $0.version > version }) else { return }
        // All pending steps in one transaction: one commit (one WAL flush) instead of one per step. A new catalog
        // takes all five; measured ~180 ms of statement time and five commits for the five steps on the benchmark's
        // server, under load. A failed step leaves the catalog at the version it had.
        try connection.inTransaction { () throws(CatalogError) in
            // Two hosts opening a new catalog at once: the second waits here, then finds the steps applied.
            _ = try connection.scalar("SELECT pg_advisory_xact_lock(\(schemaLockKey))")
            for migration in migrations where migration.version > version {
                do throws(CatalogError) {
                    let current = try schemaVersion(connection)
                    guard current < migration.version else { continue }
                    guard current == migration.version - 1 else {
                        throw CatalogError.misuse("schema version \(current) has no step to \(migration.version)")
                    }
                    try connection.execute(migration.sql)
                    let record = try connection.prepare(
                        """
                        INSERT INTO catalog_meta (key, value) VALUES ('\(versionKey)', ?1)
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """)
                    try record.bind(String(migration.version), at: 1)
                    try record.run()
                } catch {
                    throw error.adding(context: "cannot migrate to schema version \(migration.version)")
                }
            }
        }
    }

    /// The schema version in `catalog_meta`, 0 for a database without tables; an error for a database with tables
    /// that is not an optionhost catalog.
    private static func schemaVersion(_ connection: PostgreSQLConnection) throws(CatalogError) -> Int {
        // One statement (one snapshot): another host may commit the first schema step between two.
        let tables = try connection.prepare(
            """
            SELECT count(*) FILTER (WHERE tablename = 'catalog_meta'), count(*)
            FROM pg_tables WHERE schemaname = current_schema()
            """)
        guard try tables.step() else { throw CatalogError.misuse("a count returned no row") }
        guard tables.int64(0) > 0 else {
            if tables.int64(1) > 0 { throw CatalogError.notACatalog("it is a PostgreSQL database with other tables") }
            return 0
        }
        let application = try connection.scalarText("SELECT value FROM catalog_meta WHERE key = 'application_id'")
        guard application == String(CatalogSchema.applicationID) else {
            throw CatalogError.notACatalog("its application_id is \(application.isEmpty ? "missing" : application)")
        }
        return Int(try connection.scalarText("SELECT value FROM catalog_meta WHERE key = '\(versionKey)'")) ?? 0
    }

    /// PostgreSQL: takes the lock of Job `name` of `client` for this session (a session-level advisory lock, keyed
    /// by a hash of both names); false when another session holds it. The server releases it when the session
    /// ends, however it ends, so a crashed job leaves no stale lock. SQLite catalogs use ``JobLock`` (true here).
    public func tryLockJob(_ name: String, client: String) throws(CatalogError) -> Bool {
        guard dialect == .postgreSQL else { return true }
        let lock = try connection.prepare("SELECT pg_try_advisory_lock(hashtextextended(?1, 0))")
        try lock.bind("optionhost job \(client)/\(name)", at: 1)
        guard try lock.step() else { throw CatalogError.misuse("an advisory lock returned no row") }
        return lock.int64(0) == 1
    }
}

// MARK: - JobId locks: which running jobs still have a process

extension DatabaseCatalog {
    /// The key of a JobId's advisory lock, as SQL arguments: the JobId's high and low 32 bits, the two-`int` form
    /// of `pg_advisory_lock`. PostgreSQL keeps the two-`int` keys apart from the one-`bigint` keys of the Job locks
    /// (``tryLockJob(_:client:)``) and the schema lock (``schemaLockKey``), and the catalog uses the two-`int` form
    /// for JobIds only, so the lock of one JobId is no other lock, whatever the numbers.
    static func jobIDLockKey(_ id: JobID) -> String {
        "\(Int32(truncatingIfNeeded: id.rawValue >> 32)), \(Int32(truncatingIfNeeded: id.rawValue))"
    }

    /// Takes the JobId lock of a job this session runs (waits if another session holds it, which only a liveness
    /// check does, for a moment).
    func lockJobID(_ id: JobID) throws(CatalogError) {
        try connection.execute("SELECT pg_advisory_lock(\(Self.jobIDLockKey(id)))")
    }

    /// Releases the JobId lock of a job this session ended.
    func unlockJobID(_ id: JobID) throws(CatalogError) {
        try connection.execute("SELECT pg_advisory_unlock(\(Self.jobIDLockKey(id)))")
        heldJobLocks.remove(id)
    }

    /// Inside a transaction: takes the JobId lock of `id` until the transaction ends if no session holds it, and
    /// says whether it did. A job still `R` afterwards has no process (its process ends the job before it
    /// releases the lock, and the server releases the lock of a session that died).
    func claimJobIDLock(_ id: JobID) throws(CatalogError) -> Bool {
        try connection.scalar("SELECT pg_try_advisory_xact_lock(\(Self.jobIDLockKey(id)))::int") == 1
    }
}
