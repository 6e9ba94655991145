import Pipeline

extension BackupJob {
    /// Runs the job, then closes the catalog connection it owned. Tests give each job its own connection to
    /// the catalog file (the job owns it while it runs) and read the results through theirs.
    public func runClosingCatalog() throws -> JobSummary {
        defer { try? releaseCatalog(as: SQLiteCatalog.self)?.close() }
        return try run()
    }
}
