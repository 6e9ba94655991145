/// The catalog schema on PostgreSQL: the steps of ``CatalogSchema/migrations`` with the same version numbers,
/// translated from SQLite's types into PostgreSQL's (`BIGINT` for SQLite's 64-bit `INTEGER`, `BYTEA` for `BLOB`,
/// `BIGSERIAL` ids whose sequences never reuse a number, like `AUTOINCREMENT`), so both drivers have the same
/// tables, columns, keys and indexes from one text.
///
/// SQLite keeps the version in `PRAGMA user_version` and marks its file with `PRAGMA application_id`; a database
/// has neither, so the table `catalog_meta` holds both (`schema_version`, `application_id`). The full-text index is
/// a `tsvector` column computed from `search_content.text` with a GIN index, in place of SQLite's FTS5 table and
/// its triggers.
extension CatalogSchema {
    static let postgreSQLMigrations: [CatalogMigration] = [
        CatalogMigration(
            version: 1,
            sql: """
                CREATE TABLE catalog_meta (
                    key             TEXT PRIMARY KEY,
                    value           TEXT NOT NULL
                );
                INSERT INTO catalog_meta (key, value) VALUES ('application_id', '\(applicationID)');
                """ + postgreSQL(version1.replacing("PRAGMA application_id = \(applicationID);", with: ""))),
        CatalogMigration(
            version: 2,
            sql: postgreSQL(searchContentSQL) + """

                -- The `simple` configuration: words as written, lower-cased, like FTS5's unicode61 tokenizer.
                ALTER TABLE search_content ADD COLUMN search_text tsvector
                    GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED;
                CREATE INDEX search_content_text ON search_content USING gin (search_text);

                """ + postgreSQL(searchFilesSQL)),
        CatalogMigration(version: 3, sql: postgreSQL(version3)),
        CatalogMigration(version: 4, sql: version4),
        CatalogMigration(version: 5, sql: postgreSQL(version5)),
    ]

    /// SQLite's column types in a step's SQL replaced by PostgreSQL's.
    private static func postgreSQL(_ sql: String) -> String {
        sql.replacing("INTEGER PRIMARY KEY AUTOINCREMENT", with: "BIGSERIAL PRIMARY KEY")
            .replacing("INTEGER PRIMARY KEY", with: "BIGSERIAL PRIMARY KEY")
            .replacing("INTEGER", with: "BIGINT")
            .replacing("BLOB", with: "BYTEA")
    }
}
