/// One forward step of the catalog schema: the SQL that takes a catalog from `version - 1` to `version`.
struct CatalogMigration: Sendable {
    let version: Int
    let sql: String
}

/// The catalog schema as an ordered list of migrations; `docs/catalog.md` documents every table and column.
///
/// `PRAGMA user_version` holds the version of the last applied step (0 for a new, empty file). Opening a catalog
/// applies the missing steps in order, each in its own transaction together with its `user_version`, so a failed
/// step leaves the catalog at the previous version. Steps are never edited once released: a change is a new step.
/// There is no downgrade: a catalog with a version newer than ``version`` is refused.
///
/// Rules that keep later steps cheap: no CHECK constraints on enumerated text columns (adding a value would need a
/// table rebuild in SQLite); new columns are added with `ALTER TABLE … ADD COLUMN` and a default.
enum CatalogSchema {
    /// `PRAGMA application_id`, "OPCT": marks a file as an optionhost catalog (`file(1)` shows it).
    static let applicationID: Int32 = 0x4F50_4354

    /// The newest version this build knows.
    static var version: Int { migrations.last?.version ?? 0 }

    static let migrations: [CatalogMigration] = [
        CatalogMigration(version: 1, sql: version1),
        CatalogMigration(version: 2, sql: version2),
        CatalogMigration(version: 3, sql: version3),
        CatalogMigration(version: 4, sql: version4),
        CatalogMigration(version: 5, sql: version5),
    ]

    static let version1 = """
        PRAGMA application_id = \(applicationID);

        CREATE TABLE filesets (
            id              INTEGER PRIMARY KEY,
            name            TEXT NOT NULL,
            md5             TEXT NOT NULL,
            text            TEXT,
            UNIQUE (name, md5)
        );

        CREATE TABLE jobs (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            name            TEXT NOT NULL,
            type            TEXT NOT NULL,
            level           TEXT NOT NULL,
            status          TEXT NOT NULL,
            fileset_id      INTEGER NOT NULL REFERENCES filesets (id),
            client_name     TEXT,
            start_time      INTEGER NOT NULL,
            start_time_ns   INTEGER NOT NULL,
            end_time        INTEGER,
            end_time_ns     INTEGER,
            since_time      INTEGER,
            since_time_ns   INTEGER,
            files_examined  INTEGER NOT NULL DEFAULT 0,
            files_stored    INTEGER NOT NULL DEFAULT 0,
            files_skipped   INTEGER NOT NULL DEFAULT 0,
            files_failed    INTEGER NOT NULL DEFAULT 0,
            entries_stored  INTEGER NOT NULL DEFAULT 0,
            bytes_read      INTEGER NOT NULL DEFAULT 0,
            bytes_stored    INTEGER NOT NULL DEFAULT 0,
            errors          INTEGER NOT NULL DEFAULT 0,
            warnings        INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_name ON jobs (name, start_time);
        CREATE INDEX jobs_fileset ON jobs (fileset_id);

        CREATE TABLE volumes (
            id              INTEGER PRIMARY KEY,
            job_id          INTEGER NOT NULL REFERENCES jobs (id),
            name            TEXT NOT NULL,
            path            TEXT NOT NULL,
            sequence        INTEGER NOT NULL,
            bytes           INTEGER NOT NULL DEFAULT 0,
            status          TEXT NOT NULL,
            UNIQUE (job_id, sequence)
        );
        CREATE INDEX volumes_name ON volumes (name);

        CREATE TABLE files (
            id                  INTEGER PRIMARY KEY,
            job_id              INTEGER NOT NULL REFERENCES jobs (id),
            file_index          INTEGER NOT NULL,
            path                BLOB NOT NULL,
            type                TEXT NOT NULL,
            status              TEXT NOT NULL,
            mode                INTEGER NOT NULL,
            uid                 INTEGER NOT NULL,
            gid                 INTEGER NOT NULL,
            user_name           TEXT,
            group_name          TEXT,
            size                INTEGER NOT NULL,
            atime               INTEGER NOT NULL,
            atime_ns            INTEGER NOT NULL,
            mtime               INTEGER NOT NULL,
            mtime_ns            INTEGER NOT NULL,
            ctime               INTEGER NOT NULL,
            ctime_ns            INTEGER NOT NULL,
            inode               INTEGER NOT NULL,
            device              INTEGER NOT NULL,
            rdev                INTEGER NOT NULL,
            nlink               INTEGER NOT NULL,
            link_target         BLOB,
            source_sha256       BLOB,
            stored_sha256       BLOB,
            signature_algorithm TEXT,
            signature           BLOB,
            volume_id           INTEGER,
            header_offset       INTEGER,
            data_offset         INTEGER,
            stored_length       INTEGER,
            compression         TEXT,
            sparse              INTEGER NOT NULL DEFAULT 0,
            chain               TEXT NOT NULL DEFAULT '[]',
            stage_metadata      TEXT NOT NULL DEFAULT '{}',
            block               INTEGER,
            error               TEXT,
            UNIQUE (job_id, file_index)
        );
        CREATE INDEX files_job_path ON files (job_id, path);
        CREATE INDEX files_path ON files (path);

        CREATE TABLE job_messages (
            id              INTEGER PRIMARY KEY,
            job_id          INTEGER NOT NULL REFERENCES jobs (id),
            time            INTEGER NOT NULL,
            time_ns         INTEGER NOT NULL,
            severity        TEXT NOT NULL,
            stage           TEXT,
            path            BLOB,
            text            TEXT NOT NULL
        );
        CREATE INDEX job_messages_job ON job_messages (job_id, id);
        """

    /// The search index of the `index` stage: text stored once per distinct source SHA-256 (`search_content`), a
    /// full-text index over it (`search_text`, FTS5 with `search_content` as its external content, kept in step by
    /// triggers), and one row per indexed file version (`search_files`, keyed like `files`).
    private static let version2 = searchContentSQL + "\n" + searchTextFTS5SQL + "\n" + searchFilesSQL

    static let searchContentSQL = """
        CREATE TABLE search_content (
            id              INTEGER PRIMARY KEY,
            sha256          BLOB NOT NULL UNIQUE,
            mime            TEXT NOT NULL,
            encoding        TEXT,
            text            TEXT,
            truncated       INTEGER NOT NULL DEFAULT 0,
            note            TEXT
        );
        """

    private static let searchTextFTS5SQL = """
        CREATE VIRTUAL TABLE search_text USING fts5 (
            text, content = 'search_content', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER search_content_insert AFTER INSERT ON search_content WHEN new.text IS NOT NULL BEGIN
            INSERT INTO search_text (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER search_content_delete AFTER DELETE ON search_content WHEN old.text IS NOT NULL BEGIN
            INSERT INTO search_text (search_text, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """

    static let searchFilesSQL = """
        CREATE TABLE search_files (
            job_id          INTEGER NOT NULL REFERENCES jobs (id),
            file_index      INTEGER NOT NULL,
            path            BLOB NOT NULL,
            sha256          BLOB,
            content_id      INTEGER REFERENCES search_content (id),
            mime            TEXT NOT NULL,
            encoding        TEXT,
            note            TEXT,
            PRIMARY KEY (job_id, file_index)
        );
        CREATE INDEX search_files_content ON search_files (content_id);
        CREATE INDEX search_files_mime ON search_files (mime);
        CREATE INDEX search_files_pending ON search_files (sha256) WHERE note = 'text pending';
        """

    /// Job data: what stages record with a job at its start (`StageContext.recordJobData`), e.g. the `gpg`
    /// stage's job keys (encrypted), read back at restore. Also in every volume's label, so `scan` rebuilds it.
    static let version3 = """
        CREATE TABLE job_data (
            job_id          INTEGER NOT NULL REFERENCES jobs (id),
            key             TEXT NOT NULL,
            value           BLOB NOT NULL,
            PRIMARY KEY (job_id, key)
        );
        """

    /// Reliability (issue 14): `jobs.chain_jobs` names the jobs a backup's restore chain needed when it started
    /// (JobIds separated by spaces; NULL for jobs recorded before, whose volumes do not say), so a restore can
    /// name the jobs a partial `scan` left out. Volumes are recorded `open` before the first byte is written
    /// (`writing` was the old name of that state).
    static let version4 = """
        ALTER TABLE jobs ADD COLUMN chain_jobs TEXT;
        UPDATE volumes SET status = 'open' WHERE status = 'writing';
        """

    /// Restore and verify runs are jobs too (`jobs.type` `R` / `V`, as Bareos' JobType letters; backups `B`): where a
    /// restore wrote (`--where`) and the backup job it restored or verified.
    static let version5 = """
        ALTER TABLE jobs ADD COLUMN where_dir TEXT;
        ALTER TABLE jobs ADD COLUMN restored_job_id INTEGER;
        """
}
