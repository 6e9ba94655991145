/// What an existing catalog's row under a scanned job's JobId is to the scan
/// (``DatabaseCatalog/scanPlace(of:name:start:client:)``).
public enum ScanPlace: Sendable, Equatable {
    /// No row has that JobId: the job is added.
    case absent
    /// The same job (same name, start time and client) did not finish (`R`, `f`, `A`): its rows are replaced.
    case unfinished(JobRecord)
    /// The same job finished (`T`, `W`): it is refused, or skipped when asked.
    case finished(JobRecord)
    /// Another job has that JobId (volumes of another catalog): another name, start time or client.
    case foreign(JobRecord)
}
